"""``dnadav data``: import the Gosai MPRA table; describe a data set or file."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="import the Gosai MPRA table or describe data")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    gosai = verbs.add_parser("import-gosai", help="validate and import the Gosai et al. dataset.csv (DRAKES bundle)")
    gosai.add_argument("source", type=Path, help="dataset.csv with columns seq, hepg2, k562, sknsh, chrom")
    gosai.add_argument("--out", type=Path, default=Path.home() / ".cache" / "dnadav" / "gosai", help="destination folder")
    gosai.add_argument("--force", action="store_true")
    info = verbs.add_parser("info", help="counts for 'dhs' or a sequence file")
    info.add_argument("name", help="'dhs' or a FASTA/CSV/TSV/HDF5 file")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.verb == "import-gosai":
        from dnadav.data.gosai import import_gosai

        target = import_gosai(args.source, args.out, force=args.force)
        print(f"imported {args.source} -> {target}")
        return 0
    if args.name == "dhs":
        import pandas as pd

        from dnadav.data import load_dhs

        table = load_dhs()
        print(pd.crosstab(table["cell_type"], table["split"], margins=True).to_string())
        return 0
    from dnadav.data import read_sequences

    table = read_sequences(args.name)
    lengths = {len(s) for s in table.sequences}
    print(
        f"{args.name}: {len(table)} records, length {', '.join(map(str, sorted(lengths)))}; "
        f"values: {', '.join(table.values) or 'none'}"
    )
    return 0
