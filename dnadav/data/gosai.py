"""The Gosai et al. MPRA table, as in the DRAKES data bundle (``dataset.csv``).

Columns ``seq, hepg2, k562, sknsh, chrom``: ~735k 200-bp sequences with measured MPRA activity
(log2 fold change) in HepG2, K562 and SK-N-SH cells (Gosai et al., Nature 2024). DRAKES writes it
with a leading unnamed index column, which is ignored. dnadav cannot download it; users import
their copy with ``dnadav data import-gosai dataset.csv`` (``import_gosai``), which validates it and
writes ``gosai.h5`` (HDF5: sequences as fixed-width bytes, the three activities, chrom and a
``split`` column; loads in about a second for the full table, ``load_gosai`` / ``gosai_arrays``)
and a ``card.md``. ``read_sequences("gosai.h5")`` reads it too (activities as values).

Chromosome split (``gosai_split``). Whole chromosomes are held out so that no near-duplicate
genomic sequence leaks between train and evaluation. Defaults: test = chr7 and chr13, valid =
chr19, chr21 and chrX, train = the rest — our reading of the holdout of Malinois, the Gosai et al.
model (not checked against the paper here; pass your own sets to match another protocol).
DRAKES itself held out chromosomes only between its two oracles (chr1–11 vs chr12–22); for
disjoint reward / evaluation oracles, pick disjoint chromosome sets from the train split.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dnadav.data.hdf5 import gosai_hdf5_codes, read_gosai_hdf5, write_gosai_hdf5
from dnadav.dna.tokens import ALPHABET, invalid_character
from dnadav.errors import InputError, one_line, shown
from dnadav.io import atomic_write_text, check_writable, sha256_file

__all__ = [
    "GOSAI_COLUMNS",
    "GOSAI_TARGETS",
    "VALID_CHROMOSOMES",
    "TEST_CHROMOSOMES",
    "GOSAI_FILE",
    "default_gosai_dir",
    "default_gosai_table",
    "gosai_arrays",
    "load_gosai",
    "read_gosai",
    "gosai_split",
    "import_gosai",
    "make_synthetic_gosai",
]

GOSAI_COLUMNS = ("seq", "hepg2", "k562", "sknsh", "chrom")
GOSAI_TARGETS = ("hepg2", "k562", "sknsh")
VALID_CHROMOSOMES: tuple[str, ...] = ("chr19", "chr21", "chrX")
TEST_CHROMOSOMES: tuple[str, ...] = ("chr7", "chr13")
GOSAI_FILE = "gosai.h5"


def default_gosai_dir() -> Path:
    """Where ``dnadav data import-gosai`` puts the imported table unless told otherwise: ``~/.cache/dnadav/gosai``."""
    return Path.home() / ".cache" / "dnadav" / "gosai"


def default_gosai_table() -> Path:
    """The imported table ``~/.cache/dnadav/gosai/gosai.h5`` (InputError with the fix when absent)."""
    path = default_gosai_dir() / GOSAI_FILE
    if not path.is_file():
        raise InputError(f"{path}: not imported yet; run `dnadav data import-gosai dataset.csv` first")
    return path


def _row(path: Path, index: int) -> str:
    """Name row ``index`` (0-based data row) as record number and file line (header is line 1)."""
    return f"{path}: record #{index + 1} (line {index + 2})"


def read_gosai(path: str | Path, length: int | None = 200) -> pd.DataFrame:
    """Read and validate a Gosai MPRA CSV -> DataFrame with columns ``seq, hepg2, k562, sknsh, chrom``.

    ``seq`` is upper-cased A/C/G/T of ``length`` bp (None: the first row's length); activities are
    float64. The first bad row raises one InputError naming the file, record number and line.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        table = pd.read_csv(path, index_col=False, dtype={"seq": str, "chrom": str}, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: empty file") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: cannot parse as CSV: {' '.join(str(error).split())}") from None
    missing = [c for c in GOSAI_COLUMNS if c not in table.columns]
    if missing:
        found = one_line(", ".join(str(c) for c in table.columns if not str(c).startswith("Unnamed"))) or "none"
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}; columns found: {found}")
    if table.empty:
        raise InputError(f"{path}: header only, no rows")
    sequences = table["seq"].str.upper()
    lengths = sequences.str.len().to_numpy()
    expected = length if length is not None else int(lengths[0])
    bad = sequences.str.contains(f"[^{ALPHABET}]", regex=True).to_numpy() | (lengths == 0)
    wrong = lengths != expected
    first = int(np.flatnonzero(bad | wrong)[0]) if (bad | wrong).any() else None
    if first is not None and bad[first]:
        found = invalid_character(sequences.iloc[first])
        problem = "empty sequence" if found is None else f"character {found[1]!r} at position {found[0] + 1} is not A/C/G/T"
        raise InputError(f"{_row(path, first)}: {problem}")
    if first is not None:
        raise InputError(f"{_row(path, first)}: sequence length {lengths[first]}, expected {expected}")
    empty_chrom = (table["chrom"].str.strip() == "").to_numpy()
    if empty_chrom.any():
        raise InputError(f"{_row(path, int(np.flatnonzero(empty_chrom)[0]))}: empty chrom")
    out = pd.DataFrame({"seq": sequences})
    for column in GOSAI_TARGETS:
        values = pd.to_numeric(table[column], errors="coerce")
        missing_values = ~np.isfinite(values.to_numpy(dtype=np.float64))  # nan, blank, text, ±inf
        if missing_values.any():
            row = int(np.flatnonzero(missing_values)[0])
            problem = "is not a number" if pd.isna(values.iloc[row]) else "is not finite (nan/inf activities are refused)"
            raw = table[column].iloc[row]
            raise InputError(f"{_row(path, row)}: {column} {problem} ({shown(raw if isinstance(raw, str) else str(raw))})")
        out[column] = values.astype(np.float64)
    out["chrom"] = table["chrom"].str.strip()
    return out


