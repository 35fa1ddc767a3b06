"""Dispatch by file: a published ``.ckpt`` goes to the rebuilt DRAKES / gReLU architectures, anything
else to dnadav's own folders. These are the functions ``design``, ``align`` and ``load_oracle`` call.

DRAKES's file names: ``pretrained.ckpt`` / ``last.ckpt`` (the MDLM prior), ``reward_oracle_ft.ckpt``
(reward oracle, DRAKES's fine-tuning target) and ``reward_oracle_eval.ckpt`` (evaluation oracle).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from dnadav.dna.checkpoint import load_denoiser
from dnadav.published.drakes_mdlm import Weights, load_drakes_mdlm

__all__ = [
    "DRAKES_ORACLE_FILES",
    "is_checkpoint_file",
    "load_denoiser_any",
    "load_model",
    "published_oracle_file",
]

DRAKES_ORACLE_FILES = {"reward": "reward_oracle_ft.ckpt", "eval": "reward_oracle_eval.ckpt"}


def is_checkpoint_file(path: str | Path) -> bool:
    """True for an existing ``*.ckpt`` file (a Lightning checkpoint, not a dnadav model folder)."""
    path = Path(path)
    return path.suffix == ".ckpt" and path.is_file()


def load_denoiser_any(
    name_or_path: str | Path, device: torch.device | str = "cpu", weights: Weights = "raw"
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """``load_denoiser``'s contract for both kinds: (denoiser in eval mode, config dict).

    A ``.ckpt`` is DRAKES's MDLM (``weights`` raw — what DRAKES sampled with — or ema); anything else
    is a dnadav model name or folder (``dnadav.dna.checkpoint.load_denoiser``).
    """
    if is_checkpoint_file(name_or_path):
        model = load_drakes_mdlm(name_or_path, weights=weights, device=device)
        config = {
            "architecture": "DrakesDenoiser",
            "source": str(name_or_path),
            "weights": weights,
            "schedule": "loglinear",
            "length": 200,
            "backbone": {"hidden_dim": model.config.hidden_dim, "num_cnn_stacks": model.config.num_cnn_stacks},
        }
        model.checkpoint_file = Path(name_or_path)
        return model, config
    return load_denoiser(name_or_path, device)


def load_model(name_or_path: str | Path, device: torch.device | str = "cpu", weights: Weights = "raw") -> torch.nn.Module:
    """A denoiser ``(x_t [B, L], t [B]) -> logits [B, L, 4]`` from a ``.ckpt`` or a dnadav model (eval mode)."""
    return load_denoiser_any(name_or_path, device, weights)[0]


def published_oracle_file(directory: Path, role: str) -> Path | None:
    """DRAKES's oracle file for ``role`` inside ``directory`` when it is there."""
    candidate = directory / DRAKES_ORACLE_FILES.get(role, "")
    return candidate if candidate.is_file() else None
