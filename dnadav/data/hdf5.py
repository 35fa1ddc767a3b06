"""HDF5 sequence files (h5py): dataset ``sequences`` of strings [N] or one-hot [N, 4, L] / [N, L, 4],
optional ``ids`` [N]; other numeric [N] datasets are carried along as values. Also the imported
Gosai table (``write_gosai_hdf5`` / ``read_gosai_hdf5``), which is such a file with more columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dnadav.dna.tokens import ALPHABET
from dnadav.errors import InputError, one_line

__all__ = ["GOSAI_HDF5_FORMAT", "gosai_hdf5_codes", "read_gosai_hdf5", "read_hdf5_records", "write_gosai_hdf5"]


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


def read_hdf5_records(path: Path) -> tuple[list[str], list[str], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(ids, unvalidated sequences, numeric [N] datasets, string [N] datasets) of an HDF5 file; see
    ``read_sequences``."""
    import h5py

    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise InputError(f"{path}: not a readable HDF5 file ({one_line(error)})") from None
    with handle:
        if "sequences" not in handle:
            raise InputError(f"{path}: no 'sequences' dataset; datasets found: {one_line(', '.join(handle.keys())) or 'none'}")
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
    labels = {
        name: np.array(_decode(array), dtype=object)
        for name, array in others.items()
        if array.ndim == 1 and len(array) == len(sequences) and array.dtype.kind in "SOU"
    }
    return ids or [f"row{i + 1}" for i in range(len(sequences))], sequences, values, labels


GOSAI_HDF5_FORMAT = "dnadav-gosai-1"
_GOSAI_NUMERIC = ("hepg2", "k562", "sknsh")


def write_gosai_hdf5(path: str | Path, table, source_sha256: str = "") -> Path:
    """Write a Gosai table (columns seq, hepg2, k562, sknsh, chrom, split) to HDF5, atomically.

    Datasets: ``sequences`` fixed-width ASCII ``S{L}`` [N] (what ``read_sequences`` reads), the three
    activities float64 [N], ``chrom`` and ``split`` as short byte strings [N]; attributes ``format``
    and ``source_sha256``. Light gzip (level 1) with byte shuffling on chunks of 16k rows.
    """
    import os
    import tempfile

    import h5py

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = len(table)
    length = int(table["seq"].str.len().max())
    sequences = np.frombuffer("".join(table["seq"]).encode("ascii"), dtype=f"S{length}")
    chunk = (min(n, 16384),)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as handle:
            handle.attrs["format"] = GOSAI_HDF5_FORMAT
            handle.attrs["source_sha256"] = source_sha256
            handle.create_dataset("sequences", data=sequences, chunks=chunk, compression="gzip", compression_opts=1, shuffle=True)
            for name in _GOSAI_NUMERIC:
                handle.create_dataset(
                    name, data=table[name].to_numpy(np.float64), chunks=chunk, compression="gzip", compression_opts=1
                )
            for name in ("chrom", "split"):
                values = table[name].astype(str).str.encode("ascii").to_numpy().astype("S")
                handle.create_dataset(name, data=values, chunks=chunk, compression="gzip", compression_opts=1)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _gosai_handle(path: Path):
    import h5py

    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise InputError(f"{path}: not a readable HDF5 file ({one_line(error)})") from None
    missing = [n for n in ("sequences", *_GOSAI_NUMERIC, "chrom", "split") if n not in handle]
    if missing or handle.attrs.get("format") != GOSAI_HDF5_FORMAT:
        handle.close()
        raise InputError(
            f"{path}: not a table written by `dnadav data import-gosai` (missing {', '.join(missing) or 'format tag'})"
        )
    return handle


def gosai_hdf5_codes(path: str | Path) -> np.ndarray:
    """The sequences of an imported Gosai HDF5 as ASCII codes ``[N, L]`` uint8 (no Python strings)."""
    with _gosai_handle(Path(path)) as handle:
        raw = handle["sequences"][()]
    return raw.view(np.uint8).reshape(len(raw), -1)


def _decode_ascii(raw: np.ndarray) -> list[str]:
    return [item.decode("ascii") for item in raw.tolist()]


def read_gosai_hdf5(path: str | Path, sequences: bool = True):
    """An imported Gosai HDF5 -> DataFrame ``seq, hepg2, k562, sknsh, chrom, split`` (``seq`` left out
    unless ``sequences``: the strings are most of the time and memory)."""
    import pandas as pd

    with _gosai_handle(Path(path)) as handle:
        columns = {"seq": _decode_ascii(handle["sequences"][()])} if sequences else {}
        columns.update({name: handle[name][()] for name in _GOSAI_NUMERIC})
        columns.update({name: _decode_ascii(handle[name][()]) for name in ("chrom", "split")})
    return pd.DataFrame(columns)
