"""What the DAV E-step and M-step exchange: reward functions, trajectories and accounting.

The reverse process they drive is ``dnadav.core.protocol.ReverseProcess``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import torch

__all__ = ["RewardFn", "Trajectory", "SearchStats", "SearchResult"]


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
    # optional (``record_children=True``, per-sequence search): every step's M proposed children
    # ``children [T, B, M, ...]``, their discounted values ``child_potential [T, B, M]`` (γ^n·V, not yet
    # divided by α) and ``child_log_ratio [T, B, M]`` (log p − log q; None when q = p). The selection
    # weights at any temperature α are ``softmax(child_potential / α + child_log_ratio)`` over M.
    children: torch.Tensor | None = None
    child_potential: torch.Tensor | None = None
    child_log_ratio: torch.Tensor | None = None

    @property
    def final(self) -> torch.Tensor:
        """Clean sequences ``[B, L]``."""
        return self.states[-1]

    @property
    def num_steps(self) -> int:
        return self.states.shape[0] - 1

    def to(self, device: torch.device | str) -> "Trajectory":
        move = lambda x: None if x is None else x.to(device)  # noqa: E731
        return Trajectory(
            self.states.to(device),
            self.times.to(device),
            move(self.context),
            move(self.clean),
            move(self.children),
            move(self.child_potential),
            move(self.child_log_ratio),
        )

    def selection_log_weights(self, reward_temperature: float) -> torch.Tensor:
        """``[T, B, M]`` the per-sequence search's log selection weights at temperature α (recorded
        children only): ``γ^n·V/α + log p − log q`` of every proposed child."""
        if self.child_potential is None:
            raise ValueError("the trajectory holds no children; search with record_children=True")
        log_w = self.child_potential / reward_temperature
        return log_w if self.child_log_ratio is None else log_w + self.child_log_ratio

    def sequences(self, index: torch.Tensor) -> "Trajectory":
        """The sequences ``index`` (``[n]`` int64) of this trajectory, on the same time grid."""
        pick = lambda x, dim: None if x is None else x.index_select(dim, index.to(x.device))  # noqa: E731
        return Trajectory(
            pick(self.states, 1),
            self.times,
            pick(self.context, 0),
            pick(self.clean, 1),
            pick(self.children, 1),
            pick(self.child_potential, 1),
            pick(self.child_log_ratio, 1),
        )

    def sequence_major(self) -> dict[str, torch.Tensor]:
        """The recorded fields with the sequence axis first (``states [B, T+1, ...]``, ``context``,
        ``clean [B, T, ...]``, ...; None fields left out): rows to gather across ranks."""
        rows = {"states": self.states.transpose(0, 1)}
        for name in ("context", "clean", "children", "child_potential", "child_log_ratio"):
            value = getattr(self, name)
            if value is not None:
                rows[name] = value if name == "context" else value.transpose(0, 1)
        return rows

    @staticmethod
    def from_sequence_major(rows: dict[str, torch.Tensor], times: torch.Tensor) -> "Trajectory":
        """``sequence_major``'s inverse on the grid ``times`` (keys it does not know are passed over)."""
        step_major = {
            k: rows[k].transpose(0, 1) if k in rows else None for k in ("clean", "children", "child_potential", "child_log_ratio")
        }
        return Trajectory(rows["states"].transpose(0, 1), times, rows.get("context"), **step_major)

    @staticmethod
    def concatenate(parts: list["Trajectory"]) -> "Trajectory":
        """Join trajectories of different sequences (same time grid) along the batch axis."""
        first = parts[0]

        def join(name: str, dim: int) -> torch.Tensor | None:
            return None if getattr(first, name) is None else torch.cat([getattr(p, name) for p in parts], dim=dim)

        return Trajectory(
            torch.cat([p.states for p in parts], dim=1),
            first.times,
            join("context", 0),
            join("clean", 1),
            join("children", 1),
            join("child_potential", 1),
            join("child_log_ratio", 1),
        )


@dataclass
class SearchStats:
    """Budget accounting of a search: how much it cost, for honest comparisons."""

    oracle_calls: int = 0  # sequences scored by the reward oracle
    network_calls: int = 0  # batched network forward passes
    network_sequences: int = 0  # rows through the network, summed over calls
    resamples: int = 0  # population resampling events (SMC)
    wall_seconds: float = 0.0
    ess_history: list[float] = field(default_factory=list)
    reward_temperature: float | None = None  # the α the weights were taken at, where the search chose it (importance)

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "ess_history" and v is not None}


@dataclass(frozen=True)
class SearchResult:
    """What an E-step returns (``dnadav.core.search.search_process``)."""

    sequences: torch.Tensor  # [B, ...] final clean states (DNA: tokens [B, L])
    rewards: torch.Tensor  # [B] reward-oracle score of each final state
    trajectory: Trajectory  # chosen paths, what the M-step distils
    stats: SearchStats
