"""What the DAV E-step and M-step exchange: reward functions, trajectories and accounting."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import torch

__all__ = ["RewardFn", "Trajectory", "SearchStats"]


class RewardFn(Protocol):
    def __call__(self, onehot: torch.Tensor) -> torch.Tensor:
        """``onehot [B, 4, L]`` (float; soft values allowed for gradient proposals) -> ``[B]``."""
        ...


@dataclass(frozen=True)
class Trajectory:
    """The denoising paths chosen by the E-step, one per sequence, on a shared time grid.

    ``states [T+1, B, L]`` int64 tokens from all-MASK (index 0, time 1) to clean (index T, time 0);
    ``times [T+1]`` float. Step k goes from ``states[k]`` at ``times[k]`` to ``states[k+1]``.
    """

    states: torch.Tensor
    times: torch.Tensor

    @property
    def final(self) -> torch.Tensor:
        """Clean sequences ``[B, L]``."""
        return self.states[-1]

    @property
    def num_steps(self) -> int:
        return self.states.shape[0] - 1

    def to(self, device: torch.device | str) -> "Trajectory":
        return Trajectory(self.states.to(device), self.times.to(device))

    @staticmethod
    def concatenate(parts: list["Trajectory"]) -> "Trajectory":
        """Join trajectories of different sequences (same time grid) along the batch axis."""
        return Trajectory(torch.cat([p.states for p in parts], dim=1), parts[0].times)


@dataclass
class SearchStats:
    """Budget accounting of a search: how much it cost, for honest comparisons."""

    oracle_calls: int = 0  # sequences scored by the reward oracle
    network_calls: int = 0  # batched denoiser forward passes
    network_sequences: int = 0  # sequences through the denoiser, summed over calls
    resamples: int = 0  # population resampling events (SMC)
    wall_seconds: float = 0.0
    ess_history: list[float] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "ess_history"}
