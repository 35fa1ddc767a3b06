"""``dnadav data``: import the Gosai et al. MPRA table; describe a data set or a sequence file; write
the bring-your-own-data example.

dnadav data import-gosai dataset.csv [--out DIR] [--force]
dnadav data info dhs | gosai | FILE
dnadav data example --out DIR [--length 120] [--rows 6000]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dnadav.errors import InputError

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="import the Gosai MPRA table; describe data sets and files")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    gosai = verbs.add_parser(
        "import-gosai",
        help="validate the Gosai et al. dataset.csv (DRAKES bundle) and store a normalised copy",
        description="Validate dataset.csv (columns seq, hepg2, k562, sknsh, chrom) and write gosai.h5 "
        "(HDF5 with a chromosome split column; loads in about a second) and card.md (row counts, source sha256).",
    )
    gosai.add_argument(
        "source", type=Path, help="dataset.csv with columns seq (200 bp A/C/G/T), hepg2, k562, sknsh (log2 RNA/DNA), chrom"
    )
    gosai.add_argument(
        "--out", type=Path, default=None, help="destination folder for gosai.h5 and card.md (default: ~/.cache/dnadav/gosai)"
    )
    gosai.add_argument("--force", action="store_true", help="overwrite an existing import in --out")
    info = verbs.add_parser("info", help="counts for a data set ('dhs', 'gosai') or a sequence file")
    info.add_argument(
        "name",
        metavar="NAME",
        help="'dhs' (shipped: rows per cell type and split), 'gosai' (imported: rows and mean activity per split) "
        "or a FASTA / CSV / TSV / TXT (.gz allowed) / HDF5 file (records, length in bp, mean GC fraction, value columns)",
    )
    example = verbs.add_parser(
        "example",
        help="write a bring-your-own-data example from the shipped DHS set (docs/byod.md)",
        description="Write sequences.fa (headers with chrom=), labels.csv (per-cell-type activity columns, cell_type, "
        "chrom), reference_valid.fa and reference_test.fa (the target cell type's sites on chr2 / chr1): DHS sites "
        "centre-cropped to --length bp, as a user's own data would come.",
    )
    example.add_argument("--out", required=True, type=Path, help="folder for the four files")
    example.add_argument("--length", type=int, default=120, help="crop length in bp (1-200)")
    example.add_argument("--rows", type=int, default=6000, help="random DHS sites to take (seeded)")
    example.add_argument("--target", default="HepG2", help="cell type of the reference files: HepG2, K562, GM12878 or hESC")
    example.add_argument("--seed", type=int, default=0, help="seed of the random choice of sites (default: %(default)s)")
    example.add_argument("--force", action="store_true", help="overwrite files already in --out")
    parser.set_defaults(run=run)


def _example(args: argparse.Namespace) -> int:
    from dnadav.data.example import write_example

    paths = write_example(args.out, length=args.length, rows=args.rows, target=args.target, seed=args.seed, force=args.force)
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    return 0


def _import_gosai(args: argparse.Namespace) -> int:
    import time

    from dnadav.data.gosai import default_gosai_dir, import_gosai, load_gosai

    started = time.perf_counter()
    target = import_gosai(args.source, args.out or default_gosai_dir(), force=args.force)
    seconds = time.perf_counter() - started
    table = load_gosai(target)
    counts = table["split"].value_counts()
    print(
        f"imported {len(table)} rows ({', '.join(f'{s} {counts.get(s, 0)}' for s in ('train', 'valid', 'test'))}) "
        f"-> {target} (card: {target.with_name('card.md')}; {seconds:.1f} s)"
    )
    return 0


def _info_dhs() -> int:
    import pandas as pd

    from dnadav.data import load_dhs

    table = load_dhs()
    counts = pd.crosstab(table["cell_type"], table["split"], margins=True, margins_name="all")
    print("dhs: real hg38 DHS, cell-type-specific accessibility (not MPRA); 200 bp")
    print(counts[["train", "valid", "test", "all"]].to_string())
    for split in ("valid", "test"):
        print(f"{split} chromosomes: {', '.join(sorted(table.loc[table['split'] == split, 'chrom'].unique()))}")
    return 0


def _info_gosai() -> int:
    from dnadav.data.gosai import default_gosai_table, load_gosai

    path = default_gosai_table()
    table = load_gosai(path)
    print(f"gosai: {path}; measured MPRA activity (log2 RNA/DNA)")
    print(table.groupby("split")[["hepg2", "k562", "sknsh"]].agg(["count", "mean"]).round(3).to_string())
    return 0


def _info_file(path: str) -> int:
    import numpy as np

    from dnadav.data import read_sequences
    from dnadav.evaluate.metrics import gc_fraction

    table = read_sequences(path)  # validates every record: a bad file is a one-line error
    gc = gc_fraction(table.sequences)
    print(f"{path}: {len(table)} records of {len(table.sequences[0])} bp, all A/C/G/T; mean GC {gc.mean():.3f}")
    for name, values in table.values.items():
        print(f"  {name}: mean {np.nanmean(values):.4g}, min {np.nanmin(values):.4g}, max {np.nanmax(values):.4g}")
    for name, labels in table.labels.items():
        distinct = sorted({str(v) for v in labels})
        shown = ", ".join(distinct[:6]) + (", ..." if len(distinct) > 6 else "")
        print(f"  {name}: text, {len(distinct)} distinct ({shown})")
    from dnadav.data.splits import held_out_split

    try:
        print(f"held-out rows for pretrain / oracle train: {held_out_split(table).rule}")
    except InputError as error:
        print(f"held-out rows: {error}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.verb == "import-gosai":
        return _import_gosai(args)
    if args.verb == "example":
        return _example(args)
    if args.name == "dhs":
        return _info_dhs()
    if args.name == "gosai" and not Path(args.name).exists():
        return _info_gosai()
    return _info_file(args.name)
