"""The masking schedule read backwards: the time at which a given share of positions is masked.

A schedule gives ``alpha_t`` (the probability that a position is still unmasked at time t), so the
masked share is ``p(t) = 1 − alpha_t``, increasing from ``p(0) = 0`` to ``p(1) = 1 − eps``. The adaptive
sampler (``dnadav.dna.adaptive``) moves a sequence's clock to the time its masked share calls for, and the
masked-count App-Log-Lik (``dnadav.dna.masked.sequence_elbo``) draws ``p`` first and needs its time.
Any ``Schedule`` works: the inverse is found by bisection, so no schedule has to provide one.
"""

from __future__ import annotations

import torch

from dnadav.dna.schedule import Schedule

__all__ = ["masked_share", "masking_time"]


def masked_share(schedule: Schedule, t: torch.Tensor) -> torch.Tensor:
    """``p(t) = 1 − alpha_t``: the probability that a position is masked at time ``t`` (any shape)."""
    return 1.0 - schedule.alpha(t)


def masking_time(schedule: Schedule, share: torch.Tensor, iterations: int = 60) -> torch.Tensor:
    """The time ``t ∈ [0, 1]`` with ``p(t) = share`` (elementwise, float64, any shape) -> same shape, float64.

    Bisection on the monotone ``p``: after ``iterations`` halvings the time is within ``2**-iterations``
    of the answer (60: float64's resolution). A share above ``p(1)`` gives 1, a share ≤ 0 gives 0.
    """
    share = share.double()
    low, high = torch.zeros_like(share), torch.ones_like(share)
    for _ in range(iterations):  # a loop over halvings, not over elements
        middle = 0.5 * (low + high)
        above = masked_share(schedule, middle) >= share
        low, high = torch.where(above, low, middle), torch.where(above, middle, high)
    return torch.where(share <= 0, torch.zeros_like(share), high)
