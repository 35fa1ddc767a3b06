"""``dnadav align``: fine-tune the prior toward an oracle or objective with DAV (variational EM), resumably."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dnadav.commands.lightning_options import add_lightning_arguments, lightning_options
from dnadav.commands.shared_options import (
    add_constraint_options,
    add_max_batch_option,
    check_number,
    constraint_spec,
    max_batch_value,
)
from dnadav.errors import InputError

__all__ = ["add_parser", "run"]

# option -> (AlignConfig path, type): defaults come from --preset, an option given on the line wins
_PRESET_OPTIONS = {
    "iterations": ("iterations", int),
    "sequences": ("sequences_per_iteration", int),
    "children": ("search.num_children", int),
    "steps": ("search.num_steps", int),
    "temperature": ("search.reward_temperature", float),
    "m_step": ("distill.objective", str),
    "skip_steps": ("distill.skip_steps", float),
    "lr": ("lr", float),
    "gradient_clip": ("gradient_clip", float),
    "eval_steps": ("eval_steps", int),
    "inner_epochs": ("inner_epochs", int),
    "batch_size": ("batch_size", int),
    "target_kl": ("target_kl", float),
    "pilot_sequences": ("pilot_sequences", int),
    "holdout": ("holdout_fraction", float),
    "patience": ("patience", int),
    "min_naturalness": ("min_naturalness", float),
    "stop_patience": ("stop_patience", int),
    "eval_sequences": ("eval_sequences", int),
}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from dnadav import defaults
    from dnadav.dna.presets import PRESETS

    parser = subparsers.add_parser(
        "align",
        help="align the diffusion prior to an oracle or objective with DAV (resumable)",
        description="Variational EM: each iteration searches with the current model (E-step) and distils the "
        "search's trajectories into it (M-step). Options marked 'preset' default to --preset's value.",
    )
    parser.add_argument("--oracle", default=defaults.ORACLE, help="oracle name (hepg2, k562, gm12878, hesc) or folder")
    parser.add_argument(
        "--objective", default=None, help='reward expression, e.g. "k562 - max(hepg2,gm12878,hesc)" (docs/objectives.md)'
    )
    parser.add_argument("--prior", default="dhs", help="prior to start from: 'dhs' (shipped) or a model folder")
    parser.add_argument("--out", required=True, type=Path, help="run folder (resumed if it holds a checkpoint)")
    parser.add_argument("--preset", choices=PRESETS, default="default", help="named setting (dav-paper: the paper's, for a GPU)")
    parser.add_argument("--iterations", type=int, default=None, help="EM iterations K (preset; default 3)")
    parser.add_argument("--sequences", type=int, default=None, help="E-step sequences B per iteration (preset; default 64)")
    parser.add_argument("--children", type=int, default=None, metavar="M", help="candidates M per sequence per step (preset; 16)")
    parser.add_argument("--steps", type=int, default=None, help="reverse steps T in the E-step (preset; default 25)")
    parser.add_argument(
        "--temperature", type=float, default=None, help="reward temperature α in nats (preset; 0.5; inf = no tilt)"
    )
    parser.add_argument("--discount", type=float, default=1.0, help="value discount γ per remaining step")
    parser.add_argument("--value", choices=["argmax", "sample"], default="argmax", help="soft value estimate")
    parser.add_argument("--value-samples", type=int, default=1, help="K x0 samples for --value sample")
    parser.add_argument("--search-mode", choices=["per_sequence", "smc"], default="per_sequence", help="E-step variant")
    parser.add_argument("--kl-weight", type=float, default=0.0, help="λ of DAV-KL (KL to the frozen prior, nats)")
    parser.add_argument(
        "--m-step",
        choices=["transitions", "nelbo", "paper", "children"],
        default=None,
        help="M-step loss (preset); children: all M children weighted by the search's selection weights",
    )
    parser.add_argument(
        "--target-kl", type=float, default=None, help="trust region: solve α per iteration for this selection KL (nats/path)"
    )
    parser.add_argument("--pilot-sequences", type=int, default=None, help="pilot search size for --target-kl (preset; 16)")
    parser.add_argument(
        "--holdout", type=float, default=None, help="fraction of E-step sequences held out to stop each M-step (preset)"
    )
    parser.add_argument("--patience", type=int, default=None, help="M-step passes without held-out gain before stopping")
    parser.add_argument(
        "--min-naturalness",
        type=float,
        default=None,
        help="keep the best iteration whose 3-mer correlation to the validation split (chr2) is ≥ this",
    )
    parser.add_argument("--stop-patience", type=int, default=None, help="iterations below the floor before stopping")
    parser.add_argument("--eval-sequences", type=int, default=None, help="plain samples logged per iteration (preset; 64)")
    parser.add_argument(
        "--skip-steps", type=float, default=None, help="--m-step paper: leading steps left out (count or fraction)"
    )
    parser.add_argument("--inner-epochs", type=int, default=None, help="M-step passes per iteration (preset; default 2)")
    parser.add_argument("--batch-size", type=int, default=None, help="transitions per M-step batch (preset; default 128)")
    parser.add_argument("--lr", type=float, default=None, help="learning rate of the M-step (preset; default 1e-3)")
    parser.add_argument(
        "--gradient-clip", type=float, default=None, help="max gradient norm of the M-step (preset; default none)"
    )
    parser.add_argument(
        "--eval-steps", type=int, default=None, help="steps of the plain samples logged per iteration (preset; 25)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument(
        "--keep-iterations",
        action="store_true",
        help="also save each iteration's model to OUT/iterations/iteration-K/ (to design from any of them)",
    )
    add_constraint_options(parser, "hard constraints (enforced on every E-step path and logged sample)")
    add_max_batch_option(parser)
    add_lightning_arguments(parser)
    parser.add_argument("--force", action="store_true", help="start afresh even if --out holds a run")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def config_from_args(args: argparse.Namespace):
    """The ``AlignConfig`` of parsed ``dnadav align`` options (preset first, given options over it)."""
    import dataclasses

    from dnadav.dna.presets import preset

    whole = (
        "iterations",
        "sequences",
        "children",
        "steps",
        "eval_steps",
        "inner_epochs",
        "batch_size",
        "value_samples",
        "pilot_sequences",
        "patience",
        "stop_patience",
        "eval_sequences",
    )
    for name in whole:  # counts: ≥ 1
        check_number(f"--{name.replace('_', '-')}", getattr(args, name), 1)
    for name in ("kl_weight", "skip_steps"):  # ≥ 0
        check_number(f"--{name.replace('_', '-')}", getattr(args, name), 0)
    for name in ("lr", "gradient_clip", "discount", "target_kl", "holdout"):  # finite and > 0
        check_number(f"--{name.replace('_', '-')}", getattr(args, name), 0, strict=True)
    check_number("--temperature", args.temperature, 0, strict=True, allow_inf=True)
    if args.holdout is not None and not args.holdout < 1:
        raise InputError(f"--holdout must be a fraction below 1; got {args.holdout}")
    if args.min_naturalness is not None and not -1 <= args.min_naturalness <= 1:
        raise InputError(f"--min-naturalness is a correlation in [-1, 1]; got {args.min_naturalness}")
    config = preset(args.preset)
    search, distill = config.search, config.distill
    top: dict = {}
    for option, (path, _) in _PRESET_OPTIONS.items():
        value = getattr(args, option)
        if value is None:
            continue
        where, _, name = path.rpartition(".")
        if where == "search":
            search = dataclasses.replace(search, **{name: value})
        elif where == "distill":
            distill = dataclasses.replace(distill, **{name: value})
        else:
            top[name] = value
    spec = constraint_spec(args)
    try:
        search = dataclasses.replace(
            search,
            discount=args.discount,
            value=args.value,
            num_value_samples=args.value_samples,
            mode=args.search_mode,
            record_clean=distill.objective == "paper",
            record_children=distill.objective == "children",
        )
        distill = dataclasses.replace(distill, kl_weight=args.kl_weight)
    except ValueError as error:
        raise InputError(str(error)) from None
    return dataclasses.replace(
        config,
        oracle=args.oracle,
        prior=args.prior,
        search=search,
        distill=distill,
        seed=args.seed,
        objective=args.objective,
        constraints=None if spec.empty else spec.as_dict(),
        **top,
    )


def run(args: argparse.Namespace) -> int:
    from dnadav.jobs.align import align

    if (args.out / "model.pt").exists() and not args.force:
        raise InputError(f"{args.out}: already holds a finished run (model.pt); pass --force to start again")
    config = config_from_args(args)
    summary = align(
        config,
        args.out,
        max_batch=max_batch_value(args.max_batch),
        keep_iterations=args.keep_iterations,
        **lightning_options(args),
        resume=not args.force,
        progress=not args.quiet,
    )
    if summary:
        print(json.dumps(summary, indent=2))
    return 0
