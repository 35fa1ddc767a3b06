"""``dnadav pretrain``: train the masked diffusion prior."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dnadav.commands.lightning_options import add_lightning_arguments, lightning_options

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("pretrain", help="train the masked diffusion prior (Lightning; resumable)")
    parser.add_argument(
        "--data",
        default="dhs",
        help="'dhs' (shipped DHS set), 'gosai' (the imported Gosai MPRA table, chromosome split) or a FASTA/CSV/TSV/HDF5 "
        "file of your own sequences, all of one length (held out: its split or chromosome column, else --valid-fraction)",
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
        "--ema-decay",
        type=float,
        default=0.999,
        help="decay of the weights' exponential moving average, with a warm-up (min(decay, (1+n)/(10+n)) at update n); "
        "0: no EMA. The saved weights are the EMA or the live ones, whichever scores better on the held-out rows",
    )
    parser.add_argument(
        "--valid-fraction",
        type=float,
        default=0.1,
        help="--data FILE without a split or chromosome column: seeded share of its rows held out (validation NELBO)",
    )
    parser.add_argument(
        "--split-seed", type=int, default=0, help="--data FILE: seed of that held-out split (default: %(default)s)"
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


def run(args: argparse.Namespace) -> int:
    from dnadav.jobs.pretrain import pretrain, pretrain_config

    config = pretrain_config(
        args.data,
        args.out,
        force=args.force,
        table=args.table,
        cell_type=args.cell_type,
        channels=args.channels,
        blocks=args.blocks,
        steps=args.steps,
        schedule=args.schedule,
        batch_size=args.batch_size,
        lr=args.lr,
        ema_decay=args.ema_decay,
        valid_fraction=args.valid_fraction,
        split_seed=args.split_seed,
        seed=args.seed,
        **lightning_options(args),
        precision=args.precision,
        max_minutes=args.max_minutes,
    )
    metrics = pretrain(config, args.out, resume=not args.force, progress=not args.quiet)
    if metrics:
        print(json.dumps(metrics, indent=2))
    return 0
