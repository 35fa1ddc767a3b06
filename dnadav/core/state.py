"""Copies of a network's or an optimiser's state: the one home of the snapshots the M-step keeps (the
best pass, the start of a move, the kept iteration)."""

from __future__ import annotations

import torch

__all__ = ["copy_state", "cpu_copy"]


def copy_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached copy of ``model.state_dict()``, on the device the weights are on."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def cpu_copy(value):
    """A deep copy of a (nested dict/list of) tensor state on the CPU."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().clone()
    if isinstance(value, dict):
        return {k: cpu_copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(cpu_copy(v) for v in value)
    return value
