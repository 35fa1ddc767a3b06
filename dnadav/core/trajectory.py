"""What the DAV E-step and M-step exchange: reward functions, trajectories and accounting.

The reverse process they drive is ``dnadav.core.protocol.ReverseProcess``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import torch

__all__ = ["RewardFn", "Trajectory", "SearchStats"]


class RewardFn(Protocol):
    def __call__(self, clean: torch.Tensor) -> torch.Tensor:
        """The modality's clean sample ``[B, ...]`` -> ``[B]``: DNA one-hot ``[B, 4, L]`` (float; soft
        values allowed for gradient proposals), images ``[B, 3, H, W]`` in [0, 1]."""
        ...


@dataclass(frozen=True)
class Trajectory:
    """The denoising paths chosen by the E-step, one per sequence, on a shared time grid.

    ``states [T+1, B, ...]`` from noise (index 0; DNA: all-MASK tokens at time 1) to clean (index T);
    ``times [T+1]`` float, the process's grid. Step k goes from ``states[k]`` at ``times[k]`` to
    ``states[k+1]``. ``context [B, ...]`` (or None) is what each path was conditioned on.
    """

    states: torch.Tensor
    times: torch.Tensor
    context: torch.Tensor | None = None
    # optional: ``clean [T, B, ...]`` the plug-in clean estimate x̂0 (reward input) at each chosen
    # child ``states[k+1]``, recorded when the search runs with ``record_clean=True``
    clean: torch.Tensor | None = None

    @property
    def final(self) -> torch.Tensor:
        """Clean sequences ``[B, L]``."""
        return self.states[-1]

    @property
    def num_steps(self) -> int:
        return self.states.shape[0] - 1

    def to(self, device: torch.device | str) -> "Trajectory":
        context = None if self.context is None else self.context.to(device)
        clean = None if self.clean is None else self.clean.to(device)
        return Trajectory(self.states.to(device), self.times.to(device), context, clean)

    @staticmethod
    def concatenate(parts: list["Trajectory"]) -> "Trajectory":
        """Join trajectories of different sequences (same time grid) along the batch axis."""
        context = None if parts[0].context is None else torch.cat([p.context for p in parts])
        clean = None if parts[0].clean is None else torch.cat([p.clean for p in parts], dim=1)
        return Trajectory(torch.cat([p.states for p in parts], dim=1), parts[0].times, context, clean)


@dataclass
class SearchStats:
    """Budget accounting of a search: how much it cost, for honest comparisons."""

    oracle_calls: int = 0  # sequences scored by the reward oracle
    network_calls: int = 0  # batched network forward passes
    network_sequences: int = 0  # rows through the network, summed over calls
    resamples: int = 0  # population resampling events (SMC)
    wall_seconds: float = 0.0
    ess_history: list[float] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "ess_history"}
