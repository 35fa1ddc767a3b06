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
from dnadav.checkpoint_format import (
    CONFIG_FILE,
    MAX_BLOCKS,
    MAX_KERNEL,
    MAX_LENGTH,
    MAX_WIDTH,
    MODEL_FILE,
    build_checked,
    check_sizes,
    read_checkpoint,
    save_checkpoint,
)
from dnadav.dna.backbone import ConvDenoiser, ConvDenoiserConfig
from dnadav.dna.schedule import Schedule, make_schedule
from dnadav.errors import InputError, shown

__all__ = [
    "CONFIG_FILE",
    "MODEL_FILE",
    "BACKBONE_LIMITS",
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

# The sizes a config.json's ``backbone`` may ask for (checked before anything is built).
BACKBONE_LIMITS = {
    "channels": MAX_WIDTH,
    "num_blocks": MAX_BLOCKS,
    "kernel_size": MAX_KERNEL,
    "dilations": MAX_KERNEL,
    "time_embedding_dim": MAX_WIDTH,
}


def save_denoiser(directory: str | Path, model: ConvDenoiser, metadata: dict[str, Any] | None = None) -> Path:
    """Write ``model.pt`` (state dict, float32, CPU) and ``config.json`` into ``directory``.

    ``metadata`` should carry ``schedule`` and ``length`` (what design and align read back)."""
    config = {"architecture": "ConvDenoiser", "backbone": model.config.to_dict(), **(metadata or {})}
    return save_checkpoint(directory, model, config, float32=True)


def resolve_model_dir(name_or_path: str | Path) -> Path:
    """The one rule that turns ``--model`` / ``load_model``'s argument into a dnadav model folder: a
    shipped model name (``dhs``, ``dhs_prior``, ``hepg2``, ``hepg2_aligned``), a folder holding
    model.pt + config.json, or the model.pt itself. Anything else is an InputError that says which
    of these it is not (a published ``.ckpt`` file is dispatched before this rule is asked)."""
    key = str(name_or_path).lower()
    if key in SHIPPED_MODELS:
        return asset_root("models") / SHIPPED_MODELS[key]
    path = Path(name_or_path)
    if path.is_file() and path.name == MODEL_FILE:
        path = path.parent
    if path.is_dir() and ((path / MODEL_FILE).is_file() or (path / CONFIG_FILE).is_file()):
        return path
    shipped = ", ".join(sorted(SHIPPED_MODELS))
    expected = f"a shipped model ({shipped}), a folder with {MODEL_FILE} and {CONFIG_FILE}, or a published .ckpt file"
    if not path.exists():
        raise InputError(f"{name_or_path}: no such model file or folder; expected {expected}")
    what = "a folder without model.pt or config.json" if path.is_dir() else "not a model file"
    raise InputError(f"{name_or_path}: {what}; expected {expected}")


def load_denoiser(name_or_path: str | Path, device: torch.device | str = "cpu") -> tuple[torch.nn.Module, dict[str, Any]]:
    """Load a denoiser in eval mode and its config dict; InputError for a bad checkpoint.

    The module carries ``checkpoint_file``, the weights file it was read from (for manifests). A
    published DRAKES MDLM ``.ckpt`` is loaded by ``dnadav.published.dispatch.load_denoiser_any``."""
    directory = resolve_model_dir(name_or_path)
    state, config = read_checkpoint(directory, device)
    if config.get("architecture", "ConvDenoiser") != "ConvDenoiser" or not isinstance(config.get("backbone"), dict):
        raise InputError(f"{directory}/{CONFIG_FILE}: not a ConvDenoiser config (needs architecture and backbone)")
    where = f"{directory}/{CONFIG_FILE}"
    check_sizes(config["backbone"], BACKBONE_LIMITS, f"{where}: backbone")
    model_length(config, where)
    try:
        backbone = ConvDenoiserConfig.from_dict(config["backbone"])
        model = build_checked(lambda: ConvDenoiser(backbone), state, directory)
    except InputError:
        raise
    except (TypeError, ValueError) as error:
        raise InputError(f"{where}: {str(error)[:200]}") from None
    model.checkpoint_file = directory / MODEL_FILE
    return model.to(device).eval(), config


def model_schedule(config: dict[str, Any]) -> Schedule:
    """The masking schedule a checkpoint's config names (log-linear for old configs without one)."""
    name = config.get("schedule", "loglinear")
    try:
        return make_schedule(name)
    except (ValueError, KeyError, TypeError) as error:
        raise InputError(f"config.json: unknown schedule {shown(name)} ({str(error)[:120]})") from None


def model_length(config: dict[str, Any], where: str = CONFIG_FILE) -> int | None:
    """The sequence length a checkpoint was trained on, or None when its config does not say;
    InputError (naming ``where``) unless it is a whole number in 1..``MAX_LENGTH``."""
    length = config.get("length")
    if length is None:
        return None
    check_sizes({"length": length}, {"length": MAX_LENGTH}, where)
    return int(length)


def load_prior(name_or_path: str | Path = "dhs", device: torch.device | str = "cpu") -> ConvDenoiser:
    """The pretrained prior p_pre (the shipped DHS prior by default), in eval mode."""
    return load_denoiser(name_or_path, device)[0]
