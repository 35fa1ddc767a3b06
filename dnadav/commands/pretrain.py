"""``dnadav pretrain``: train the masked diffusion prior."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dnadav.commands.lightning_options import add_lightning_arguments, lightning_options
from dnadav.diffusion.backbone import ConvDenoiserConfig
from dnadav.errors import InputError

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("pretrain", help="train the masked diffusion prior (Lightning; resumable)")
    parser.add_argument(
        "--data",
        default="dhs",
        help="'dhs' (shipped DHS set), 'gosai' (the imported Gosai MPRA table, chromosome split) or a FASTA/CSV/TSV/HDF5 file",
    )
    parser.add_argument(
        "--table", default=None, help="--data gosai: gosai.h5 from `dnadav data import-gosai` (default: its default folder)"
    )
    parser.add_argument("--cell-type", default=None, help="restrict DHS to one cell type (default: all four)")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--steps", type=int, default=20000, help="optimiser steps (default 20000)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--channels", type=int, default=96)
    parser.add_argument("--blocks", type=int, default=8)
    parser.add_argument("--schedule", choices=["loglinear", "cosine"], default="loglinear")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", default="32-true", help="Lightning precision, e.g. bf16-mixed on GPU")
    parser.add_argument("--max-minutes", type=float, default=None, help="stop after this wall time")
    add_lightning_arguments(parser)
    parser.add_argument("--force", action="store_true", help="start afresh even if --out has a checkpoint")
    parser.add_argument("--quiet", action="store_true")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from dnadav.diffusion.pretrain import PretrainConfig, pretrain

    if (args.out / "model.pt").exists() and not args.force:
        raise InputError(f"{args.out}: already holds a trained model.pt; pass --force to retrain")
    table = None
    if args.data == "gosai":
        from dnadav.data.gosai import default_gosai_table

        table = args.table or str(default_gosai_table())
    elif args.data != "dhs" and not Path(args.data).exists():
        raise InputError(f"{args.data}: no such file (use 'dhs' for the shipped DHS set or 'gosai' for the imported table)")
    config = PretrainConfig(
        data=args.data,
        table=table,
        cell_type=args.cell_type,
        backbone=ConvDenoiserConfig(channels=args.channels, num_blocks=args.blocks),
        schedule=args.schedule,
        max_steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        **lightning_options(args),
        precision=args.precision,
        max_minutes=args.max_minutes,
    )
    metrics = pretrain(config, args.out, resume=not args.force, progress=not args.quiet)
    if metrics:
        print(json.dumps(metrics, indent=2))
    return 0
