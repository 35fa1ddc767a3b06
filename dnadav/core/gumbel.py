"""Gumbel-max sampling: the one home of the trick for every categorical draw in dnadav."""

from __future__ import annotations

import torch

__all__ = ["gumbel_noise", "gumbel_argmax"]


def gumbel_noise(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device | str) -> torch.Tensor:
    """Standard Gumbel noise of ``shape`` (float32), from uniforms clamped away from 0 and 1."""
    uniform = torch.rand(shape, generator=generator, device=device)
    return -torch.log(-torch.log(uniform.clamp(1e-20, 1.0 - 1e-7)))


def gumbel_argmax(
    logits: torch.Tensor, generator: torch.Generator | None, shape: tuple[int, ...] | None = None, dim: int = -1
) -> torch.Tensor:
    """One categorical draw along ``dim`` from unnormalised log-probabilities -> int64 indices.

    ``shape`` (default ``logits.shape``) is the shape of the noise; ``logits`` broadcast to it, so
    several independent draws from the same rows need no copy of the rows (e.g. ``logits[:, None]``
    with ``shape = (N, M, L, V)`` draws M children per row).
    """
    noise = gumbel_noise(tuple(shape or logits.shape), generator, logits.device)
    return (logits + noise).argmax(dim=dim)
