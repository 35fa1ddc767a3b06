"""Alignment strength: sample an aligned model scaled back toward the prior it was aligned from.

``with_strength(model, s)`` returns the model whose weights are ``prior + s·(aligned − prior)`` (every
floating-point tensor; s = 1 is the aligned model itself, s = 0 the prior). It is the straight segment in
weight space that ``align --back-off`` searches (``dnadav.core.back_off``), offered at sampling time: on
the shipped HepG2 model s = 0.5 / 0.7 / 0.85 trace DAV's reward-naturalness curve between the prior and the
model (docs/benchmarks.md, "does DAV dominate?"), much as a LoRA scale does for an image adapter. The prior
is the one the model's config names (``aligned_from``, a shipped model) unless ``prior`` gives a folder.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import torch

from dnadav.errors import InputError

__all__ = ["with_strength"]


def with_strength(model: torch.nn.Module, strength: float, prior: str | Path | None = None) -> torch.nn.Module:
    """``model`` (as ``dnadav.loaders.load_model`` returns it) at ``strength`` s in (0, 1]: a copy with
    weights ``prior + s·(model − prior)``, or ``model`` itself at s = 1. InputError (one line) for an s
    outside (0, 1], a model with no prior named in its config and none given, or a prior of other shapes."""
    from dnadav.core.move_limit import interpolate_weights
    from dnadav.loaders import load_model

    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or math.isnan(strength) or not 0 < strength <= 1:
        raise InputError(f"strength must be a number in (0, 1] (1 = the model as aligned); got {strength!r}")
    if strength == 1:
        if prior is not None:
            raise InputError("prior is for strength < 1 (the prior a model is scaled back toward); strength is 1")
        return model
    name = prior if prior is not None else (model.config_dict or {}).get("aligned_from")
    if name is None:
        raise InputError("strength < 1 needs the prior the model was aligned from: its config names none (give --prior FOLDER)")
    try:
        base = load_model(name, next(model.parameters()).device)
    except (FileNotFoundError, KeyError, ValueError) as error:
        raise InputError(f"strength: cannot load the prior {str(name)!r} (give --prior FOLDER): {error}") from None
    start, end = base.state_dict(), model.state_dict()
    if {k: v.shape for k, v in start.items()} != {k: v.shape for k, v in end.items()}:
        raise InputError(f"strength: the prior {str(name)!r} has other weights than the model (another architecture)")
    scaled = copy.deepcopy(model)
    interpolate_weights(scaled, start, end, float(strength))
    scaled.strength_prior_file = getattr(base, "checkpoint_file", None)
    return scaled
