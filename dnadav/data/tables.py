"""Read and validate DNA sequence files: FASTA (Bio.SeqIO), CSV/TSV (pandas), HDF5 (h5py).

Every bad record raises one ``InputError`` naming the file, the record (id and 1-based number) and
the problem. Nothing is silently fixed: ``on_invalid="drop"`` leaves bad records out and counts them
(``SequenceTable.dropped``); ``on_invalid="pad"`` pads short records with a base the caller names,
counts them (``SequenceTable.padded``) and warns. Lower-case bases (soft-masking) are accepted and
upper-cased.
"""

from __future__ import annotations

import gzip
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from dnadav.data.fasta import description_labels, description_values, read_fasta_records
from dnadav.data.hdf5 import read_hdf5_records
from dnadav.dna.tokens import ALPHABET, invalid_character
from dnadav.errors import InputError, one_line

__all__ = ["SequenceTable", "OnInvalid", "SEQUENCE_COLUMNS", "ID_COLUMNS", "read_sequences", "read_text_table"]

OnInvalid = Literal["error", "drop", "pad"]
FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".fas")
TABLE_SUFFIXES = (".csv", ".tsv", ".txt")
HDF5_SUFFIXES = (".h5", ".hdf5")
SEQUENCE_COLUMNS = ("sequence", "seq", "sequences")
ID_COLUMNS = ("id", "name", "dhs_id")

_IS_BASE = np.zeros(256, dtype=bool)  # byte -> is one of ACGTacgt
_IS_BASE[np.frombuffer(b"ACGTacgt", dtype=np.uint8)] = True


@dataclass(frozen=True)
class SequenceTable:
    """Validated sequences read from ``source``.

    ``ids`` and ``sequences`` (upper-case A/C/G/T) have one entry per kept record; ``values`` maps a
    name to a float64 array [N] (numeric table columns, or ``key=value`` pairs of FASTA headers);
    ``labels`` maps a name to a text array [N] (the other table columns, text ``key=value`` header
    pairs such as ``chrom=chr3``, string datasets of HDF5: chromosome, split, class labels);
    ``dropped`` counts records left out by ``on_invalid="drop"``, ``padded`` those padded by "pad".
    """

    ids: list[str]
    sequences: list[str]
    source: str
    values: dict[str, np.ndarray] = field(default_factory=dict)
    dropped: int = 0
    padded: int = 0
    labels: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.sequences)


@dataclass(frozen=True)
class _Raw:
    ids: list[str]
    sequences: list[str]
    values: dict[str, np.ndarray]
    labels: dict[str, np.ndarray] = field(default_factory=dict)


def _kind(path: Path) -> tuple[str, bool]:
    """(last suffix without .gz, compressed?) of ``path``."""
    suffixes = [s.lower() for s in path.suffixes]
    compressed = bool(suffixes) and suffixes[-1] == ".gz"
    if compressed:
        suffixes = suffixes[:-1]
    return (suffixes[-1] if suffixes else ""), compressed


def _read_text(path: Path, compressed: bool) -> str:
    data = path.read_bytes()
    try:
        return (gzip.decompress(data) if compressed else data).decode("utf-8")
    except (OSError, EOFError) as error:
        raise InputError(f"{path}: not a readable gzip file ({one_line(error)})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a UTF-8 text file") from None


def _read_fasta(path: Path, compressed: bool) -> _Raw:
    records = read_fasta_records(path, _read_text(path, compressed))
    descriptions = records.descriptions
    return _Raw(records.ids, records.sequences, description_values(descriptions), description_labels(descriptions))


