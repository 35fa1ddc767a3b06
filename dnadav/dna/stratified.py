"""Stratified unmasking order for fixed-step masked sampling: which masked positions each network call
unmasks, chosen so the positions drawn together lie apart.

Today's fixed-step sampler (``dnadav.dna.sampler``) unmasks every masked position independently with the
schedule's probability, so a call unmasks L/T positions on average, anywhere — neighbours included — and
draws them from the product of their x̂0 marginals. **Stratified** cuts the sequence into consecutive blocks
of T positions (T = the number of steps; the last block may be shorter) and gives each block's positions the
calls ``0 … T−1`` in a uniformly random order, per sequence: call k unmasks the position of each block whose
turn is k (and the last call everything still masked). Every position is still unmasked at a uniformly
random call, and each call's positions are one per block.

**The law.** With a network whose x̂0 are the exact conditionals of a joint p, drawing the set U a call
unmasks from the product of its marginals costs at most ``TC(U) = Σ_{i∈U} H_i − H(x_U | rest)`` nats of
``KL(p ‖ q)`` per call (chain rule; U depends only on what is already unmasked, docs/concepts.md
"Adaptive-step sampling and the law it samples"). The total correlation of a set is made of the
dependences among its members, which fall off with distance along DNA; stratified sets hold no two
positions of one block. **At T = L every call unmasks exactly one position, in a uniformly random order,
so the sampler draws p exactly** (any-order chain rule; tests/test_stratified_sampler.py enumerates it).
The fixed-step sampler's law is exact only as T → ∞.

The network sees the grid's times (as in the fixed-step sampler); when T divides L the share still masked
after call k is exactly ``1 − k/T``, the log-linear schedule's share at that time up to its ε.
"""

from __future__ import annotations

import torch

from dnadav.dna.sampler import kept_log_probs, unmask_log_probs
from dnadav.dna.schedule import LogLinearSchedule, Schedule
from dnadav.dna.tokens import MASK_INDEX

__all__ = ["UNMASK_ORDERS", "check_order", "stratified_calls", "stratified_rows"]

UNMASK_ORDERS = ("random", "stratified")  # random: the fixed-step sampler's own independent unmasking


def check_order(order: str, schedule: Schedule | None = None) -> str:
    """The unmask order, or ValueError naming the allowed ones; with the model's ``schedule``, also ValueError
    for the stratified order under any schedule but the log-linear one, whose pace (L/T positions per call) it
    keeps: the network would be told times whose masked share is not the one it sees."""
    if order not in UNMASK_ORDERS:
        raise ValueError(f"the unmask order must be {' or '.join(UNMASK_ORDERS)}; got {order!r}")
    if order == "stratified" and schedule is not None and not isinstance(schedule, LogLinearSchedule):
        name = getattr(schedule, "name", type(schedule).__name__)
        raise ValueError(
            f"unmask stratified keeps the log-linear schedule's pace; it was trained with the {name} schedule: "
            "use --unmask random"
        )
    return order


def stratified_calls(
    num: int, length: int, num_steps: int, generator: torch.Generator | None, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """The call at which each position unmasks -> int64 ``[num, length]`` in ``0 … num_steps − 1``: per
    sequence and per block of ``num_steps`` consecutive positions, a uniformly random permutation of the
    calls (the last, shorter block takes the first entries of its permutation: a random subset of calls)."""
    if num_steps < 1:
        raise ValueError(f"num_steps must be ≥ 1; got {num_steps}")
    blocks = -(-length // num_steps)
    keys = torch.rand(num, blocks, num_steps, generator=generator, device=device)
    turns = keys.argsort(dim=-1).argsort(dim=-1)  # the rank of each key: a uniformly random permutation
    return turns.reshape(num, blocks * num_steps)[:, :length]


def stratified_rows(log_x0: torch.Tensor, x: torch.Tensor, calls: torch.Tensor, call: int, last: bool) -> torch.Tensor:
    """Call ``call``'s step distribution ``[N, L, 5]`` (A, C, G, T, MASK; log): the masked positions whose
    turn it is (``calls [N, L] == call``; every masked one when ``last``) unmask to a base from x̂0
    (``log_x0 [N, L, 4]``), the other masked positions stay masked and unmasked ones keep their base."""
    masked = x == MASK_INDEX
    now = masked if last else masked & (calls == call)
    return torch.where(now[..., None], unmask_log_probs(log_x0), kept_log_probs(x, log_x0.dtype))
