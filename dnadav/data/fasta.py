"""FASTA parsing and writing, with per-record scores carried in the header.

Headers look like ``>design_0001 reward=1.2345 eval=0.987``: the id, then ``key=value`` pairs.
``write_fasta`` writes one line per sequence (no 80-column wrapping: a 200-bp design stays one
greppable line, and Biopython, samtools and every FASTA reader accept it). ``read_fasta_records``
parses the pairs back into numbers.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dnadav.errors import InputError
from dnadav.io import atomic_write_text, check_writable

__all__ = [
    "FastaRecords",
    "description_labels",
    "description_values",
    "format_description",
    "non_finite_key",
    "read_fasta_records",
    "write_fasta",
]

# key=value where value is a float literal (or nan / inf); keys are identifiers such as eval_prob.
_PAIR = re.compile(r"(?:^|\s)([A-Za-z_][\w.\-]*)=([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?nan|[-+]?inf)(?=\s|$)")
# key=value with any value without white space (chrom=chr3, split=valid): the text labels of a header.
_TEXT_PAIR = re.compile(r"(?:^|\s)([A-Za-z_][\w.\-]*)=(\S+)(?=\s|$)")


@dataclass(frozen=True)
class FastaRecords:
    """Raw FASTA content: ``ids``, unvalidated ``sequences`` and header ``descriptions`` (after the id)."""

    ids: list[str]
    sequences: list[str]
    descriptions: list[str]


def read_fasta_records(path: Path, text: str) -> FastaRecords:
    """Parse FASTA ``text`` (the content of ``path``) with Bio.SeqIO; malformed FASTA raises InputError.

    Checks what Biopython tolerates silently: text before the first ``>`` and empty headers.
    """
    from Bio import SeqIO

    first = next((line for line in text.splitlines() if line.strip()), "")
    if first and not first.startswith(">"):
        raise InputError(f"{path}: not FASTA: the first non-empty line must start with '>'; got {first[:40]!r}")
    ids: list[str] = []
    sequences: list[str] = []
    descriptions: list[str] = []
    if not first:  # empty or blank: no records (Biopython would object to leading blank lines)
        return FastaRecords(ids, sequences, descriptions)
    try:
        for number, record in enumerate(SeqIO.parse(io.StringIO(text.lstrip()), "fasta"), start=1):
            if not record.id:
                raise InputError(f"{path}: record #{number}: empty FASTA header (expected '>id ...')")
            ids.append(record.id)
            sequences.append(str(record.seq))
            descriptions.append(record.description[len(record.id) :].strip())
    except ValueError as error:
        if isinstance(error, InputError):
            raise
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InputError(f"{path}: malformed FASTA after record #{len(ids)}: {reason}") from None
    return FastaRecords(ids, sequences, descriptions)


def description_values(descriptions: Sequence[str]) -> dict[str, np.ndarray]:
    """Numeric ``key=value`` pairs of FASTA descriptions -> ``{key: float64 [N]}``.

    Only keys present in every description are kept (a column must have a value for each record).
    """
    parsed = [{k: float(v) for k, v in _PAIR.findall(d)} for d in descriptions]
    if not parsed:
        return {}
    keys = [k for k in parsed[0] if all(k in p for p in parsed[1:])]
    return {k: np.array([p[k] for p in parsed], dtype=np.float64) for k in keys}


def description_labels(descriptions: Sequence[str]) -> dict[str, np.ndarray]:
    """Text ``key=value`` pairs of FASTA descriptions (``chrom=chr3 split=valid``) -> ``{key: str [N]}``.

    Only keys present in every description and not numeric in all of them (those are
    ``description_values``) are kept."""
    parsed = [dict(_TEXT_PAIR.findall(d)) for d in descriptions]
    if not parsed:
        return {}
    numeric = description_values(descriptions)
    keys = [k for k in parsed[0] if k not in numeric and all(k in p for p in parsed[1:])]
    return {k: np.array([p[k] for p in parsed], dtype=object) for k in keys}


def _format_value(value: object) -> str:
    if isinstance(value, bool | np.bool_):
        return str(value)
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        return repr(number) if math.isfinite(number) else str(number)  # repr: shortest exact round trip
    return str(value)


def non_finite_key(values: Mapping[str, object] | str | None) -> str | None:
    """The first key of ``values`` whose number is nan or ±inf (None when all are finite or it is a string)."""
    if values is None or isinstance(values, str):
        return None
    for key, value in values.items():
        if isinstance(value, float | np.floating) and not math.isfinite(float(value)):
            return key
    return None


def format_description(values: Mapping[str, object] | str | None) -> str:
    """``{"reward": 1.2, "eval": 0.9}`` -> ``"reward=1.2 eval=0.9"``; strings pass through unchanged."""
    if values is None:
        return ""
    if isinstance(values, str):
        return values
    for key in values:
        if not key or any(c.isspace() or c == "=" for c in key):
            raise ValueError(f"header key {key!r} is empty or holds white space or '='")
    return " ".join(f"{key}={_format_value(value)}" for key, value in values.items())


def write_fasta(
    path: str | Path,
    ids: Sequence[str],
    sequences: Sequence[str],
    descriptions: Sequence[Mapping[str, object] | str | None] | None = None,
    *,
    force: bool = False,
) -> Path:
    """Write FASTA atomically, one line per sequence, headers ``>id key=value ...``; return the path.

    ``descriptions`` (one per record) are dicts of scores or plain strings. Refuses to overwrite an
    existing file unless ``force`` (InputError), and to write a score that is nan or ±inf (InputError
    naming the record and the score; nothing is written). ``read_sequences`` parses the scores back.
    """
    if len(ids) != len(sequences) or (descriptions is not None and len(descriptions) != len(ids)):
        raise ValueError(
            f"ids ({len(ids)}), sequences ({len(sequences)}) and descriptions "
            f"({'none' if descriptions is None else len(descriptions)}) must have the same length"
        )
    if len(set(ids)) != len(ids):
        raise ValueError("ids must be unique")
    lines = []
    for i, (name, sequence) in enumerate(zip(ids, sequences)):
        if not name or any(c.isspace() for c in name) or name.startswith(">"):
            raise ValueError(f"id #{i + 1} {name!r} is empty, starts with '>' or holds white space")
        if not sequence or "\n" in sequence or sequence.startswith(">"):
            raise ValueError(f"sequence #{i + 1} ({name!r}) is empty or not a single line")
        bad = non_finite_key(descriptions[i]) if descriptions is not None else None
        if bad is not None:
            value = descriptions[i][bad]  # type: ignore[index]
            raise InputError(f"{path}: record {name!r} (#{i + 1}): {bad} is {value}; no nan or inf is written to a FASTA header")
        description = format_description(descriptions[i]) if descriptions is not None else ""
        if "\n" in description:
            raise ValueError(f"description #{i + 1} ({name!r}) spans several lines")
        lines += [f">{name} {description}".rstrip(), sequence]
    path = check_writable(path, force)
    return atomic_write_text(path, "".join(line + "\n" for line in lines))