def gosai_split(
    table: pd.DataFrame,
    valid_chroms: tuple[str, ...] = VALID_CHROMOSOMES,
    test_chroms: tuple[str, ...] = TEST_CHROMOSOMES,
) -> pd.Series:
    """``train`` / ``valid`` / ``test`` per row of ``table`` by its ``chrom`` -> Series named ``split``."""
    overlap = set(valid_chroms) & set(test_chroms)
    if overlap:
        raise ValueError(f"chromosomes {', '.join(sorted(overlap))} are both valid and test")
    chrom = table["chrom"]
    split = np.where(chrom.isin(test_chroms), "test", np.where(chrom.isin(valid_chroms), "valid", "train"))
    return pd.Series(split, index=table.index, name="split")


def _card(source: Path, digest: str, table: pd.DataFrame) -> str:
    counts = table["split"].value_counts()
    summary = table.groupby("split")[list(GOSAI_TARGETS)].mean().round(3)
    lines = [
        "# Gosai et al. MPRA table (imported by `dnadav data import-gosai`)",
        "",
        f"Source: `{source}`, sha256 `{digest}`.",
        "What it is: measured MPRA activity (log2 RNA/DNA) of 200-bp sequences in HepG2, K562 and",
        "SK-N-SH cells (Gosai et al., Nature 2024; DRAKES data bundle). Unlike the shipped DHS set",
        "this is reporter activity, not chromatin accessibility.",
        "",
        f"Rows: {len(table)}; columns: seq, hepg2, k562, sknsh, chrom, split.",
        "",
        "| split | chromosomes | rows | mean hepg2 | mean k562 | mean sknsh |",
        "|---|---|---|---|---|---|",
    ]
    chroms = {"train": "the rest", "valid": ", ".join(VALID_CHROMOSOMES), "test": ", ".join(TEST_CHROMOSOMES)}
    for split in ("train", "valid", "test"):
        means = summary.loc[split].tolist() if split in summary.index else ["-"] * 3
        lines.append(f"| {split} | {chroms[split]} | {counts.get(split, 0)} | " + " | ".join(map(str, means)) + " |")
    return "\n".join(lines) + "\n"


