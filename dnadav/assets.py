"""Find the shipped world (``oracles/``, ``datasets/``, ``models/``) in a checkout or an installed wheel.

In a source checkout (and an editable install, which imports the checkout) these are plain folders at
the repository root, deliberately *not* Python packages (no ``__init__.py``), so that they never
shadow an installed package such as ``datasets``. ``dnadav/_assets/<kind>`` are symbolic links to
them, through which the wheel carries them as package data; in an installed wheel they are real
folders under ``dnadav/_assets/<kind>/`` (see ``pyproject.toml``). Nothing is ever downloaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

__all__ = ["AssetKind", "asset_root", "asset_path"]

AssetKind = Literal["oracles", "datasets", "models"]
_PACKAGE_DIR = Path(__file__).resolve().parent
_REPO_ROOT = _PACKAGE_DIR.parent


def _is_checkout(root: Path) -> bool:
    """True when ``root`` is a dnadav source checkout (its pyproject.toml names the project)."""
    pyproject = root / "pyproject.toml"
    return pyproject.is_file() and 'name = "dnadav"' in pyproject.read_text(encoding="utf-8", errors="replace")


def asset_root(kind: AssetKind) -> Path:
    """Folder that holds the shipped ``kind`` (checkout first, then the installed wheel)."""
    if kind not in ("oracles", "datasets", "models"):
        raise ValueError(f"kind must be oracles, datasets or models; got {kind!r}")
    in_checkout = _REPO_ROOT / kind
    if in_checkout.is_dir() and _is_checkout(_REPO_ROOT):
        return in_checkout
    installed = _PACKAGE_DIR / "_assets" / kind
    if installed.is_dir():
        return installed
    raise FileNotFoundError(
        f"the shipped {kind}/ folder is missing from this installation; reinstall dnadav "
        "from a checkout or a wheel built with `pip install .`"
    )


def asset_path(kind: AssetKind, *parts: str) -> Path:
    """Path of a shipped file, e.g. ``asset_path("oracles", "dhs_reward", "model.pt")``."""
    path = asset_root(kind).joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"shipped file {kind}/{'/'.join(parts)} is missing from this installation")
    return path
