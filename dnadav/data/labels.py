"""A user's labelled sequences: what ``dnadav oracle train --data FILE --target COLUMN`` learns from.

The sequences come from any file ``read_sequences`` reads (FASTA, CSV/TSV, HDF5); the labels from
its own columns (table columns, HDF5 datasets, ``key=value`` pairs of FASTA headers) or from a
separate CSV/TSV ``labels`` table joined on the record id (its first column among ``id, name,
dhs_id``). ``target`` names one column or several (comma-separated, regression only: one output per
column, the first is scored by default).

The task, unless given: a column of text labels is **classification** (one class per distinct
label, sorted), a numeric column holding only 0 and 1 is binary classification (classes
``not_<column>`` and ``<column>``), any other numeric column is **regression**. Rows without a
value (an empty cell, ``NA``, ``nan``) are left out and counted, never guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np

from dnadav.data.tables import ID_COLUMNS, SequenceTable, read_sequences, read_text_table
from dnadav.errors import InputError, one_line, shown

__all__ = ["LabelledData", "Task", "read_labelled", "target_columns"]

Task = Literal["regression", "classification"]
_MISSING = {"", "na", "nan", "n/a", "none", "null"}


@dataclass(frozen=True)
class LabelledData:
    """Labelled rows of ``table`` (rows without a label left out, ``missing`` counts them).

    ``targets``: float32 ``[N, K]`` (regression, K = one per column) or int64 class indices ``[N]``
    (classification); ``names``: the K output names or the class names; ``target``: the output
    scored by default; ``columns``: the target column(s) as given."""

    table: SequenceTable
    targets: np.ndarray
    names: tuple[str, ...]
    task: Task
    target: str
    columns: tuple[str, ...]
    missing: int = 0

    @property
    def strata(self) -> np.ndarray:
        """Per row, the stratum of a stratified split: the class, or the quantile bin of the scored output."""
        from dnadav.data.splits import quantile_strata

        if self.task == "classification":
            return self.targets
        return quantile_strata(self.targets[:, self.names.index(self.target)])


def target_columns(target: str | Sequence[str]) -> tuple[str, ...]:
    """``"hepg2,k562"`` or ``["hepg2", "k562"]`` -> ``("hepg2", "k562")``; InputError when empty."""
    names = tuple(t.strip() for t in (target.split(",") if isinstance(target, str) else target) if str(t).strip())
    if not names:
        raise InputError("--target: name the label column(s) to learn, e.g. --target activity")
    return names


def _join_labels(table: SequenceTable, labels: str | Path) -> SequenceTable:
    """``table`` with the columns of the CSV/TSV ``labels`` (joined on its id column) added."""
    import pandas as pd

    path = Path(labels)
    if not path.is_file():
        raise InputError(f"{path}: no such labels file" if not path.exists() else f"{path}: not a file")
    frame = read_text_table(path)
    lower = {str(c).lower(): c for c in frame.columns}
    id_column = next((lower[c] for c in ID_COLUMNS if c in lower), None)
    if id_column is None:
        raise InputError(f"{path}: no id column (looked for {', '.join(ID_COLUMNS)}) to join the labels on the record ids")
    duplicated = frame[id_column].duplicated()
    if duplicated.any():
        raise InputError(f"{path}: id {frame[id_column][duplicated].iloc[0]!r} appears twice")
    index = pd.Index(frame[id_column])
    where = index.get_indexer(table.ids)
    if (where < 0).any():
        first = int(np.flatnonzero(where < 0)[0])
        raise InputError(f"{path}: no labels for record {table.ids[first]!r} (#{first + 1}) of {table.source}")
    values, texts = dict(table.values), dict(table.labels)
    for column in frame.columns:
        if column == id_column:
            continue
        cells = frame[column].to_numpy(dtype=object)[where]
        numbers = pd.to_numeric(pd.Series(cells), errors="coerce")
        if numbers.notna().all():
            values[str(column)] = numbers.to_numpy(dtype=np.float64)
        else:
            texts[str(column)] = cells
    return replace(table, values=values, labels=texts)


def _column(table: SequenceTable, name: str) -> np.ndarray:
    """The column ``name`` (exact, else any case) as written: float64 or text ``[N]``."""
    for pool in (table.values, table.labels):
        if name in pool:
            return pool[name]
    lower = {k.lower(): k for pool in (table.values, table.labels) for k in pool}
    if name.lower() in lower:
        return _column(table, lower[name.lower()])
    found = ", ".join([*table.values, *table.labels]) or "none"
    raise InputError(f"{table.source}: no label column {name!r}; columns found: {one_line(found)}")


def _as_numbers(table: SequenceTable, name: str, column: np.ndarray) -> np.ndarray | None:
    """Numbers of a column (nan where missing), or None when it holds text labels."""
    if column.dtype != object:
        return column.astype(np.float64)
    out = np.full(len(column), np.nan)
    for i, cell in enumerate(column):
        text = str(cell).strip()
        if text.lower() in _MISSING:
            continue
        try:
            out[i] = float(text)
        except ValueError:
            return None
    return out


def read_labelled(
    path: str | Path,
    target: str | Sequence[str],
    *,
    labels: str | Path | None = None,
    task: Task | None = None,
    length: int | None = None,
) -> LabelledData:
    """Sequences of ``path`` with the ``target`` column(s) (see the module docstring); InputError
    naming the file and, where there is one, the record for anything unusable."""
    table = read_sequences(path, length=length)
    if labels is not None:
        table = _join_labels(table, labels)
    columns = target_columns(target)
    if task not in (None, "regression", "classification"):
        raise InputError(f"--task must be regression or classification; got {task!r}")
    raw = [_column(table, c) for c in columns]
    numbers = [_as_numbers(table, c, r) for c, r in zip(columns, raw)]
    if task is None:
        single = len(columns) == 1
        binary = single and numbers[0] is not None and set(np.unique(numbers[0][~np.isnan(numbers[0])])) <= {0.0, 1.0}
        task = "classification" if single and (numbers[0] is None or binary) else "regression"
    if task == "regression":
        for name, values in zip(columns, numbers):
            if values is None:
                first = next(i for i, c in enumerate(_column(table, name)) if str(c).strip().lower() not in _MISSING)
                raise InputError(
                    f"{table.source}: record {table.ids[first]!r} (#{first + 1}): {name} holds text "
                    f"({shown(str(_column(table, name)[first]))}); regression needs numbers (or --task classification)"
                )
        matrix = np.stack(numbers, axis=1)
        infinite = np.isinf(matrix).any(axis=1)
        if infinite.any():
            bad = int(np.flatnonzero(infinite)[0])
            raise InputError(f"{table.source}: record {table.ids[bad]!r} (#{bad + 1}): a target value is infinite")
        keep = ~np.isnan(matrix).any(axis=1)
        names, default = columns, columns[0]
        targets = matrix.astype(np.float32)
    else:
        if len(columns) != 1:
            raise InputError(f"--target: classification learns one label column; got {len(columns)} ({', '.join(columns)})")
        name = columns[0]
        values = numbers[0]
        if values is not None and set(np.unique(values[~np.isnan(values)])) <= {0.0, 1.0}:
            keep = ~np.isnan(values)
            names, default = (f"not_{name}", name), name
            targets = values.astype(np.int64, copy=False) if keep.all() else np.where(keep, values, 0).astype(np.int64)
        else:
            text = np.array([str(c).strip() if not isinstance(c, float) else f"{c:g}" for c in raw[0]], dtype=object)
            keep = np.array([t.lower() not in _MISSING for t in text])
            classes = tuple(sorted(set(text[keep])))
            names, default = classes, classes[0] if classes else ""
            lookup = {c: i for i, c in enumerate(classes)}
            targets = np.array([lookup.get(t, 0) for t in text], dtype=np.int64)
        if len(names) < 2 or len(set(targets[keep])) < 2:
            raise InputError(f"{table.source}: {name} holds one class only; classification needs at least two")
    rows = np.flatnonzero(keep)
    if not len(rows):
        raise InputError(f"{table.source}: no row has a value for {', '.join(columns)}")
    kept = _take(table, rows)
    return LabelledData(kept, targets[rows], tuple(names), task, default, columns, missing=len(table) - len(rows))


def _take(table: SequenceTable, rows: np.ndarray) -> SequenceTable:
    """The rows ``rows`` of ``table`` (ids, sequences, values and labels)."""
    if len(rows) == len(table):
        return table
    return replace(
        table,
        ids=[table.ids[i] for i in rows],
        sequences=[table.sequences[i] for i in rows],
        values={k: v[rows] for k, v in table.values.items()},
        labels={k: v[rows] for k, v in table.labels.items()},
    )
