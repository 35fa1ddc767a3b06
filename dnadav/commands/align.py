"""``dnadav align``: fine-tune the prior toward an oracle with DAV (variational EM), resumably."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from dnadav import defaults
from dnadav.commands.lightning_options import add_lightning_arguments, lightning_options
from dnadav.errors import InputError

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("align", help="align the diffusion prior to an oracle with DAV (resumable)")
    parser.add_argument("--oracle", default=defaults.ORACLE, help="oracle name (hepg2, k562, gm12878, hesc) or folder")
    parser.add_argument("--prior", default="dhs", help="prior to start from: 'dhs' (shipped) or a model folder")
    parser.add_argument("--out", required=True, type=Path, help="run folder (resumed if it holds a checkpoint)")
    parser.add_argument("--iterations", type=int, default=defaults.ALIGN_ITERATIONS, help="EM iterations K")
    parser.add_argument("--sequences", type=int, default=64, help="E-step sequences B per iteration")
    parser.add_argument(
        "--children", type=int, default=defaults.NUM_CHILDREN, metavar="M", help="candidates M per sequence per step"
    )
    parser.add_argument("--steps", type=int, default=defaults.SEARCH_STEPS, help="reverse steps T in the E-step")
    parser.add_argument(
        "--temperature", type=float, default=defaults.REWARD_TEMPERATURE, help="reward temperature α (inf = no tilt)"
    )
    parser.add_argument("--discount", type=float, default=1.0, help="value discount γ per remaining step")
    parser.add_argument("--value", choices=["argmax", "sample"], default="argmax", help="soft value estimate")
    parser.add_argument("--value-samples", type=int, default=1, help="K x0 samples for --value sample")
    parser.add_argument("--search-mode", choices=["per_sequence", "smc"], default="per_sequence", help="E-step variant")
    parser.add_argument("--kl-weight", type=float, default=0.0, help="λ of DAV-KL (KL to the frozen prior)")
    parser.add_argument("--objective", choices=["transitions", "nelbo"], default="transitions", help="M-step loss")
    parser.add_argument("--inner-epochs", type=int, default=2, help="M-step passes per iteration")
    parser.add_argument("--batch-size", type=int, default=128, help="transitions per M-step batch")
    parser.add_argument("--lr", type=float, default=1e-3, help="learning rate of the M-step")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    add_lightning_arguments(parser)
    parser.add_argument("--force", action="store_true", help="start afresh even if --out holds a run")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from dnadav.align.distill import DistillConfig
    from dnadav.align.run import align
    from dnadav.align.search import SearchConfig
    from dnadav.align.trainer import AlignConfig

    if (args.out / "model.pt").exists() and not args.force:
        raise InputError(f"{args.out}: already holds a finished run (model.pt); pass --force to start again")
    if not args.temperature > 0 or math.isnan(args.temperature):
        raise InputError(f"--temperature must be > 0 (inf = no tilt); got {args.temperature}")
    try:
        search = SearchConfig(
            num_children=args.children,
            reward_temperature=args.temperature,
            discount=args.discount,
            num_steps=args.steps,
            value=args.value,
            num_value_samples=args.value_samples,
            mode=args.search_mode,
        )
        distill = DistillConfig(objective=args.objective, kl_weight=args.kl_weight)
    except ValueError as error:
        raise InputError(str(error)) from None
    config = AlignConfig(
        oracle=args.oracle,
        prior=args.prior,
        iterations=args.iterations,
        sequences_per_iteration=args.sequences,
        search=search,
        distill=distill,
        inner_epochs=args.inner_epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
    )
    summary = align(
        config,
        args.out,
        **lightning_options(args),
        resume=not args.force,
        progress=not args.quiet,
    )
    if summary:
        print(json.dumps(summary, indent=2))
    return 0
