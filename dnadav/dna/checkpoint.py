"""Denoiser checkpoints: ``model.pt`` (plain state dict) + ``config.json`` through ``dnadav.checkpoint_format``.

``config.json`` holds ``architecture`` ("ConvDenoiser"), ``backbone`` (``ConvDenoiserConfig``),
``schedule`` (the masking schedule the model was trained with: sampling must use the same one) and
``length`` (the sequence length it was trained on), plus training metadata. Loading never unpickles
objects; a bad folder is an ``InputError`` naming it and the problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from dnadav.assets import asset_root
from dnadav.checkpoint_format import CONFIG_FILE, MODEL_FILE, load_state, read_checkpoint, save_checkpoint
from dnadav.dna.backbone import ConvDenoiser, ConvDenoiserConfig
from dnadav.dna.schedule import Schedule, make_schedule
from dnadav.errors import InputError

__all__ = [
    "CONFIG_FILE",
    "MODEL_FILE",
    "SHIPPED_MODELS",
    "load_denoiser",
    "load_prior",
    "model_length",
    "model_schedule",
    "resolve_model_dir",
    "save_denoiser",
]

# Names of shipped models under models/ (see each folder's card.md).
# name -> folder under models/: the prior, and the aligned model of each cell type (cards in each folder)
SHIPPED_MODELS = {
    "dhs": "dhs_prior",
    "dhs_prior": "dhs_prior",
    **{f"{cell}{suffix}": f"{cell}_aligned" for cell in ("hepg2", "k562", "gm12878", "hesc") for suffix in ("", "_aligned")},
}


def save_denoiser(directory: str | Path, model: ConvDenoiser, metadata: dict[str, Any] | None = None) -> Path:
    """Write ``model.pt`` (state dict, float32, CPU) and ``config.json`` into ``directory``.

    ``metadata`` should carry ``schedule`` and ``length`` (what design and align read back)."""
    config = {"architecture": "ConvDenoiser", "backbone": model.config.to_dict(), **(metadata or {})}
    return save_checkpoint(directory, model, config, float32=True)


def resolve_model_dir(name_or_path: str | Path) -> Path:
    """A shipped model name (``dhs``, ``dhs_prior``, ``hepg2``, ``hepg2_aligned``) or a folder holding
    model.pt + config.json (or the model.pt itself)."""
    key = str(name_or_path).lower()
    if key in SHIPPED_MODELS:
        return asset_root("models") / SHIPPED_MODELS[key]
    path = Path(name_or_path)
    if path.is_file() and (path.name == MODEL_FILE or path.suffix == ".ckpt"):
        path = path.parent
    if not path.is_dir() or not ((path / MODEL_FILE).is_file() or (path / CONFIG_FILE).is_file()):
        choices = ", ".join(sorted(SHIPPED_MODELS))
        raise InputError(f"{name_or_path}: not a shipped model ({choices}) nor a folder with {MODEL_FILE} and {CONFIG_FILE}")
    return path


def load_denoiser(name_or_path: str | Path, device: torch.device | str = "cpu") -> tuple[torch.nn.Module, dict[str, Any]]:
    """Load a denoiser in eval mode and its config dict; InputError for a bad checkpoint.

    The module carries ``checkpoint_file``, the weights file it was read from (for manifests). A
    published DRAKES MDLM ``.ckpt`` is loaded by ``dnadav.published.dispatch.load_denoiser_any``."""
    directory = resolve_model_dir(name_or_path)
    state, config = read_checkpoint(directory, device)
    if config.get("architecture", "ConvDenoiser") != "ConvDenoiser" or not isinstance(config.get("backbone"), dict):
        raise InputError(f"{directory}/{CONFIG_FILE}: not a ConvDenoiser config (needs architecture and backbone)")
    try:
        model = ConvDenoiser(ConvDenoiserConfig.from_dict(config["backbone"]))
    except (TypeError, ValueError) as error:
        raise InputError(f"{directory}/{CONFIG_FILE}: {error}") from None
    load_state(model, state, directory)
    model.checkpoint_file = directory / MODEL_FILE
    return model.to(device).eval(), config


def model_schedule(config: dict[str, Any]) -> Schedule:
    """The masking schedule a checkpoint's config names (log-linear for old configs without one)."""
    name = config.get("schedule", "loglinear")
    try:
        return make_schedule(name)
    except (ValueError, KeyError) as error:
        raise InputError(f"config.json: unknown schedule {name!r} ({error})") from None


def model_length(config: dict[str, Any]) -> int | None:
    """The sequence length a checkpoint was trained on, or None when its config does not say."""
    length = config.get("length")
    return int(length) if length is not None else None


def load_prior(name_or_path: str | Path = "dhs", device: torch.device | str = "cpu") -> ConvDenoiser:
    """The pretrained prior p_pre (the shipped DHS prior by default), in eval mode."""
    return load_denoiser(name_or_path, device)[0]
