"""Oracle checkpoints and names: ``load_oracle("hepg2", role="eval")`` or ``load_oracle("path/to/dir")``.

A checkpoint is a folder with ``model.pt`` (a plain state dict, loaded with ``weights_only=True``)
and ``config.json`` (kind, class names, network config, training metadata).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, Literal

import torch

from dnadav.assets import asset_root
from dnadav.errors import InputError
from dnadav.io import atomic_write_bytes, atomic_write_text
from dnadav.oracles.base import CellTypeOracle, RegressionOracle
from dnadav.oracles.cnn import ConvClassifier, ConvClassifierConfig

__all__ = ["Role", "SHIPPED_ORACLES", "DHS_CLASSES", "save_oracle", "load_oracle", "list_oracles"]

Role = Literal["reward", "eval"]
DHS_CLASSES: tuple[str, ...] = ("HepG2", "K562", "GM12878", "hESC", "shuffled")
# name -> target class of the shipped DHS classifiers (oracles/dhs_reward, oracles/dhs_eval)
SHIPPED_ORACLES = {"hepg2": "HepG2", "k562": "K562", "gm12878": "GM12878", "hesc": "hESC"}


def save_oracle(
    directory: str | Path,
    network: ConvClassifier,
    kind: Literal["classifier", "regressor"],
    class_names: tuple[str, ...],
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write ``model.pt`` + ``config.json`` into ``directory`` (atomic)."""
    directory = Path(directory)
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in network.state_dict().items()}, buffer)
    atomic_write_bytes(directory / "model.pt", buffer.getvalue())
    config = {"kind": kind, "class_names": list(class_names), "network": network.config.to_dict(), **(metadata or {})}
    atomic_write_text(directory / "config.json", json.dumps(config, indent=2, default=str) + "\n")
    return directory


def _load_dir(directory: Path, target: str | None) -> CellTypeOracle | RegressionOracle:
    config = json.loads((directory / "config.json").read_text())
    network_config = dict(config["network"])
    network_config["kernels"] = tuple(network_config["kernels"])
    network = ConvClassifier(ConvClassifierConfig(**network_config))
    network.load_state_dict(torch.load(directory / "model.pt", map_location="cpu", weights_only=True))
    names = tuple(config["class_names"])
    target = target or config.get("default_target") or names[0]
    wrapper = CellTypeOracle if config["kind"] == "classifier" else RegressionOracle
    return wrapper(network, names, target).eval()


def load_oracle(name_or_path: str | Path, role: Role = "reward") -> CellTypeOracle | RegressionOracle:
    """A shipped oracle by name (``hepg2``, ``k562``, ``gm12878``, ``hesc``; the ``role`` picks the
    reward or the evaluation network) or a user's checkpoint folder, optionally ``folder:TARGET``."""
    if role not in ("reward", "eval"):
        raise ValueError(f"role must be reward or eval; got {role!r}")
    key = str(name_or_path).lower()
    if key in SHIPPED_ORACLES:
        directory = asset_root("oracles") / ("dhs_reward" if role == "reward" else "dhs_eval")
        if not (directory / "model.pt").is_file():
            raise FileNotFoundError(f"{directory}/model.pt is missing from this installation")
        return _load_dir(directory, SHIPPED_ORACLES[key])
    text = str(name_or_path)
    path, _, target = text.partition(":") if ":" in text and not Path(text).exists() else (text, "", "")
    directory = Path(path)
    if directory.is_file():
        directory = directory.parent
    if not (directory / "model.pt").is_file() or not (directory / "config.json").is_file():
        raise InputError(
            f"{name_or_path}: not a shipped oracle ({', '.join(SHIPPED_ORACLES)}) nor a folder with model.pt and config.json"
        )
    try:
        return _load_dir(directory, target or None)
    except ValueError as error:
        raise InputError(f"{name_or_path}: {error}") from None


def list_oracles() -> list[str]:
    """Names accepted by ``load_oracle``."""
    return sorted(SHIPPED_ORACLES)
