"""``dnadav oracle``: train, inspect and apply oracles."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dnadav.commands.lightning_options import add_lightning_arguments, lightning_options
from dnadav.errors import InputError

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("oracle", help="train, inspect or apply reward / evaluation oracles")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    train = verbs.add_parser("train", help="train a DHS cell-type oracle (Lightning)")
    train.add_argument("--data", default="dhs", choices=["dhs"], help="training data (the shipped DHS set)")
    train.add_argument(
        "--role",
        choices=["reward", "eval"],
        default="reward",
        help="reward: chr3-chr9; eval: chr10-chr22, X, Y (disjoint; DRAKES protocol)",
    )
    train.add_argument("--chromosomes", default=None, help="comma-separated chromosomes overriding --role's set")
    train.add_argument("--out", required=True, type=Path)
    train.add_argument("--epochs", type=int, default=10)
    train.add_argument("--batch-size", type=int, default=128)
    train.add_argument("--lr", type=float, default=2e-3)
    train.add_argument("--seed", type=int, default=0)
    add_lightning_arguments(train)
    train.add_argument("--force", action="store_true")
    train.add_argument("--quiet", action="store_true")
    info = verbs.add_parser("info", help="print an oracle's held-out metrics")
    info.add_argument("name", help="hepg2, k562, gm12878, hesc or a folder")
    info.add_argument("--role", choices=["reward", "eval"], default="reward")
    score = verbs.add_parser("score", help="score sequences: TSV of id, reward, probability on stdout")
    score.add_argument("file", type=Path, help="FASTA/CSV/TSV/HDF5 of sequences")
    score.add_argument("--oracle", default="hepg2")
    score.add_argument("--role", choices=["reward", "eval"], default="eval")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.verb == "train":
        from dnadav.oracles.train import EVAL_CHROMOSOMES, REWARD_CHROMOSOMES, OracleTrainConfig, train_oracle

        if (args.out / "model.pt").exists() and not args.force:
            raise InputError(f"{args.out}: already holds an oracle; pass --force to retrain")
        chromosomes = (
            tuple(args.chromosomes.split(","))
            if args.chromosomes
            else (REWARD_CHROMOSOMES if args.role == "reward" else EVAL_CHROMOSOMES)
        )
        if {"chr1", "chr2"} & set(chromosomes):
            raise InputError("--chromosomes must not include chr1 (test) or chr2 (valid)")
        config = OracleTrainConfig(
            role=args.role,
            chromosomes=chromosomes,
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            seed=args.seed,
            **lightning_options(args),
        )
        metrics = train_oracle(config, args.out, progress=not args.quiet)
        if metrics:
            print(json.dumps(metrics, indent=2))
        return 0
    from dnadav.oracles.registry import load_oracle

    if args.verb == "info":
        oracle = load_oracle(args.name, role=args.role)
        from dnadav.assets import asset_root

        key = args.name.lower()
        folder = (
            asset_root("oracles") / ("dhs_reward" if args.role == "reward" else "dhs_eval")
            if key in ("hepg2", "k562", "gm12878", "hesc")
            else Path(args.name.partition(":")[0])
        )
        metrics = folder / "metrics.json"
        print(f"oracle {args.name} ({args.role}): classes {', '.join(oracle.class_names)}; target {oracle.target}")
        if metrics.is_file():
            print(metrics.read_text())
        return 0
    import torch

    from dnadav.data import read_sequences
    from dnadav.seq import strings_to_onehot

    table = read_sequences(args.file)
    oracle = load_oracle(args.oracle, role=args.role)
    with torch.no_grad():
        onehot = strings_to_onehot(table.sequences)
        reward, probability = oracle.reward(onehot), oracle.probability(onehot)
    sys.stdout.write("id\treward\tprobability\n")
    for name, r, p in zip(table.ids, reward.tolist(), probability.tolist()):
        sys.stdout.write(f"{name}\t{r:.4f}\t{p:.4f}\n")
    return 0
