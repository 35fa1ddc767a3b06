"""Save and load denoisers as a plain state dict (``model.pt``) plus ``config.json``.

Loading never unpickles arbitrary objects (``torch.load(..., weights_only=True)``).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import torch

from dnadav.assets import asset_root
from dnadav.diffusion.backbone import ConvDenoiser, ConvDenoiserConfig
from dnadav.errors import InputError
from dnadav.io import atomic_write_bytes, atomic_write_text

__all__ = ["MODEL_FILE", "CONFIG_FILE", "SHIPPED_MODELS", "save_denoiser", "load_denoiser", "resolve_model_dir", "load_prior"]

MODEL_FILE = "model.pt"
CONFIG_FILE = "config.json"
# Names of shipped models under models/ (see each folder's card.md).
SHIPPED_MODELS = {"dhs": "dhs_prior", "dhs_prior": "dhs_prior", "hepg2": "hepg2_aligned", "hepg2_aligned": "hepg2_aligned"}


def save_denoiser(directory: str | Path, model: ConvDenoiser, metadata: dict[str, Any] | None = None) -> Path:
    """Write ``model.pt`` (state dict, float32, CPU) and ``config.json`` into ``directory``."""
    directory = Path(directory)
    buffer = io.BytesIO()
    torch.save({k: v.detach().float().cpu() for k, v in model.state_dict().items()}, buffer)
    atomic_write_bytes(directory / MODEL_FILE, buffer.getvalue())
    config = {"architecture": "ConvDenoiser", "backbone": model.config.to_dict(), **(metadata or {})}
    atomic_write_text(directory / CONFIG_FILE, json.dumps(config, indent=2, default=str) + "\n")
    return directory


def resolve_model_dir(name_or_path: str | Path) -> Path:
    """A shipped model name (``dhs``, ``hepg2``) or a directory holding model.pt + config.json."""
    key = str(name_or_path).lower()
    if key in SHIPPED_MODELS:
        return asset_root("models") / SHIPPED_MODELS[key]
    path = Path(name_or_path)
    if path.is_file() and path.name == MODEL_FILE:
        path = path.parent
    if not (path / MODEL_FILE).is_file() or not (path / CONFIG_FILE).is_file():
        choices = ", ".join(sorted(SHIPPED_MODELS))
        raise InputError(f"{name_or_path}: not a shipped model ({choices}) nor a folder with {MODEL_FILE} and {CONFIG_FILE}")
    return path


def load_denoiser(name_or_path: str | Path, device: torch.device | str = "cpu") -> tuple[ConvDenoiser, dict[str, Any]]:
    """Load a denoiser in eval mode and its config dict."""
    directory = resolve_model_dir(name_or_path)
    if not (directory / MODEL_FILE).is_file():
        raise FileNotFoundError(f"{directory / MODEL_FILE}: missing; was this model shipped or trained?")
    config = json.loads((directory / CONFIG_FILE).read_text())
    backbone = dict(config["backbone"])
    backbone["dilations"] = tuple(backbone["dilations"])
    model = ConvDenoiser(ConvDenoiserConfig(**backbone))
    state = torch.load(directory / MODEL_FILE, map_location=device, weights_only=True)
    model.load_state_dict(state)
    return model.to(device).eval(), config


def load_prior(name_or_path: str | Path = "dhs", device: torch.device | str = "cpu") -> ConvDenoiser:
    """The pretrained prior p_pre (the shipped DHS prior by default), in eval mode."""
    return load_denoiser(name_or_path, device)[0]
