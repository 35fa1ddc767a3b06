"""Tail averaging: the mean of an optimiser's last iterates instead of its last iterate.

AdamW at a constant learning rate does not settle on a point: once the loss stops falling, its iterates
wander around the minimum with a spread set by the step size and the gradient noise, so the last
iterate is one noisy draw of that wander and two runs that differ only in their shuffles (or in a
machine's floating-point rounding) end at different models. The mean of the iterates of the last part
of a fit keeps its trend and averages the wander out (Polyak–Ruppert averaging; docs/concepts.md,
"The fit's last iterate is noisy; its tail average is not").

``TailAverage`` cuts the optimiser's steps into consecutive blocks (the warm start: one block, the
whole fit; the M-step: one block per pass its stopper judges, or the whole M-step when no pass is
judged) and at the end of each block writes the mean of the iterates after the block's last
``round(fraction × block length)`` steps into the parameters, so the next block starts from it and
whatever judges the block (a held-out loss, a naturalness guard) judges the mean.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch.nn.utils import parameters_to_vector, vector_to_parameters
from torch.utils.data import DataLoader

from dnadav.core.fit_control import pass_end_batches

__all__ = ["TailAverage", "block_ends", "loader_tail_average"]


def block_ends(batch_lengths: Sequence[int], pass_rows: int | None) -> list[int]:
    """The indices of the steps (batches of ``batch_lengths`` rows, in order) that end a block: every
    batch that completes a pass of ``pass_rows`` rows, or with ``pass_rows=None`` only the last batch."""
    if pass_rows is None:
        return [len(batch_lengths) - 1] if batch_lengths else []
    return sorted(pass_end_batches(list(batch_lengths), pass_rows))


class TailAverage:
    """Keeps, for each block of steps ending at the (0-based, increasing) step indices ``ends``, the
    mean of ``parameters``' iterates after its last ``round(fraction × block length)`` steps, and
    writes it into the parameters when the block ends. ``fraction`` in [0, 1]; a block whose count
    rounds to 0 keeps its last iterate untouched. Call ``after_step()`` after every optimiser step."""

    def __init__(self, parameters: Iterable[torch.nn.Parameter], ends: Sequence[int], fraction: float):
        if not 0 <= fraction <= 1:
            raise ValueError(f"tail average: fraction must lie in [0, 1]; got {fraction}")
        if any(b <= a for a, b in zip(ends, ends[1:], strict=False)) or (ends and ends[0] < 0):
            raise ValueError(f"tail average: block ends must be increasing step indices ≥ 0; got {list(ends)}")
        self._parameters = list(parameters)
        self._first_averaged: dict[int, int] = {}  # block end -> first step index in its mean
        start = 0
        for end in ends:
            count = round(fraction * (end - start + 1))
            if count:
                self._first_averaged[end] = end - count + 1
            start = end + 1
        self._step = -1
        self._sum: torch.Tensor | None = None
        self._count = 0

    def _in_tail(self, step: int) -> int | None:
        """The end of the block whose tail holds ``step``, or None."""
        for end, first in self._first_averaged.items():
            if first <= step <= end:
                return end
        return None

    @torch.no_grad()
    def after_step(self) -> None:
        self._step += 1
        end = self._in_tail(self._step)
        if end is None:
            return
        vector = parameters_to_vector(self._parameters)
        self._sum = vector if self._sum is None else self._sum.add_(vector)  # vector: a fresh tensor (torch.cat)
        self._count += 1
        if self._step == end:
            vector_to_parameters(self._sum / self._count, self._parameters)
            self._sum, self._count = None, 0


def loader_tail_average(
    parameters: Iterable[torch.nn.Parameter], loader: DataLoader, passes: int | None, fraction: float
) -> TailAverage | None:
    """The tail average of an M-step that takes one step per batch of ``loader``: one block per pass
    when its ``passes`` passes (of equal rows) are judged one by one, else (``passes=None``) one block,
    the whole loader. None when ``fraction`` is 0 (the last iterate is kept)."""
    if not fraction:
        return None
    lengths = [len(batch) for batch in loader.batch_sampler]
    return TailAverage(parameters, block_ends(lengths, None if passes is None else sum(lengths) // passes), fraction)
