"""The Gosai et al. (2023) MPRA table, as in the DRAKES data bundle (``dataset.csv``).

Columns ``seq, hepg2, k562, sknsh, chrom`` (~735k rows of 200-bp sequences with measured activity
in three cell lines). dnadav cannot download it; users import their copy with
``dnadav data import-gosai dataset.csv``, which validates and normalises it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dnadav.errors import InputError
from dnadav.io import atomic_write_bytes, atomic_write_text, check_writable, sha256_file
from dnadav.seq import invalid_character

__all__ = ["GOSAI_COLUMNS", "GOSAI_TARGETS", "read_gosai", "gosai_split", "import_gosai", "make_synthetic_gosai"]

GOSAI_COLUMNS = ("seq", "hepg2", "k562", "sknsh", "chrom")
GOSAI_TARGETS = ("hepg2", "k562", "sknsh")
# Held-out chromosomes for the regression oracles and prior (chromosome split, as DRAKES did).
VALID_CHROMOSOMES = ("chr7",)
TEST_CHROMOSOMES = ("chr13",)


def read_gosai(path: str | Path, length: int | None = 200) -> pd.DataFrame:
    """Read and validate a Gosai MPRA table; one InputError names the first bad row."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        table = pd.read_csv(path, index_col=False)
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as error:
        raise InputError(f"{path}: cannot parse as CSV: {error}") from None
    table = table.drop(columns=[c for c in table.columns if str(c).startswith("Unnamed")])
    missing = [c for c in GOSAI_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(map(str, table.columns))}")
    if table.empty:
        raise InputError(f"{path}: no rows")
    sequences = table["seq"].astype(str).str.upper()
    lengths = sequences.str.len().to_numpy()
    expected = length if length is not None else int(lengths[0])
    for row in np.flatnonzero(lengths != expected)[:1]:
        raise InputError(f"{path}: row {row + 2}: sequence length {lengths[row]}, expected {expected}")
    bad = sequences.str.contains("[^ACGT]", regex=True).to_numpy()
    for row in np.flatnonzero(bad)[:1]:
        position, char = invalid_character(sequences.iloc[row])  # type: ignore[misc]
        raise InputError(f"{path}: row {row + 2}: character {char!r} at position {position + 1} is not A/C/G/T")
    for column in GOSAI_TARGETS:
        values = pd.to_numeric(table[column], errors="coerce")
        for row in np.flatnonzero(values.isna().to_numpy())[:1]:
            raise InputError(f"{path}: row {row + 2}: column {column!r} is not a number ({table[column].iloc[row]!r})")
        table[column] = values
    table["seq"] = sequences
    return table[list(GOSAI_COLUMNS)].reset_index(drop=True)


def gosai_split(
    table: pd.DataFrame, valid: tuple[str, ...] = VALID_CHROMOSOMES, test: tuple[str, ...] = TEST_CHROMOSOMES
) -> pd.Series:
    """``train`` / ``valid`` / ``test`` by chromosome (whole chromosomes held out)."""
    split = np.where(table["chrom"].isin(test), "test", np.where(table["chrom"].isin(valid), "valid", "train"))
    return pd.Series(split, index=table.index, name="split")


def import_gosai(source: str | Path, out_dir: str | Path, *, force: bool = False) -> Path:
    """Validate ``source`` and write ``gosai.tsv.gz`` (with a ``split`` column) and ``card.md``."""
    source, out_dir = Path(source), Path(out_dir)
    table = read_gosai(source)
    table["split"] = gosai_split(table)
    target = check_writable(out_dir / "gosai.tsv.gz", force)
    check_writable(out_dir / "card.md", force)
    atomic_write_bytes(target, _gzip_tsv(table))
    counts = table["split"].value_counts().to_dict()
    card = (
        f"# Gosai et al. MPRA table (imported)\n\nSource file: `{source}` (sha256 {sha256_file(source)}).\n"
        f"Rows: {len(table)} (train {counts.get('train', 0)}, valid {counts.get('valid', 0)} = {', '.join(VALID_CHROMOSOMES)}, "
        f"test {counts.get('test', 0)} = {', '.join(TEST_CHROMOSOMES)}).\n"
        "Columns: seq, hepg2, k562, sknsh (measured MPRA activity, log2 RNA/DNA), chrom, split.\n"
        "This is measured MPRA activity (Gosai et al., Nature 2024), unlike the shipped DHS accessibility set.\n"
    )
    atomic_write_text(out_dir / "card.md", card)
    return target


def _gzip_tsv(table: pd.DataFrame) -> bytes:
    import gzip

    return gzip.compress(table.to_csv(sep="\t", index=False).encode(), mtime=0)


def make_synthetic_gosai(path: str | Path, n_rows: int, length: int = 200, seed: int = 0) -> Path:
    """A small file in exactly the Gosai format, for tests: random sequences whose activity is the
    count of the HNF1-like site GTTAAT (HepG2), GATA (K562) and CACGTG (SK-N-SH) plus noise."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("ACGT"))
    sequences = ["".join(letters[rng.integers(0, 4, length)]) for _ in range(n_rows)]
    noise = lambda: rng.normal(0, 0.1, n_rows)  # noqa: E731
    table = pd.DataFrame(
        {
            "seq": sequences,
            "hepg2": [s.count("GTTAAT") for s in sequences] + noise(),
            "k562": [s.count("GATA") for s in sequences] + noise(),
            "sknsh": [s.count("CACGTG") for s in sequences] + noise(),
            "chrom": [f"chr{1 + i % 22}" for i in range(n_rows)],
        }
    )
    atomic_write_text(path, table.to_csv(index=False))
    return Path(path)
