"""An M-step whose length is decided on naturalness (``EMConfig.mstep_min_naturalness``).

A fixed number of M-step passes is wrong in both directions at once: over the few hundred effective
sequences of an importance E-step, three passes carry about half of what the E-step found and twelve
drift the model's k-mer statistics, by amounts that differ from seed to seed and from iteration to
iteration (docs/concepts.md, "A naturalness-guarded M-step"). ``PassGuard`` scores the model before the
M-step and after every pass with ``score(model) -> float``, a naturalness measure the modality computes
without a reward call (DNA: the 3-mer correlation of plain samples to the validation split, chr2), and
keeps the weights of the **last** pass whose score is ≥ ``floor`` — the longest fit that stays natural —
or, when none is (the initial weights included), the best-scoring one. Every call draws on the same
random stream, with the network in eval mode, so passes differ by their weights only.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.utils.data import DataLoader, TensorDataset

from dnadav.core.distill import transition_pairs
from dnadav.core.fit_control import pass_batches, pass_end_batches
from dnadav.core.modes import eval_mode
from dnadav.core.state import copy_state
from dnadav.core.trajectory import Trajectory

__all__ = ["PassGuard", "guarded_passes"]


Score = Callable[[torch.nn.Module, torch.Generator], float]  # (model, generator) -> naturalness, higher is better


class PassGuard:
    """Keeps the last M-step pass whose ``score(model, generator)`` is ≥ ``floor`` (else the best-scoring
    one); the generator is seeded with ``seed`` at every call.

    ``batch_lengths`` are the M-step's batch sizes in order and ``pass_rows`` the rows of one pass, so
    the guard knows which batch ends a pass. Same interface as ``fit_control.HeldOutStopper``
    (``start``, ``after_batch``, ``stopped``, ``finish``); every pass runs (``stopped`` stays False)."""

    def __init__(self, score: Score, seed: int, floor: float, batch_lengths: list[int], pass_rows: int):
        self._score, self._seed, self.floor = score, seed, floor
        self._pass_ends = pass_end_batches(batch_lengths, pass_rows)
        self.stopped = False

    def score(self, model: torch.nn.Module) -> float:
        """``score(model, generator)`` in eval mode, the generator seeded alike at every call."""
        generator = torch.Generator(next(model.parameters()).device).manual_seed(self._seed)
        with eval_mode(model):
            return float(self._score(model, generator))

    def start(self, model: torch.nn.Module) -> None:
        self.scores = [self.score(model)]  # [passes + 1]: before the M-step, then after every pass
        self._kept, self._kept_state = 0, copy_state(model)

    def after_batch(self, model: torch.nn.Module, batch_index: int) -> None:
        if batch_index not in self._pass_ends:
            return
        self.scores.append(self.score(model))
        score, kept = self.scores[-1], self.scores[self._kept]
        if score >= self.floor or (kept < self.floor and score > kept):  # the last at the floor, else the best so far
            self._kept, self._kept_state = len(self.scores) - 1, copy_state(model)

    def kept_pass(self) -> int:
        """The pass whose weights the M-step keeps (0: the weights it started from)."""
        return self._kept

    def finish(self, model: torch.nn.Module, max_move: float | None = None) -> dict[str, float]:
        """Put the kept pass's weights in ``model`` (unless it is the last) -> what to log. ``max_move``:
        unused (the M-step trust region measures held-out sequences, which a guarded M-step has none of)."""
        kept = self._kept
        if kept != len(self.scores) - 1:
            model.load_state_dict(self._kept_state)
        return {
            "mstep/passes": float(len(self.scores) - 1),
            "mstep/kept_pass": float(kept),
            "mstep/guard_initial": self.scores[0],
            "mstep/guard_kept": self.scores[kept],
            "mstep/guard_last": self.scores[-1],
        }


def guarded_passes(
    trajectory: Trajectory, config, score: Score, score_seed: int, generator: torch.Generator
) -> tuple[DataLoader, PassGuard]:
    """Batches of ``config.inner_epochs`` passes over all of ``trajectory``'s transitions (each pass
    shuffled on its own by ``generator``, ``config.batch_size`` per batch; ``config``: an ``EMConfig``)
    and the guard that keeps one of them by ``score`` (on the stream ``score_seed``) at
    ``config.mstep_min_naturalness``."""
    pairs = transition_pairs(trajectory)
    batches = pass_batches(len(pairs), config.inner_epochs, config.batch_size, generator)
    guard = PassGuard(score, score_seed, config.mstep_min_naturalness, [len(b) for b in batches], len(pairs))
    return DataLoader(TensorDataset(pairs.cpu()), batch_sampler=batches), guard
