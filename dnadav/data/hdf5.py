"""HDF5 sequence files (h5py): dataset ``sequences`` of strings [N] or one-hot [N, 4, L] / [N, L, 4],
optional ``ids`` [N]; other numeric [N] datasets are carried along as values."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dnadav.errors import InputError
from dnadav.seq import ALPHABET

__all__ = ["read_hdf5_records"]


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())


def _decode(items: np.ndarray) -> list[str]:
    return [i.decode() if isinstance(i, bytes) else str(i) for i in items]


def _onehot_strings(path: Path, onehot: np.ndarray, ids: list[str] | None) -> list[str]:
    """``onehot [N, 4, L]`` -> strings; every column must hold exactly one 1."""
    ok = (onehot.sum(axis=1) == 1) & (onehot.max(axis=1) == 1)  # [N, L]
    if not ok.all():
        row, position = (int(i) for i in np.argwhere(~ok)[0])
        name = ids[row] if ids else f"row{row + 1}"
        raise InputError(
            f"{path}: record {name!r} (#{row + 1}): one-hot column at position {position + 1} is not exactly one 1 "
            "(masked, N or soft values are not A/C/G/T)"
        )
    letters = np.frombuffer(ALPHABET.encode(), dtype=np.uint8)[onehot.argmax(axis=1)]  # [N, L] bytes
    return [row.tobytes().decode() for row in letters]


def read_hdf5_records(path: Path) -> tuple[list[str], list[str], dict[str, np.ndarray]]:
    """(ids, unvalidated sequences, numeric [N] datasets) of an HDF5 file; see ``read_sequences``."""
    import h5py

    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise InputError(f"{path}: not a readable HDF5 file ({_one_line(error)})") from None
    with handle:
        if "sequences" not in handle:
            raise InputError(f"{path}: no 'sequences' dataset; datasets found: {', '.join(handle.keys()) or 'none'}")
        data = handle["sequences"][()]
        ids = _decode(handle["ids"][()]) if "ids" in handle else None
        others = {
            name: handle[name][()]
            for name in handle
            if name not in ("sequences", "ids") and isinstance(handle[name], h5py.Dataset)
        }
    if ids is not None and len(ids) != len(data):
        raise InputError(f"{path}: 'ids' holds {len(ids)} entries but 'sequences' holds {len(data)}")
    if data.dtype.kind in "SOU" and data.ndim == 1:
        sequences = _decode(data)
    elif data.ndim == 3 and 4 in data.shape[1:]:
        sequences = _onehot_strings(path, data if data.shape[1] == 4 else data.transpose(0, 2, 1), ids)
    else:
        raise InputError(
            f"{path}: 'sequences' must hold strings [N] or one-hot [N, 4, L] / [N, L, 4]; got {data.dtype} {data.shape}"
        )
    values = {
        name: array.astype(np.float64)
        for name, array in others.items()
        if array.ndim == 1 and len(array) == len(sequences) and array.dtype.kind in "iuf"
    }
    return ids or [f"row{i + 1}" for i in range(len(sequences))], sequences, values