def import_gosai(src_csv: str | Path, out_dir: str | Path, *, force: bool = False) -> Path:
    """Validate ``src_csv`` and write ``out_dir/gosai.h5`` (with ``split``) and ``out_dir/card.md``.

    Both files are written atomically; existing ones are kept unless ``force``. Returns the table path.
    """
    source, out_dir = Path(src_csv), Path(out_dir)
    table = read_gosai(source)
    table["split"] = gosai_split(table)
    target = check_writable(out_dir / GOSAI_FILE, force)
    card = check_writable(out_dir / "card.md", force)
    digest = sha256_file(source)
    write_gosai_hdf5(target, table, source_sha256=digest)
    atomic_write_text(card, _card(source, digest, table))
    return target


def load_gosai(path: str | Path | None = None) -> pd.DataFrame:
    """An imported table (``gosai.h5``; default: the user cache), a legacy ``gosai.tsv.gz`` or a raw
    ``dataset.csv`` (validated and split here) -> DataFrame ``seq, hepg2, k562, sknsh, chrom, split``."""
    path = Path(path) if path is not None else default_gosai_table()
    if path.suffix == ".csv":
        table = read_gosai(path)
        table["split"] = gosai_split(table)
        return table
    if not path.is_file():
        raise InputError(f"{path}: no such file; import the table first with `dnadav data import-gosai dataset.csv`")
    if path.suffix in (".h5", ".hdf5"):
        return read_gosai_hdf5(path)
    return pd.read_csv(path, sep="\t", dtype={"seq": str, "chrom": str})


def gosai_arrays(
    path: str | Path | None, split: str | None = None, chromosomes: tuple[str, ...] | None = None
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Rows of one ``split`` (None: all), optionally only on ``chromosomes`` -> (tokens ``[N, L]`` uint8
    in ACGT = 0..3, activities ``[N, 3]`` float32 (hepg2, k562, sknsh), the rows' table — without the
    ``seq`` column when read from HDF5, which never builds Python strings)."""
    path = Path(path) if path is not None else default_gosai_table()
    hdf5 = path.suffix in (".h5", ".hdf5")
    table = read_gosai_hdf5(path, sequences=False) if hdf5 and path.is_file() else load_gosai(path)
    keep = np.ones(len(table), dtype=bool)
    if split is not None:
        keep &= (table["split"] == split).to_numpy()
    if chromosomes is not None:
        keep &= table["chrom"].isin(chromosomes).to_numpy()
    rows = table[keep]
    if rows.empty:
        where = f" {split}" if split else ""
        raise InputError(f"{path}: no{where} rows" + (f" on {', '.join(chromosomes)}" if chromosomes else ""))
    if hdf5:
        codes = gosai_hdf5_codes(path)[keep]
    else:
        codes = np.frombuffer("".join(rows["seq"]).encode("ascii"), dtype=np.uint8).reshape(len(rows), -1)
    lookup = np.zeros(256, dtype=np.uint8)
    lookup[np.frombuffer(ALPHABET.encode(), dtype=np.uint8)] = np.arange(4, dtype=np.uint8)
    return lookup[codes], rows[list(GOSAI_TARGETS)].to_numpy(np.float32), rows


def make_synthetic_gosai(path: str | Path, n_rows: int, length: int = 200, seed: int = 0) -> Path:
    """Write a small CSV in exactly the DRAKES ``dataset.csv`` format (leading index column), for tests.

    Random uniform sequences; activity = count of a motif + N(0, 0.1) noise: HNF1-like ``GTTAAT``
    (hepg2), ``GATA`` (k562), E-box ``CACGTG`` (sknsh). Row i lies on chromosome chr{1 + i % 22}.
    """
    rng = np.random.default_rng(seed)
    codes = np.frombuffer(ALPHABET.encode(), dtype=np.uint8)[rng.integers(0, 4, (n_rows, length))]
    sequences = pd.Series([row.tobytes().decode() for row in codes], dtype=str)
    table = pd.DataFrame({"seq": sequences})
    for column, motif in zip(GOSAI_TARGETS, ("GTTAAT", "GATA", "CACGTG")):
        table[column] = sequences.str.count(motif).to_numpy() + rng.normal(0.0, 0.1, n_rows)
    table["chrom"] = [f"chr{1 + i % 22}" for i in range(n_rows)]
    atomic_write_text(path, table.to_csv(index=True))
    return Path(path)
