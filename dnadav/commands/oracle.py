"""``dnadav oracle``: train, inspect and apply oracles.

``info`` and ``score`` name the oracle the same way (``--oracle NAME``, default ``hepg2``; ``info``
also takes it as its positional argument) with the same ``--role`` default (``eval``, as
``dnadav.load_oracle``), and both load it through ``dnadav.oracles.registry.load_oracle``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dnadav import defaults
from dnadav.commands.lightning_options import add_lightning_arguments, lightning_options
from dnadav.errors import InputError
from dnadav.jobs.options import check_number

__all__ = ["add_parser", "run"]


_ORACLE_HELP = (
    "shipped name (gm12878, hepg2, hesc, k562: the DHS classifier scored for that cell type) or a checkpoint "
    "folder: FOLDER or FOLDER:TARGET, a pair folder with reward/ and eval/, DRAKES's oracle folder or a .ckpt"
)
_ROLE_HELP = (
    "eval: the held-out oracle designs are judged by (shipped: oracles/dhs_eval, trained on chr10-chr22, X, Y); "
    "reward: the one alignment optimises (oracles/dhs_reward, chr3-chr9); a single checkpoint folder serves both"
)


def _add_oracle_arguments(parser: argparse.ArgumentParser) -> None:
    """``--oracle`` and ``--role``: the same names and defaults for every verb that loads an oracle."""
    parser.add_argument("--oracle", default=None, metavar="NAME", help=f"{_ORACLE_HELP} (default: {defaults.ORACLE})")
    parser.add_argument("--role", choices=["reward", "eval"], default="eval", help=_ROLE_HELP)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("oracle", help="train, inspect or apply reward / evaluation oracles")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    train = verbs.add_parser(
        "train",
        help="train an oracle: the DHS cell-type classifier, a Gosai MPRA regressor, or one on your own labelled file",
        description="Train a reward or evaluation oracle (Lightning). On your own file (--data FILE --target COLUMN): held-out "
        "rows from its split or chromosome column (else a seeded stratified 10%/10% split), and --role reward / eval "
        "train on two disjoint halves of the train rows. See docs/byod.md.",
    )
    train.add_argument(
        "--data",
        default="dhs",
        help="dhs: the shipped DHS set (classifier); gosai: an imported Gosai MPRA table (regressor, needs --table); "
        "or a FASTA / CSV / TSV (.gz allowed) / HDF5 file of your own sequences with label columns (or --labels)",
    )
    train.add_argument(
        "--table",
        default=None,
        help="--data gosai: gosai.h5 from `dnadav data import-gosai` (default: ~/.cache/dnadav/gosai/gosai.h5)",
    )
    train.add_argument(
        "--labels",
        default=None,
        help="--data FILE: a CSV / TSV of labels joined on the record ids (id column + label columns; "
        "default: the file's own columns or FASTA header key=value pairs)",
    )
    train.add_argument(
        "--target",
        default=None,
        help="default scored class / column: HepG2, K562, GM12878 or hESC (dhs; default HepG2); "
        "hepg2, k562 or sknsh (gosai; default hepg2); --data FILE: the label column to learn (required; "
        "several comma-separated columns = one regression output each, the first scored)",
    )
    train.add_argument(
        "--task",
        choices=["regression", "classification"],
        default=None,
        help="--data FILE: default from the label column: text labels or only 0/1 -> classification, other numbers -> regression",
    )
    train.add_argument(
        "--role",
        choices=["reward", "eval"],
        default="reward",
        help="reward: chr3-chr9 (dhs) / chr1-chr11 (gosai) / the first half of a file's train rows; eval: chr10-chr22, X, Y "
        "(dhs) / chr12-chr22 (gosai) / the second half; disjoint, the DRAKES protocol",
    )
    train.add_argument(
        "--chromosomes",
        default=None,
        help="comma-separated training chromosomes (e.g. chr3,chr4), or 'all' (every train row), overriding --role's set; "
        "chr1 (test) and chr2 (valid) are refused for dhs",
    )
    train.add_argument(
        "--valid-fraction",
        type=float,
        default=0.1,
        help="--data FILE without a split or chromosome column: share of rows held out for validation",
    )
    train.add_argument(
        "--test-fraction",
        type=float,
        default=0.1,
        help="--data FILE without a split or chromosome column: share of rows held out for the test metrics",
    )
    train.add_argument(
        "--split-seed",
        type=int,
        default=0,
        help="--data FILE: seed of the held-out split and of the halves (keep it equal for a reward/eval pair) "
        "(default: %(default)s)",
    )
    train.add_argument("--channels", type=int, default=128, help="width (channels) of the oracle's CNN (≥ 1)")
    train.add_argument("--out", required=True, type=Path, help="output folder: model.pt, config.json, metrics.json, card.md")
    train.add_argument("--epochs", type=int, default=10, help="passes over the training rows (≥ 1)")
    train.add_argument("--batch-size", type=int, default=128, help="sequences per optimiser step (≥ 1)")
    train.add_argument("--lr", type=float, default=2e-3, help="AdamW learning rate (> 0)")
    train.add_argument(
        "--seed", type=int, default=0, help="seed of data order, background shuffles, initialisation (default: %(default)s)"
    )
    train.add_argument("--max-minutes", type=float, default=None, help="stop training after this many minutes of wall time")
    train.add_argument(
        "--max-rows", type=int, default=None, help="random subset of at most this many rows per split (smoke tests)"
    )
    add_lightning_arguments(train)
    train.add_argument("--force", action="store_true", help="overwrite an oracle already in --out")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    info = verbs.add_parser("info", help="print an oracle's outputs, scored target and held-out metrics")
    info.add_argument("name", nargs="?", default=None, metavar="NAME", help="the oracle, same as --oracle")
    _add_oracle_arguments(info)
    score = verbs.add_parser("score", help="score sequences: TSV of id, reward, probability on stdout")
    score.add_argument(
        "file", type=Path, help="FASTA / CSV / TSV / TXT (.gz allowed) or HDF5 file of A/C/G/T sequences of the oracle's length"
    )
    _add_oracle_arguments(score)
    parser.set_defaults(run=run)


def _check_train_options(args: argparse.Namespace) -> None:
    """One-line errors for numbers no training run can use."""
    check_number("--epochs", args.epochs, 1)
    check_number("--batch-size", args.batch_size, 1)
    check_number("--lr", args.lr, 0, strict=True)
    check_number("--max-minutes", args.max_minutes, 0, strict=True)
    check_number("--max-rows", args.max_rows, 1)
    check_number("--channels", args.channels, 1)
    for name in ("valid_fraction", "test_fraction"):
        value = getattr(args, name)
        if not (0 <= value < 1):
            raise InputError(f"--{name.replace('_', '-')} must be a fraction in [0, 1); got {value}")


def _train(args: argparse.Namespace) -> int:
    from dnadav.oracles.train import train_oracle
    from dnadav.oracles.train_options import oracle_train_config

    _check_train_options(args)
    config = oracle_train_config(
        data=args.data,
        out=args.out,
        force=args.force,
        role=args.role,
        table=args.table,
        labels=args.labels,
        target=args.target,
        task=args.task,
        chromosomes=args.chromosomes,
        valid_fraction=args.valid_fraction,
        test_fraction=args.test_fraction,
        split_seed=args.split_seed,
        channels=args.channels,
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


def _oracle_name(args: argparse.Namespace) -> str:
    """The oracle named by ``--oracle`` (or ``info``'s positional NAME), default ``defaults.ORACLE``."""
    given = getattr(args, "name", None)
    if given is not None and args.oracle is not None and given != args.oracle:
        raise InputError(f"two oracles named: {given!r} and --oracle {args.oracle!r}; give one")
    return given or args.oracle or defaults.ORACLE


def _number(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _info(name: str, role: str) -> int:
    from dnadav.io import read_json_object
    from dnadav.loaders import oracle_length
    from dnadav.oracles.registry import load_oracle, oracle_folder

    oracle = load_oracle(name, role=role)
    folder = oracle_folder(name, role=role)
    length = oracle_length(oracle)
    print(f"oracle {name} ({role}): {folder}")
    print(f"outputs: {', '.join(oracle.class_names)}; scored: {oracle.target}; trained on {length or 'unstated'} bp")
    metrics_file = folder / "metrics.json"
    if not metrics_file.is_file():
        print("no metrics.json beside the checkpoint")
        return 0
    metrics = read_json_object(metrics_file)
    for key in ("command", "train_rows", "train_minutes", "hardware", "model_bytes", "model_sha256"):
        if key in metrics:
            value = metrics[key]
            print(f"{key}: {value:.2f}" if isinstance(value, float) else f"{key}: {value}")
    test, valid = metrics.get("test") or {}, metrics.get("valid") or {}
    if isinstance(test, dict) and test:
        print("metric\tvalid\ttest")
        for key, value in test.items():
            print(f"{key}\t{_number(valid.get(key, float('nan')) if isinstance(valid, dict) else 'nan')}\t{_number(value)}")
    return 0


def _score(path: Path, name: str, role: str) -> int:
    import torch

    from dnadav.core.batching import default_max_batch
    from dnadav.data import read_sequences
    from dnadav.dna.tokens import strings_to_onehot
    from dnadav.loaders import oracle_length
    from dnadav.oracles.registry import load_oracle

    oracle = load_oracle(name, role=role)
    table = read_sequences(path, length=oracle_length(oracle))  # a bad record or length: one-line error
    step = default_max_batch("cpu") or len(table)
    sys.stdout.write("id\treward\tprobability\n")
    with torch.no_grad():
        for start in range(0, len(table), step):  # one chunk of one-hots at a time: bounded memory
            onehot = strings_to_onehot(table.sequences[start : start + step])
            reward, probability = oracle.reward(onehot).tolist(), oracle.probability(onehot).tolist()
            for record, r, p in zip(table.ids[start : start + step], reward, probability):
                sys.stdout.write(f"{record}\t{r:.4f}\t{p:.4f}\n")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.verb == "train":
        return _train(args)
    name = _oracle_name(args)
    if args.verb == "info":
        return _info(name, args.role)
    return _score(args.file, name, args.role)
