"""Earlier E-steps' children, fitted again: the M-step of iteration k on the training sequences of the
last ``replay`` E-steps too, each child reweighted at iteration k's α (docs/concepts.md, "Replaying
earlier E-steps").

Why it is exact: at a visited state x_t the children loss −Σ_j w̄_j·log p_θ(c_j | x_t) has the per-step
tilt η_α(c | x_t) ∝ q(c | x_t)·exp(γ^n·V(c)/α + log p − log q) as its optimum whatever the law x_t was
reached by. An earlier E-step recorded its children, their values γ^n·V (which do not depend on α) and
log p − log q for the proposal q that drew them, so ``Trajectory.selection_log_weights(α_k)`` gives
their weights under this iteration's target: the earlier states are more of the same target's data,
not data of an earlier target. (A constrained objective's values depend on its multipliers at the
time; ``EMConfig`` refuses replay with one.)

Layout: the M-step's trajectory is ``[current, *earlier]`` along the sequence axis, so the current
E-step's sequences keep indices 0..B−1 and only they are split into training and held-out sequences;
replayed sequences are always trained on, never held out. The buffer keeps the newest ``size`` E-steps'
training sequences on the CPU and travels in the run's checkpoints (integer tensors stored in the
smallest unsigned dtype that holds them), so a resumed run replays what an uninterrupted one would.
"""

from __future__ import annotations

import torch

from dnadav.core.trajectory import Trajectory

__all__ = ["ReplayBuffer"]

_FIELDS = ("states", "times", "context", "clean", "children", "child_potential", "child_log_ratio")


class ReplayBuffer:
    """The newest ``size`` E-steps' training sequences (``size`` = 0: nothing is kept or replayed)."""

    def __init__(self, size: int):
        if size < 0:
            raise ValueError(f"replay must be ≥ 0 E-steps; got {size}")
        self.size = size
        self.parts: list[Trajectory] = []  # newest first

    def joined(self, current: Trajectory) -> Trajectory:
        """``[current, *earlier]`` along the sequence axis (``current`` alone when nothing is kept)."""
        if not self.parts:
            return current
        return Trajectory.concatenate([current, *(p.to(current.states.device) for p in self.parts)])

    def keep(self, current: Trajectory, held_out_sequences: torch.Tensor) -> None:
        """Keep ``current``'s sequences other than ``held_out_sequences`` (indices) for later M-steps."""
        if self.size == 0:
            return
        batch = current.states.shape[1]
        keep = torch.ones(batch, dtype=torch.bool)
        keep[held_out_sequences.cpu()] = False
        index = keep.nonzero().squeeze(1)
        self.parts = [current.to("cpu").sequences(index), *self.parts][: self.size]

    def state(self) -> list[dict]:
        """What a checkpoint holds: each kept E-step's tensors, integers in the smallest unsigned dtype."""
        return [{k: _compact(getattr(p, k)) for k in _FIELDS} for p in self.parts]

    def load(self, state: list[dict]) -> None:
        self.parts = [Trajectory(**{k: _widen(part[k]) for k in _FIELDS}) for part in state][: self.size]


def _compact(value: torch.Tensor | None) -> torch.Tensor | dict | None:
    if value is None or value.is_floating_point() or value.numel() == 0:
        return value
    if int(value.min()) >= 0 and int(value.max()) < 256:
        return {"uint8": value.to(torch.uint8), "dtype": str(value.dtype).removeprefix("torch.")}
    return value


def _widen(value) -> torch.Tensor | None:
    if isinstance(value, dict):
        return value["uint8"].to(getattr(torch, value["dtype"]))
    return value
