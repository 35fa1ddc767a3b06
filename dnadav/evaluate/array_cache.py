"""One array computed once per content: ``cached_array(kind, parts, compute)`` reads ``compute()``'s
result from the cache folder of ``dnadav.evaluate.reference_cache`` (``$DNADAV_CACHE_DIR``, ``off``
turns it off) or computes and stores it there.

The key hashes ``kind``, the content fingerprints in ``parts`` (``reference_cache.fingerprint``: oracles
by their weights, sequence sets by their letters) and the source of the dnadav package, so a changed
model, input or line of code computes afresh. Anything that cannot be fingerprinted for sure is
computed, never cached. Used for the evaluation oracle's ranking of the held-out reference set, which
every ``dnadav evaluate`` with the default reference would otherwise recompute (about 0.5 s a call).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dnadav.evaluate.reference_cache import cache_dir, code_fingerprint, content_hash, fingerprint
from dnadav.io import atomic_write_bytes

__all__ = ["cached_array"]


def cached_array(
    kind: str, parts: Sequence[Any], compute: Callable[[], np.ndarray], folder: str | Path | None = "default"
) -> np.ndarray:
    """``compute()`` (a numeric array), read from ``<cache>/<kind>/<key>.npz`` when stored there, else
    computed and stored atomically. ``parts``: what the result depends on besides the code (hashed with
    ``fingerprint``). ``folder``: the cache folder (default ``cache_dir()``; None: always compute). A folder
    that cannot be written, or an unreadable entry, falls back to computing."""
    folder = cache_dir() if folder == "default" else folder
    prints = [fingerprint(part) for part in parts]
    if folder is None or any(p is None for p in prints):
        return compute()
    path = Path(folder) / kind / f"{content_hash([code_fingerprint(), kind, prints])}.npz"
    try:
        with np.load(path, allow_pickle=False) as stored:
            return stored["value"]
    except (OSError, ValueError, KeyError):
        pass
    value = np.asarray(compute())
    if value.dtype.kind not in "biuf":
        return value
    buffer = io.BytesIO()
    np.savez(buffer, value=value)
    try:
        atomic_write_bytes(path, buffer.getvalue())  # makes the folder
    except OSError:
        pass  # a cache that cannot be written is passed over
    return value
