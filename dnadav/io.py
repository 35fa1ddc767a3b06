"""Atomic writes, overwrite protection, checksums and run manifests."""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import shlex
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from dnadav.errors import InputError

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "check_writable",
    "current_command",
    "finite_or_none",
    "save_pretrained",
    "read_json_object",
    "read_text_file",
    "set_command",
    "sha256_file",
    "write_manifest",
]


def check_writable(path: str | Path, force: bool) -> Path:
    """Refuse to overwrite an existing ``path`` unless ``force``; create its parent folder."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a directory; give a file name inside it, e.g. {path / 'designs.fa'}")
    if path.exists() and not force:
        raise InputError(f"{path}: already exists; pass --force to overwrite it")
    if path.parent.exists() and not path.parent.is_dir():
        raise InputError(f"{path.parent}: is a file, not a folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _current_umask() -> int:
    """The process umask (read by setting and restoring it; there is no read-only call)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def save_pretrained(obj, folder: str | Path, **kwargs) -> Path:
    """``obj.save_pretrained(folder, **kwargs)`` (a diffusers model or scheduler), then every file it
    wrote gets the mode an ordinary ``open(path, "w")`` would (0666 minus the umask): diffusers leaves
    its safetensors file 0600, readable by its owner only."""
    folder = Path(folder)
    obj.save_pretrained(folder, **kwargs)
    mode = 0o666 & ~_current_umask()
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            path.chmod(mode)
    return folder


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    The file gets the mode an ordinary ``open(path, "w")`` would give (0666 minus the umask), not
    the 0600 of the temporary file. ``path`` naming a directory is an InputError."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a directory; give a file name inside it")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_current_umask())
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


def read_text_file(path: str | Path, what: str = "file") -> str:
    """The UTF-8 text of ``path``; InputError (one line naming the file and ``what`` it is for) when it
    cannot be read or is not UTF-8. Every reader of a user's text file goes through here."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: {what} is not UTF-8 text (byte {error.start} cannot be decoded)") from None
    except OSError as error:
        raise InputError(f"{path}: cannot read {what} ({error.strerror or type(error).__name__})") from None


def read_json_object(path: str | Path, what: str = "JSON file") -> dict:
    """The JSON object in ``path``; InputError (one line naming the file) if it is unreadable, not
    valid JSON or not an object. The caller checks that the file exists (its message knows what the
    file is for)."""
    path = Path(path)
    text = read_text_file(path, what)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: not valid JSON ({error})") from None
    except (ValueError, RecursionError) as error:  # an integer of > 4300 digits, nesting deeper than the stack
        raise InputError(f"{path}: not usable JSON ({type(error).__name__}: {str(error)[:80]})") from None
    if not isinstance(value, dict):
        raise InputError(f"{path}: expected a JSON object; got {type(value).__name__}")
    return value


def finite_or_none(value: Any) -> Any:
    """``value`` with every float that is nan or ±inf replaced by None (JSON ``null``), through
    dicts, lists and tuples: what every JSON file dnadav writes holds instead of ``NaN``/``Infinity``
    (which are not JSON). Other values pass unchanged."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    if hasattr(value, "dtype") and getattr(value, "ndim", None) == 0 and value.dtype.kind == "f":
        return value if math.isfinite(float(value)) else None  # a numpy scalar float, kept as it was
    return value


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


_COMMAND: list[str] | None = None


def set_command(argv: Iterable[str] | None) -> None:
    """Record the command line being run (``dnadav.cli.main`` calls this; None clears it)."""
    global _COMMAND
    _COMMAND = None if argv is None else [str(a) for a in argv]


def current_command(python_call: str) -> str:
    """The command line for a manifest: ``dnadav ARGS`` under the CLI, else ``python_call`` (the API call)."""
    if _COMMAND is not None:
        return " ".join(shlex.quote(a) for a in ["dnadav", *_COMMAND])
    return python_call


def write_manifest(
    path: str | Path,
    *,
    command: str,
    config: Mapping[str, Any],
    checkpoints: Mapping[str, str | Path] | Iterable[str | Path] = (),
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write a JSON manifest (command, config, versions, checkpoint sha256s, time) atomically.

    ``checkpoints``: role -> file (e.g. ``{"model": ..., "eval_oracle": ...}``) or plain files; each
    is recorded with its sha256 and a path relative to the shipped assets when it is one of them."""
    items = checkpoints.items() if isinstance(checkpoints, Mapping) else ((str(p), p) for p in checkpoints)
    manifest = finite_or_none(
        {
            "command": command,
            "config": dict(config),
            "versions": _versions(),
            "checkpoints": {role: {"path": _portable(p), "sha256": sha256_file(p)} for role, p in items},
            "created_unix": time.time(),
            **(dict(extra) if extra else {}),
        }
    )
    return atomic_write_text(path, json.dumps(manifest, indent=2, default=str) + "\n")


def _portable(path: str | Path) -> str:
    """``path`` as ``<shipped>/models/...`` when it lies in the shipped assets, else as given."""
    from dnadav.assets import asset_root

    resolved = Path(path).resolve()
    for kind in ("models", "oracles", "datasets"):
        try:
            return f"<shipped>/{kind}/{resolved.relative_to(asset_root(kind).resolve()).as_posix()}"
        except (ValueError, FileNotFoundError):
            continue
    return str(path)
