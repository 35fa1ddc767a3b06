"""``dnadav design``: the main job — write scored designs for an oracle to FASTA (+ manifest)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from dnadav import defaults
from dnadav.commands.shared_options import add_constraint_options, add_max_batch_option, constraint_spec, max_batch_value

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "design",
        help="design sequences for an oracle and write scored FASTA",
        description="Sample the aligned model for --oracle (optionally with the DAV E-step search at test time, "
        "--children M) and score every design with the reward and the held-out evaluation oracle.",
    )
    parser.add_argument("--oracle", default=defaults.ORACLE, help="oracle name (hepg2, k562, gm12878, hesc) or folder")
    parser.add_argument("--n", type=int, default=128, help="number of sequences")
    parser.add_argument("--length", type=int, default=None, help="sequence length in bp (default: the model's training length)")
    parser.add_argument("--out", required=True, type=Path, help="output FASTA; <out>.manifest.json is written beside it")
    parser.add_argument("--model", default=None, help="model name or folder (default: the shipped aligned model for --oracle)")
    parser.add_argument("--steps", type=int, default=defaults.DESIGN_STEPS, help="reverse diffusion steps T")
    parser.add_argument(
        "--children",
        type=int,
        default=0,
        metavar="M",
        help="DAV posterior: run the E-step search with M candidates per sequence per step (0: plain sampling)",
    )
    parser.add_argument(
        "--temperature", type=float, default=defaults.REWARD_TEMPERATURE, help="reward temperature α (with --children)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (bit-reproducible)")
    parser.add_argument(
        "--objective", default=None, help='reward expression, e.g. "k562 - max(hepg2,gm12878,hesc)" (docs/objectives.md)'
    )
    add_constraint_options(parser)
    add_max_batch_option(parser)
    parser.add_argument(
        "--precision",
        choices=["fp32", "bf16"],
        default="fp32",
        help="denoiser arithmetic: fp32 (bit-reproducible) or bf16 autocast (about 2x faster on CPUs with bf16; other sequences)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite --out and its manifest")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or notices")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from dnadav.api import design
    from dnadav.io import check_writable
    from dnadav.jobs.design import _check_settings, default_model_for
    from dnadav.loaders import load_oracle

    _check_settings(args.n, args.steps, args.children, args.temperature)  # fail before any work
    constraints = constraint_spec(args)
    max_batch = max_batch_value(args.max_batch)
    out = check_writable(args.out, args.force)
    check_writable(out.with_name(out.name + ".manifest.json"), args.force)
    started = time.perf_counter()
    load_oracle(args.oracle, role="reward")  # a bad --oracle fails here, before notices and progress bars
    if args.model is None and not default_model_for(args.oracle)[1] and not args.quiet:
        print(
            f"dnadav design: notice: no aligned model is shipped for oracle {args.oracle!r}; sampling the "
            "pretrained prior (run `dnadav align --oracle ...` and pass --model)",
            file=sys.stderr,
        )
    designs = design(
        args.oracle,
        args.n,
        length=args.length,
        model=args.model,
        steps=args.steps,
        children=args.children,
        temperature=args.temperature,
        seed=args.seed,
        progress=not args.quiet,
        constraints=constraints,
        objective=args.objective,
        max_batch=max_batch,
        precision=args.precision,
    )
    designs.to_fasta(out, force=args.force)
    if not args.quiet:
        summary = designs.summary()
        print(
            f"dnadav design: wrote {len(designs)} sequences to {out} in {time.perf_counter() - started:.1f} s "
            f"(median reward {summary['reward_median']:.2f}, median Pred-Activity {summary['pred_activity_median']:.2f}, "
            f"eval-accessible {summary['accessibility_accuracy']:.0%})",
            file=sys.stderr,
        )
    return 0
