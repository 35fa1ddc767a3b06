"""Find the shipped world (``oracles/``, ``datasets/``, ``models/``) in a checkout or an installed wheel.

In a source checkout these are folders at the repository root; in a wheel they are installed as the
packages ``dnadav._assets.<kind>`` (see ``pyproject.toml``). Nothing is ever downloaded.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Literal

__all__ = ["AssetKind", "asset_root", "asset_path"]

AssetKind = Literal["oracles", "datasets", "models"]
_REPO_ROOT = Path(__file__).resolve().parent.parent


def asset_root(kind: AssetKind) -> Path:
    """Folder that holds the shipped ``kind`` (checkout first, then the installed wheel)."""
    in_checkout = _REPO_ROOT / kind
    if (in_checkout / "__init__.py").is_file() and (_REPO_ROOT / "pyproject.toml").is_file():
        return in_checkout
    spec = importlib.util.find_spec(f"dnadav._assets.{kind}")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    raise FileNotFoundError(
        f"the shipped {kind}/ folder is missing from this installation; reinstall dnadav "
        "from a checkout or a wheel built with `pip install .`"
    )


def asset_path(kind: AssetKind, *parts: str) -> Path:
    """Path of a shipped file, e.g. ``asset_path("oracles", "hepg2_reward", "model.safetensors")``."""
    path = asset_root(kind).joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"shipped file {kind}/{'/'.join(parts)} is missing from this installation")
    return path
