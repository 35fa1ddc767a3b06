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
    train = verbs.add_parser("train", help="train a DHS cell-type classifier or a Gosai MPRA regressor (Lightning)")
    train.add_argument(
        "--data",
        default="dhs",
        choices=["dhs", "gosai"],
        help="dhs: the shipped DHS set (classifier); gosai: an imported Gosai MPRA table (regressor, needs --table)",
    )
    train.add_argument(
        "--table",
        default=None,
        help="--data gosai: gosai.h5 from `dnadav data import-gosai` (default: its default output folder)",
    )
    train.add_argument("--target", default=None, help="default scored class / column (HepG2 for dhs, hepg2 for gosai)")
    train.add_argument(
        "--role",
        choices=["reward", "eval"],
        default="reward",
        help="reward: chr3-chr9 (dhs) / chr1-chr11 (gosai); eval: chr10-chr22, X, Y (dhs) / chr12-chr22 (gosai); "
        "disjoint, the DRAKES protocol",
    )
    train.add_argument(
        "--chromosomes",
        default=None,
        help="comma-separated training chromosomes, or 'all', overriding --role's set",
    )
    train.add_argument("--out", required=True, type=Path)
    train.add_argument("--epochs", type=int, default=10)
    train.add_argument("--batch-size", type=int, default=128)
    train.add_argument("--lr", type=float, default=2e-3)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--max-minutes", type=float, default=None, help="stop training after this many minutes")
    train.add_argument("--max-rows", type=int, default=None, help="random subset of each split (smoke tests only)")
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
        from dnadav.oracles.train import EVAL_CHROMOSOMES, REWARD_CHROMOSOMES, OracleTrainConfig, gosai_chromosomes, train_oracle

        if (args.out / "model.pt").exists() and not args.force:
            raise InputError(f"{args.out}: already holds an oracle; pass --force to retrain")
        chromosomes: tuple[str, ...] | None
        if args.chromosomes == "all":
            chromosomes = None
        elif args.chromosomes:
            chromosomes = tuple(c.strip() for c in args.chromosomes.split(",") if c.strip())
        elif args.data == "dhs":
            chromosomes = REWARD_CHROMOSOMES if args.role == "reward" else EVAL_CHROMOSOMES
        else:
            chromosomes = gosai_chromosomes(args.role)
        if args.data == "dhs" and {"chr1", "chr2"} & set(chromosomes or ()):
            raise InputError("--chromosomes must not include chr1 (test) or chr2 (valid)")
        table = args.table
        if args.data == "gosai" and table is None:
            from dnadav.data.gosai import default_gosai_table

            table = str(default_gosai_table())
        config = OracleTrainConfig(
            role=args.role,
            data=args.data,
            table=table,
            target=args.target,
            chromosomes=chromosomes,
            max_minutes=args.max_minutes,
            max_rows=args.max_rows,
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
    from dnadav.oracles.registry import load_oracle, oracle_folder

    if args.verb == "info":
        oracle = load_oracle(args.name, role=args.role)
        folder = oracle_folder(args.name, role=args.role)
        print(f"oracle {args.name} ({args.role}): {folder}")
        print(f"outputs: {', '.join(oracle.class_names)}; scored: {oracle.target}")
        metrics_file = folder / "metrics.json"
        if not metrics_file.is_file():
            print("no metrics.json beside the checkpoint")
            return 0
        metrics = json.loads(metrics_file.read_text())
        for key in ("command", "train_rows", "train_minutes", "hardware", "model_bytes", "model_sha256"):
            if key in metrics:
                value = metrics[key]
                print(f"{key}: {value:.2f}" if isinstance(value, float) else f"{key}: {value}")
        print("metric\tvalid\ttest")
        for key, value in metrics.get("test", {}).items():
            valid = metrics.get("valid", {}).get(key, float("nan"))
            print(f"{key}\t{valid:.4g}\t{value:.4g}" if key != "n" else f"n\t{valid}\t{value}")
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