def read_text_table(path: str | Path):
    """A CSV (``.csv``) or tab-separated (``.tsv``, ``.txt``, anything else) file, ``.gz`` allowed, as a
    DataFrame of text cells (nothing converted, empty cells stay empty); InputError naming the file
    when it is empty or cannot be parsed."""
    import pandas as pd

    path = Path(path)
    suffix, compressed = _kind(path)
    separator = "," if suffix == ".csv" else "\t"
    try:
        return pd.read_csv(path, sep=separator, compression="gzip" if compressed else None, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: empty file, no records") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError) as error:
        kind = "CSV" if separator == "," else "tab-separated text"
        raise InputError(f"{path}: cannot parse as {kind}: {one_line(error)}") from None


def _read_table(path: Path) -> _Raw:
    import pandas as pd

    table = read_text_table(path)
    lower = {str(c).lower(): c for c in table.columns}
    column = next((lower[c] for c in SEQUENCE_COLUMNS if c in lower), None)
    if column is None:
        raise InputError(
            f"{path}: no sequence column (looked for {', '.join(SEQUENCE_COLUMNS)}); "
            f"columns found: {one_line(', '.join(map(str, table.columns)))}"
        )
    id_column = next((lower[c] for c in ID_COLUMNS if c in lower), None)
    ids = table[id_column].tolist() if id_column is not None else [f"row{i + 1}" for i in range(len(table))]
    values, labels = {}, {}
    for name in table.columns:
        if name in (column, id_column) or str(name).startswith("Unnamed: "):  # pandas' name for a blank header
            continue
        numbers = pd.to_numeric(table[name], errors="coerce")
        if len(numbers) and numbers.notna().all():
            values[str(name)] = numbers.to_numpy(dtype=np.float64)
        else:  # text (chromosome, split, class label) or numbers with gaps: kept as written
            labels[str(name)] = table[name].to_numpy(dtype=object)
    return _Raw(ids, table[column].tolist(), values, labels)


def _read_raw(path: Path) -> _Raw:
    suffix, compressed = _kind(path)
    if suffix in FASTA_SUFFIXES:
        return _read_fasta(path, compressed)
    if suffix in TABLE_SUFFIXES:
        return _read_table(path)
    if suffix in HDF5_SUFFIXES and not compressed:
        return _Raw(*read_hdf5_records(path))
    known = ", ".join((*FASTA_SUFFIXES, *TABLE_SUFFIXES))
    raise InputError(
        f"{path}: unknown file type {''.join(path.suffixes) or '(no suffix)'!r}; "
        f"expected {known} (optionally .gz), or {', '.join(HDF5_SUFFIXES)}"
    )


def _check_ids(path: Path, ids: list[str]) -> None:
    seen: dict[str, int] = {}
    for number, name in enumerate(ids, start=1):
        if not name.strip():
            raise InputError(f"{path}: record #{number}: empty id")
        if name in seen:
            raise InputError(f"{path}: record {name!r} (#{number}): duplicate id (first at #{seen[name]})")
        seen[name] = number


def _bad_characters(sequences: list[str]) -> np.ndarray:
    """Per record, whether any character is not A/C/G/T (either case) -> bool [N]; one numpy pass."""
    lengths = np.fromiter(map(len, sequences), dtype=np.int64, count=len(sequences))
    joined = np.frombuffer("".join(sequences).encode("latin-1", "replace"), dtype=np.uint8)
    positions = np.flatnonzero(~_IS_BASE[joined])  # offsets of bad characters in the joined text
    bad = np.zeros(len(sequences), dtype=bool)
    bad[np.searchsorted(np.cumsum(lengths), positions, side="right")] = True
    return bad


def _problem(sequence: str, bad: bool, expected: int | None, hint: str) -> str | None:
    if not sequence:
        return "empty sequence"
    if bad:
        position, char = invalid_character(sequence)  # type: ignore[misc]
        return f"character {char!r} at position {position + 1} is not A/C/G/T"
    if expected is not None and len(sequence) != expected:
        return f"length {len(sequence)}, expected {expected}{hint}"
    return None


def read_sequences(
    path: str | Path,
    *,
    length: int | None = None,
    on_invalid: OnInvalid = "error",
    pad_to: int | None = None,
    pad_base: str | None = None,
) -> SequenceTable:
    """Read and validate a FASTA / CSV / TSV / TXT (``.gz`` allowed) or HDF5 file of DNA sequences.

    Tables: the sequence column is the first of ``sequence, seq, sequences`` (any case), ids come
    from ``id, name, dhs_id`` or are ``row1, row2, ...``; all-numeric columns become ``values``.
    HDF5: dataset ``sequences`` of strings [N] or one-hot [N, 4, L] / [N, L, 4], optional ``ids``
    [N]; other numeric [N] datasets become ``values``. FASTA: ``key=value`` header pairs -> values.

    ``length``: required length; None requires all records to share the most common length.
    ``on_invalid``: "error" raises on the first bad record; "drop" leaves bad records out and
    counts them; "pad" right-pads records shorter than ``pad_to`` (default ``length``) with
    ``pad_base`` (one of A/C/G/T, required), counts them and warns — other bad records still raise.
    Duplicate or empty ids always raise.
    """
    path = Path(path)
    if on_invalid not in ("error", "drop", "pad"):
        raise ValueError(f"on_invalid must be 'error', 'drop' or 'pad'; got {on_invalid!r}")
    if on_invalid == "pad":
        pad_to = pad_to if pad_to is not None else length
        if pad_to is None or pad_base is None or pad_base.upper() not in tuple(ALPHABET):
            raise ValueError("on_invalid='pad' needs pad_to (or length) and pad_base, one of A, C, G, T")
        if length is not None and length != pad_to:
            raise ValueError(f"length {length} and pad_to {pad_to} disagree")
        length = pad_to
    if not path.is_file():
        raise InputError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    raw = _read_raw(path)
    if not raw.sequences:
        raise InputError(f"{path}: empty file, no records")
    _check_ids(path, raw.ids)
    bad = _bad_characters(raw.sequences)
    expected, hint = length, ""
    if expected is None:
        sizes = Counter(map(len, raw.sequences))  # most_common breaks ties by first occurrence
        expected = sizes.most_common(1)[0][0]
        hint = " (the most common length here; pass an explicit length to require another)" if len(sizes) > 1 else ""
    fill = pad_base.upper() if on_invalid == "pad" and pad_base else ""  # only "pad" pads
    keep, sequences, padded, first_problem = [], [], 0, ""
    for index, (name, sequence) in enumerate(zip(raw.ids, raw.sequences)):
        problem = _problem(sequence, bool(bad[index]), expected, hint)
        if problem is not None and fill and 0 < len(sequence) < expected and not bad[index]:
            sequence, problem, padded = sequence + fill * (expected - len(sequence)), None, padded + 1
        if problem is None:
            keep.append(index)
            sequences.append(sequence.upper())
        elif on_invalid != "drop":
            raise InputError(f"{path}: record {name!r} (#{index + 1}): {problem}")
        else:
            first_problem = first_problem or f"record {name!r} (#{index + 1}): {problem}"
    if not keep:
        raise InputError(f"{path}: all {len(raw.sequences)} records are invalid, e.g. {first_problem}")
    if padded:
        warnings.warn(f"{path}: padded {padded} short record(s) to {expected} bp with {fill!r}", stacklevel=2)
    return SequenceTable(
        ids=[raw.ids[i] for i in keep],
        sequences=sequences,
        source=str(path),
        values={k: v[keep] for k, v in raw.values.items()},
        dropped=len(raw.sequences) - len(keep),
        padded=padded,
        labels={k: v[keep] for k, v in raw.labels.items()},
    )
