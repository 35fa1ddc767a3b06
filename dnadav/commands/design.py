"""``dnadav design``: the main job — write scored designs for an oracle to FASTA (+ manifest)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from dnadav.commands.options import add_arguments, from_namespace
from dnadav.jobs.design import DesignOptions

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "design",
        help="design sequences for an oracle and write scored FASTA",
        description="Sample the aligned model for --oracle (optionally with the DAV E-step search at test time, "
        "--children M, or with adaptive steps, --adaptive NATS) and score every design with the reward and the "
        "held-out evaluation oracle.",
    )
    add_arguments(parser, DesignOptions)
    parser.add_argument("--out", required=True, type=Path, help="output FASTA; <out>.manifest.json is written beside it")
    parser.add_argument("--force", action="store_true", help="overwrite --out and its manifest")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or notices")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from dnadav.io import check_writable
    from dnadav.jobs.design import default_model_for
    from dnadav.jobs.design_outputs import run_designs
    from dnadav.loaders import load_oracle

    options = from_namespace(DesignOptions, args)  # fails before any work
    out = check_writable(args.out, args.force)
    check_writable(out.with_name(out.name + ".manifest.json"), args.force)
    started = time.perf_counter()
    load_oracle(options.oracle, role="reward")  # a bad --oracle fails here, before notices and progress bars
    if options.model is None and not default_model_for(options.oracle)[1] and not args.quiet:
        print(
            f"dnadav design: notice: no aligned model is shipped for oracle {options.oracle!r}; sampling the "
            "pretrained prior (run `dnadav align --oracle ...` and pass --model)",
            file=sys.stderr,
        )
    designs = run_designs(options, progress=not args.quiet)
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
