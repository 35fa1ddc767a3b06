"""Atomic writes, overwrite protection, checksums and run manifests."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from dnadav.errors import InputError

__all__ = ["atomic_write_bytes", "atomic_write_text", "check_writable", "sha256_file", "write_manifest"]


def check_writable(path: str | Path, force: bool) -> Path:
    """Refuse to overwrite an existing ``path`` unless ``force``; create its parent folder."""
    path = Path(path)
    if path.exists() and not force:
        raise InputError(f"{path}: already exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Atomic UTF-8 text write (see atomic_write_bytes)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for name in ("dnadav", "torch", "numpy", "pytorch-lightning"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def write_manifest(
    path: str | Path,
    *,
    config: Mapping[str, Any],
    checkpoints: Iterable[str | Path] = (),
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write a JSON manifest (command line, config, versions, checkpoint sha256s, time) atomically."""
    manifest = {
        "command": " ".join(["dnadav", *sys.argv[1:]]) if sys.argv else "",
        "config": dict(config),
        "versions": _versions(),
        "checkpoints": {str(p): sha256_file(p) for p in checkpoints},
        "created_unix": time.time(),
        **(dict(extra) if extra else {}),
    }
    return atomic_write_text(path, json.dumps(manifest, indent=2, default=str) + "\n")
