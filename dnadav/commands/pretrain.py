"""``dnadav pretrain``: train the masked diffusion prior."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dnadav.commands.lightning_options import add_lightning_arguments, lightning_options
from dnadav.dna.backbone import ConvDenoiserConfig
from dnadav.errors import InputError
from dnadav.jobs.options import check_number

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("pretrain", help="train the masked diffusion prior (Lightning; resumable)")
    parser.add_argument(
        "--data",
        default="dhs",
        help="'dhs' (shipped DHS set), 'gosai' (the imported Gosai MPRA table, chromosome split) or a FASTA/CSV/TSV/HDF5 file",
    )
    parser.add_argument(
        "--table",
        default=None,
        help="--data gosai: gosai.h5 from `dnadav data import-gosai` (default: ~/.cache/dnadav/gosai/gosai.h5)",
    )
    parser.add_argument(
        "--cell-type",
        default=None,
        help="--data dhs: train on one cell type's DHS only: HepG2, K562, GM12878 or hESC (default: all four)",
    )
    parser.add_argument(
        "--out", required=True, type=Path, help="output folder: model.pt, config.json, metrics.json, checkpoints/, logs/"
    )
    parser.add_argument("--steps", type=int, default=20000, help="optimiser steps (≥ 1)")
    parser.add_argument("--batch-size", type=int, default=256, help="sequences per optimiser step (≥ 1)")
    parser.add_argument("--lr", type=float, default=2e-3, help="AdamW learning rate (> 0)")
    parser.add_argument("--channels", type=int, default=96, help="width (channels) of the convolutional denoiser (≥ 1)")
    parser.add_argument("--blocks", type=int, default=8, help="residual dilated-convolution blocks of the denoiser (≥ 1)")
    parser.add_argument(
        "--schedule",
        choices=["loglinear", "cosine"],
        default="loglinear",
        help="masking schedule alpha_t (share of unmasked positions at time t ∈ [0, 1]); stored in the checkpoint",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of initialisation, data order and masking (default: %(default)s)"
    )
    parser.add_argument("--precision", default="32-true", help="Lightning precision: 32-true, bf16-mixed (GPU) or 16-mixed (GPU)")
    parser.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="stop after this many minutes of wall time (resume later with the same --out)",
    )
    add_lightning_arguments(parser)
    parser.add_argument("--force", action="store_true", help="start afresh even if --out has a checkpoint")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def _check_options(args: argparse.Namespace) -> None:
    """One-line errors for numbers no training run can use."""
    for name in ("steps", "batch_size", "channels", "blocks"):
        check_number(f"--{name.replace('_', '-')}", getattr(args, name), 1)
    check_number("--lr", args.lr, 0, strict=True)
    if args.cell_type is not None:
        from dnadav.data.dhs import CELL_TYPES

        if args.data != "dhs":
            raise InputError(f"--cell-type applies to --data dhs only; got --data {args.data}")
        if args.cell_type not in CELL_TYPES:
            raise InputError(f"--cell-type must be one of {', '.join(CELL_TYPES)}; got {args.cell_type!r}")
    check_number("--max-minutes", args.max_minutes, 0, strict=True)


def run(args: argparse.Namespace) -> int:
    from dnadav.jobs.pretrain import PretrainConfig, pretrain

    _check_options(args)
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
