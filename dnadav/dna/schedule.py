"""Noise schedules for masked diffusion: ``alpha_t`` = probability that a position is still unmasked.

``t ∈ [0, 1]``, t = 0 clean, t = 1 (almost) fully masked. The continuous-time NELBO weights the
cross-entropy at time t by ``-alpha'_t / (1 - alpha_t)`` (``loss_weight``), which is 1/t for the
log-linear schedule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal, Protocol

import torch

__all__ = ["Schedule", "LogLinearSchedule", "CosineSchedule", "ScheduleName", "make_schedule"]

ScheduleName = Literal["loglinear", "cosine"]


class Schedule(Protocol):
    """A masking schedule. All methods take and return tensors of the same shape (any shape)."""

    def alpha(self, t: torch.Tensor) -> torch.Tensor:
        """Probability a position is unmasked at time t."""
        ...

    def alpha_derivative(self, t: torch.Tensor) -> torch.Tensor:
        """d alpha / dt (≤ 0)."""
        ...

    def loss_weight(self, t: torch.Tensor) -> torch.Tensor:
        """NELBO weight ``-alpha'_t / (1 - alpha_t)``."""
        ...


@dataclass(frozen=True)
class LogLinearSchedule:
    """``alpha_t = 1 - (1 - eps) t``: masking probability grows linearly; weight = 1/t."""

    name: ClassVar[str] = "loglinear"  # make_schedule's name for it
    eps: float = 1e-3

    def alpha(self, t: torch.Tensor) -> torch.Tensor:
        return 1.0 - (1.0 - self.eps) * t

    def alpha_derivative(self, t: torch.Tensor) -> torch.Tensor:
        return torch.full_like(t, -(1.0 - self.eps))

    def loss_weight(self, t: torch.Tensor) -> torch.Tensor:
        return -self.alpha_derivative(t) / (1.0 - self.alpha(t))


@dataclass(frozen=True)
class CosineSchedule:
    """``alpha_t = 1 - (1 - eps)(1 - cos(πt/2))``: slow masking early, fast late."""

    name: ClassVar[str] = "cosine"
    eps: float = 1e-3

    def alpha(self, t: torch.Tensor) -> torch.Tensor:
        return 1.0 - (1.0 - self.eps) * (1.0 - torch.cos(0.5 * math.pi * t))

    def alpha_derivative(self, t: torch.Tensor) -> torch.Tensor:
        return -(1.0 - self.eps) * 0.5 * math.pi * torch.sin(0.5 * math.pi * t)

    def loss_weight(self, t: torch.Tensor) -> torch.Tensor:
        return -self.alpha_derivative(t) / (1.0 - self.alpha(t))


def make_schedule(name: ScheduleName = "loglinear", eps: float = 1e-3) -> Schedule:
    """Build a schedule by name (``loglinear`` or ``cosine``)."""
    if name == "loglinear":
        return LogLinearSchedule(eps)
    if name == "cosine":
        return CosineSchedule(eps)
    raise ValueError(f"unknown schedule {name!r}; choose loglinear or cosine")
