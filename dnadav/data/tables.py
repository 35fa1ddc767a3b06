"""Read and write sequence tables: FASTA (Biopython), CSV/TSV, HDF5 (h5py).

Every bad record raises one ``InputError`` naming the file, the record (id and 1-based number) and
the problem. ``on_invalid="drop"`` drops bad records and says how many (``SequenceTable.dropped``);
nothing is ever silently fixed. Lower-case bases (soft-masking) are accepted and upper-cased.
"""

from __future__ import annotations

import gzip
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from dnadav.errors import InputError
from dnadav.io import atomic_write_text, check_writable
from dnadav.seq import ALPHABET, invalid_character

__all__ = ["SequenceTable", "OnInvalid", "read_sequences", "write_fasta", "format_description"]

OnInvalid = Literal["error", "drop"]
FASTA_SUFFIXES = {".fa", ".fasta", ".fna", ".fas"}
TABLE_SUFFIXES = {".csv", ".tsv", ".txt"}
HDF5_SUFFIXES = {".h5", ".hdf5"}
SEQUENCE_COLUMNS = ("sequence", "seq", "sequences")
ID_COLUMNS = ("id", "name", "dhs_id")
_PAIR = re.compile(r"(\w[\w.\-]*)=(-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf|-inf)\b")


@dataclass(frozen=True)
class SequenceTable:
    """Validated sequences: ``ids``, upper-case A/C/G/T ``sequences``, numeric ``values`` by name
    (columns of a table, or ``key=value`` pairs of FASTA headers), the ``source`` path, and how
    many records were ``dropped`` by ``on_invalid="drop"``."""

    ids: list[str]
    sequences: list[str]
    source: str
    values: dict[str, np.ndarray] = field(default_factory=dict)
    dropped: int = 0

    def __len__(self) -> int:
        return len(self.sequences)


def _suffixes(path: Path) -> tuple[str, bool]:
    suffixes = [s.lower() for s in path.suffixes]
    compressed = bool(suffixes) and suffixes[-1] == ".gz"
    if compressed:
        suffixes = suffixes[:-1]
    return (suffixes[-1] if suffixes else ""), compressed


def _open_text(path: Path, compressed: bool) -> str:
    data = path.read_bytes()
    if compressed:
        data = gzip.decompress(data)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a UTF-8 text file") from None


def _read_fasta(path: Path, compressed: bool) -> tuple[list[str], list[str], list[str]]:
    from Bio import SeqIO

    text = _open_text(path, compressed)
    first = next((line for line in text.splitlines() if line.strip()), "")
    if first and not first.startswith(">"):
        raise InputError(f"{path}: not FASTA: the first non-empty line must start with '>'; got {first[:40]!r}")
    ids, sequences, descriptions = [], [], []
    for number, record in enumerate(SeqIO.parse(io.StringIO(text), "fasta"), start=1):
        if not record.id:
            raise InputError(f"{path}: record #{number}: empty FASTA header")
        ids.append(record.id)
        sequences.append(str(record.seq))
        descriptions.append(record.description[len(record.id) :].strip())
    return ids, sequences, descriptions


def _read_table(path: Path, suffix: str, compressed: bool) -> tuple[list[str], list[str], dict[str, np.ndarray]]:
    import pandas as pd

    separator = "," if suffix == ".csv" else "\t"
    try:
        table = pd.read_csv(path, sep=separator, compression="gzip" if compressed else None, dtype=str, keep_default_na=False)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: cannot parse as {'CSV' if separator == ',' else 'TSV'}: {error}") from None
    column = next((c for c in table.columns if c.lower() in SEQUENCE_COLUMNS), None)
    if column is None:
        raise InputError(
            f"{path}: no sequence column ({', '.join(SEQUENCE_COLUMNS)}); columns are {', '.join(map(str, table.columns))}"
        )
    id_column = next((c for c in table.columns if c.lower() in ID_COLUMNS), None)
    ids = table[id_column].tolist() if id_column else [f"row{i + 1}" for i in range(len(table))]
    values = {}
    for name in table.columns:
        if name in (column, id_column):
            continue
        numbers = pd.to_numeric(table[name], errors="coerce")
        if numbers.notna().all() and len(numbers):
            values[str(name)] = numbers.to_numpy(dtype=float)
    return ids, table[column].tolist(), values


def _read_hdf5(path: Path) -> tuple[list[str], list[str]]:
    import h5py

    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise InputError(f"{path}: not a readable HDF5 file ({error})") from None
    with handle:
        if "sequences" not in handle:
            raise InputError(f"{path}: no 'sequences' dataset; found {', '.join(handle.keys()) or 'nothing'}")
        data = handle["sequences"][()]
        ids = [i.decode() if isinstance(i, bytes) else str(i) for i in handle["ids"][()]] if "ids" in handle else None
    if data.dtype.kind in "SOU":
        sequences = [s.decode() if isinstance(s, bytes) else str(s) for s in data]
    elif data.ndim == 3 and 4 in data.shape[1:]:
        onehot = data if data.shape[1] == 4 else data.transpose(0, 2, 1)  # [N, 4, L]
        if not np.all(onehot.sum(axis=1) == 1):
            raise InputError(f"{path}: 'sequences' one-hot has columns that do not sum to 1 (masked or soft values)")
        sequences = ["".join(np.array(list(ALPHABET))[row]) for row in onehot.argmax(axis=1)]
    else:
        raise InputError(f"{path}: 'sequences' must hold strings or one-hot [N, 4, L] / [N, L, 4]; got shape {data.shape}")
    return ids or [f"row{i + 1}" for i in range(len(sequences))], sequences


