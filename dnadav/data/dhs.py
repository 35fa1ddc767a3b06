"""The shipped DHS set: 47,872 real 200-bp human DNase I hypersensitive sites (hg38).

This is chromatin *accessibility*, specific to one of four cell types, not MPRA activity.
Split by chromosome: test = chr1, valid = chr2 (as the file holds them), train = the rest. See ``datasets/dhs/card.md``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import pandas as pd

from dnadav.assets import asset_path
from dnadav.errors import InputError

__all__ = ["CELL_TYPES", "DHS_FILE", "Split", "load_dhs"]

CELL_TYPES: tuple[str, ...] = ("HepG2", "K562", "GM12878", "hESC")
DHS_FILE = "dhs_4celltypes_200bp.tsv.gz"
Split = Literal["train", "valid", "test", "all"]


@lru_cache(maxsize=1)
def _read_all() -> pd.DataFrame:
    return pd.read_csv(asset_path("datasets", "dhs", DHS_FILE), sep="\t")


def load_dhs(
    split: Split = "all",
    cell_type: str | None = None,
    chromosomes: tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """Rows of the DHS table (columns dhs_id, chrom, start, end, summit, total_signal, cell_type,
    split, sequence), filtered by split, cell type and/or chromosome. Returns a copy."""
    table = _read_all()
    if split != "all":
        if split not in ("train", "valid", "test"):
            raise InputError(f"split must be train, valid, test or all; got {split!r}")
        table = table[table["split"] == split]
    if cell_type is not None:
        if cell_type not in CELL_TYPES:
            raise InputError(f"cell_type must be one of {', '.join(CELL_TYPES)}; got {cell_type!r}")
        table = table[table["cell_type"] == cell_type]
    if chromosomes is not None:
        table = table[table["chrom"].isin(chromosomes)]
    return table.reset_index(drop=True).copy()
