"""A "bring your own data" example built from the shipped DHS set (``dnadav data example``).

It writes what a user of dnadav usually has — a FASTA of sequences, a labels table, and real
sequences to compare designs with — at a length other than the shipped models' 200 bp, so the whole
chain (docs/byod.md) can be run on it from the command line:

* ``sequences.fa``: ``rows`` random DHS (seeded), centre-cropped to ``length`` bp, headers
  ``>DHS_ID chrom=chrN`` (the chromosome lets ``pretrain`` hold out whole chromosomes);
* ``labels.csv``: ``id, sequence, chrom, cell_type`` and one activity column per cell type
  (``hepg2, k562, gm12878, hesc``): log2(1 + DHS total signal) when the site is specific to that cell
  type, else 0 — accessibility, not MPRA activity;
* ``reference_valid.fa`` / ``reference_test.fa``: the ``target`` cell type's sites among them on the
  validation (chr2) / test (chr1) chromosome, strongest signal first — the naturalness references for
  ``align --reference`` (validation: a run may select on it) and ``evaluate --reference`` (test).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dnadav.data.dhs import CELL_TYPES, load_dhs
from dnadav.data.fasta import write_fasta
from dnadav.errors import InputError
from dnadav.io import atomic_write_text, check_writable

__all__ = ["EXAMPLE_FILES", "write_example"]

EXAMPLE_FILES = ("sequences.fa", "labels.csv", "reference_valid.fa", "reference_test.fa")


def write_example(
    out_dir: str | Path, *, length: int = 120, rows: int = 6000, target: str = "HepG2", seed: int = 0, force: bool = False
) -> dict[str, Path]:
    """Write the four ``EXAMPLE_FILES`` into ``out_dir`` (atomically; refuses to overwrite unless
    ``force``) and return them by name."""
    import pandas as pd

    if not 1 <= length <= 200:
        raise InputError(f"--length must be 1..200 (the shipped DHS sequences are 200 bp); got {length}")
    if target not in CELL_TYPES:
        raise InputError(f"--target must be one of {', '.join(CELL_TYPES)}; got {target!r}")
    out_dir = Path(out_dir)
    paths = {name: check_writable(out_dir / name, force) for name in EXAMPLE_FILES}
    table = load_dhs()
    if not 10 <= rows <= len(table):
        raise InputError(f"--rows must be 10..{len(table)}; got {rows}")
    chosen = np.sort(np.random.default_rng(seed).choice(len(table), size=rows, replace=False))
    table = table.iloc[chosen].reset_index(drop=True)
    start = (200 - length) // 2
    sequences = table["sequence"].str.slice(start, start + length).tolist()
    ids = table["dhs_id"].tolist()
    write_fasta(paths["sequences.fa"], ids, sequences, [f"chrom={c}" for c in table["chrom"]], force=True)
    labels = pd.DataFrame({"id": ids, "sequence": sequences, "chrom": table["chrom"], "cell_type": table["cell_type"]})
    signal = np.log2(1.0 + table["total_signal"].to_numpy())
    for cell in CELL_TYPES:
        labels[cell.lower()] = np.where(table["cell_type"] == cell, signal, 0.0).round(4)
    atomic_write_text(paths["labels.csv"], labels.to_csv(index=False))
    for split, name in (("valid", "reference_valid.fa"), ("test", "reference_test.fa")):
        rows_here = np.flatnonzero(((table["split"] == split) & (table["cell_type"] == target)).to_numpy())
        if not len(rows_here):
            raise InputError(f"no {target} site on the {split} chromosome among {rows} rows; ask for more --rows")
        order = rows_here[np.argsort(-table["total_signal"].to_numpy()[rows_here], kind="stable")]
        write_fasta(paths[name], [ids[i] for i in order], [sequences[i] for i in order], force=True)
    return paths