def _problem(sequence: str, length: int | None) -> str | None:
    if not sequence:
        return "empty sequence"
    bad = invalid_character(sequence)
    if bad is not None:
        return f"character {bad[1]!r} at position {bad[0] + 1} is not A/C/G/T"
    if length is not None and len(sequence) != length:
        return f"length {len(sequence)}, expected {length}"
    return None


def read_sequences(path: str | Path, *, length: int | None = None, on_invalid: OnInvalid = "error") -> SequenceTable:
    """Read and validate a FASTA / CSV / TSV / HDF5 file of DNA sequences (``.gz`` allowed for text).

    ``length`` None requires all records to share the first record's length.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if on_invalid not in ("error", "drop"):
        raise ValueError(f"on_invalid must be error or drop; got {on_invalid!r}")
    suffix, compressed = _suffixes(path)
    values: dict[str, np.ndarray] = {}
    descriptions: list[str] = []
    if suffix in FASTA_SUFFIXES:
        ids, sequences, descriptions = _read_fasta(path, compressed)
    elif suffix in TABLE_SUFFIXES:
        ids, sequences, values = _read_table(path, suffix, compressed)
    elif suffix in HDF5_SUFFIXES:
        ids, sequences = _read_hdf5(path)
    else:
        known = sorted(FASTA_SUFFIXES | TABLE_SUFFIXES | HDF5_SUFFIXES)
        raise InputError(f"{path}: unknown file type {suffix or '(none)'!r}; expected one of {', '.join(known)} (optionally .gz)")
    if not sequences:
        raise InputError(f"{path}: no records")
    seen: dict[str, int] = {}
    for number, name in enumerate(ids, start=1):
        if name in seen:
            raise InputError(f"{path}: record {name!r} (#{number}): duplicate id (first at #{seen[name]})")
        seen[name] = number
    expected = length if length is not None else len(sequences[0])
    keep = []
    for number, (name, sequence) in enumerate(zip(ids, sequences), start=1):
        problem = _problem(sequence, expected)
        if problem is None:
            keep.append(number - 1)
        elif on_invalid == "error":
            hint = (
                ""
                if length is not None or "length" not in problem
                else " (like record #1; pass an explicit length to check another)"
            )
            raise InputError(f"{path}: record {name!r} (#{number}): {problem}{hint}")
    if not keep:
        raise InputError(f"{path}: every record is invalid")
    if descriptions:
        values = _description_values(descriptions)
    return SequenceTable(
        ids=[ids[i] for i in keep],
        sequences=[sequences[i].upper() for i in keep],
        source=str(path),
        values={k: v[keep] for k, v in values.items()},
        dropped=len(sequences) - len(keep),
    )


def _description_values(descriptions: list[str]) -> dict[str, np.ndarray]:
    parsed = [dict((k, float(v)) for k, v in _PAIR.findall(d)) for d in descriptions]
    keys = set(parsed[0]) if parsed else set()
    for p in parsed[1:]:
        keys &= set(p)
    return {k: np.array([p[k] for p in parsed]) for k in sorted(keys)}


def format_description(values: Mapping[str, float] | str | None) -> str:
    """``{"reward": 1.2, "eval": 0.9}`` -> ``"reward=1.2 eval=0.9"`` (strings pass through)."""
    if values is None:
        return ""
    if isinstance(values, str):
        return values
    return " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())


def write_fasta(
    path: str | Path,
    ids: Sequence[str],
    sequences: Sequence[str],
    descriptions: Sequence[Mapping[str, float] | str | None] | None = None,
    *,
    force: bool = False,
) -> Path:
    """Write FASTA atomically, one line per sequence, headers ``>id key=value ...``.

    Refuses to overwrite unless ``force``; ``read_sequences`` parses the ``key=value`` pairs back.
    """
    if len(ids) != len(sequences) or (descriptions is not None and len(descriptions) != len(ids)):
        raise ValueError("ids, sequences and descriptions must have the same length")
    if len(set(ids)) != len(ids):
        raise ValueError("ids must be unique")
    path = check_writable(path, force)
    lines = []
    for i, (name, sequence) in enumerate(zip(ids, sequences)):
        if not name or any(c.isspace() for c in name):
            raise ValueError(f"id #{i + 1} {name!r} is empty or holds white space")
        header = f">{name} {format_description(descriptions[i])}".rstrip() if descriptions else f">{name}"
        lines += [header, sequence]
    return atomic_write_text(path, "\n".join(lines) + "\n")
