"""Adaptive-step masked sampling: besides the positions the time grid unmasks, each network call also
unmasks the masked positions the model is sure of, and the sequence's clock moves on by as much.

One call at time ``τ`` for a sequence with ``m`` masked positions (prediction ``log x̂0 [N, L, 4]``):

1. **Confident set E** (entropy-bounded, after arXiv 2505.24857): the masked positions in order of
   increasing entropy ``H_i = −Σ_v x̂0_iv log x̂0_iv`` (nats), the longest prefix whose summed entropy is
   ≤ ``bound``. E is empty when ``bound == 0``.
2. **The step**: every position of E takes a base drawn from ``x̂0_i``; every other masked position makes
   the fixed-step sampler's move from ``τ`` to ``s`` (the next grid time below ``τ``): stay masked with
   probability ``p(s)/p(τ)``, else a base from ``x̂0_i`` (``p(t) = 1 − alpha_t``). All draws are independent
   given the prediction, as in ``dnadav.dna.sampler`` (hard constraints: the same step conditioned on
   staying completable).
3. **The clock**: the sequence's next time ``τ'`` has ``p(τ') = p(s)·(m − |E|)/m``, so the share left
   masked keeps the schedule's pace; ``τ' = s`` when E is empty. A sequence with no masked position
   leaves the batch, so later calls cost fewer network rows.

With ``bound == 0`` this is the fixed-step sampler, draw for draw: the same grid, the same network calls
on the same rows, the same random stream (tests/test_adaptive_sampler.py checks it bit for bit).

**The law it samples.** Let the network's x̂0 be the exact conditionals of a joint p. Every call draws the
set ``U = S ∪ E`` it unmasks (S: the grid's positions) from the product of the marginals instead of from
``p(x_U | rest)``, so ``KL(p ‖ q) ≤ E_p[Σ_calls TC(U)]`` with ``TC(U) = Σ_{i∈U} H_i − H(x_U | rest)``
(chain rule; the choice of U depends only on what is already unmasked). ``TC(S ∪ E) ≤ TC(S) + Σ_{i∈E} H_i
≤ TC(S) + bound``: each call adds at most ``bound`` nats to the fixed-step sampler's own term — but the
clock's longer steps make S larger, so ``bound`` is a knob on the deviation, not a guarantee of quality
(docs/concepts.md, "Adaptive-step sampling and the law it samples").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from dnadav.core.gumbel import gumbel_argmax
from dnadav.core.modes import eval_mode
from dnadav.dna.clock import masked_share, masking_time
from dnadav.dna.masked import Denoiser
from dnadav.dna.sampler import MaskedDiffusion, StepConstraint, reverse_log_probs, unmask_log_probs
from dnadav.dna.schedule import Schedule
from dnadav.dna.stratified import check_order, stratified_calls, stratified_rows
from dnadav.dna.tokens import MASK_INDEX, NUM_BASES

__all__ = ["AdaptiveSample", "check_bound", "confident_positions", "adaptive_step", "sample_adaptive"]


@dataclass(frozen=True)
class AdaptiveSample:
    """Sequences ``tokens [N, L]`` and what they cost: ``network_rows`` (sequences through the denoiser,
    summed over calls) in ``network_calls`` calls (the fixed-step sampler: ``N·T`` rows in ``T`` calls)."""

    tokens: torch.Tensor
    network_rows: int
    network_calls: int


def check_bound(bound: float) -> float:
    """The entropy bound as a float; ValueError unless it is a finite number ≥ 0 (nats)."""
    if isinstance(bound, bool) or not isinstance(bound, (int, float)) or not math.isfinite(bound) or bound < 0:
        raise ValueError(f"the adaptive entropy bound must be a finite number ≥ 0 (nats; 0 = fixed steps); got {bound!r}")
    return float(bound)


def confident_positions(log_x0: torch.Tensor, x: torch.Tensor, bound: float) -> torch.Tensor:
    """The confident set E per row -> bool ``[N, L]``: the masked positions of ``x [N, L]`` in order of
    increasing entropy of ``x̂0`` (``log_x0 [N, L, 4]``), the longest prefix with summed entropy ≤ ``bound``
    nats (ties: the lower position first). Empty everywhere when ``bound == 0``."""
    masked = x == MASK_INDEX
    if bound == 0:
        return torch.zeros_like(masked)
    probs = log_x0.exp()
    entropy = -torch.where(probs > 0, probs * log_x0, torch.zeros_like(log_x0)).sum(dim=-1)
    entropy = torch.where(masked, entropy.clamp_min(0.0), torch.full_like(entropy, math.inf))
    ordered, order = entropy.sort(dim=1, stable=True)
    chosen = ordered.cumsum(dim=1) <= bound  # a prefix: the cumulative sum only grows
    return torch.zeros_like(masked).scatter(1, order, chosen)


def adaptive_step(
    log_x0: torch.Tensor, x: torch.Tensor, tau: torch.Tensor, s: torch.Tensor, bound: float, schedule: Schedule
) -> tuple[torch.Tensor, torch.Tensor]:
    """One call's step distribution and clock, before the draw: ``log_x0 [N, L, 4]``, ``x [N, L]``, the
    rows' times ``tau [N]`` and grid targets ``s [N]`` (float32) -> ``(log_rows [N, L, 5], tau_next [N])``:
    ``log_rows`` is ``log p(x_s | x_τ)`` per position over A, C, G, T, MASK with the confident set forced to
    unmask (``reverse_log_probs`` elsewhere), ``tau_next`` the rows' next times (``s`` where E is empty)."""
    rows = reverse_log_probs(log_x0, x, schedule.alpha(tau), schedule.alpha(s))
    forced = confident_positions(log_x0, x, bound)
    if not forced.any():
        return rows, s
    rows = torch.where(forced[..., None], unmask_log_probs(log_x0), rows)
    masked = (x == MASK_INDEX).sum(dim=1).double()
    left = masked - forced.sum(dim=1).double()
    share = masked_share(schedule, s.double()) * left / masked.clamp_min(1.0)
    tau_next = masking_time(schedule, share).to(s.dtype)
    return rows, torch.where(forced.any(dim=1), tau_next, s)


def _draw(log_rows: torch.Tensor, x: torch.Tensor, constraint: StepConstraint | None, generator) -> torch.Tensor:
    """One state per row from the product distribution ``log_rows [N, L, 5]`` (the fixed-step sampler's
    draw with one child: the same noise shape, so the same random stream)."""
    if constraint is not None:
        return constraint.sample_step(log_rows, x, generator)[0]
    n, length, vocab = log_rows.shape
    return gumbel_argmax(log_rows[:, None], generator, shape=(n, 1, length, vocab)).view(n, length)


@torch.no_grad()
def sample_adaptive(
    denoiser: Denoiser,
    num_sequences: int,
    length: int,
    num_steps: int = 100,
    bound: float = 0.0,
    schedule: Schedule | None = None,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    on_step: Callable[[int], None] | None = None,
    constraint: StepConstraint | None = None,
    max_batch: int | str | None = "auto",
    order: str = "random",
) -> AdaptiveSample:
    """Adaptive-step sampling from all-MASK on the ``num_steps`` grid (module docstring) -> ``AdaptiveSample``.

    ``bound`` (nats, ≥ 0): the confident set's summed entropy per call; 0 reproduces
    ``dnadav.dna.sampler.sample`` with the same arguments bit for bit. Every call's rows go through the
    denoiser together (``max_batch`` per chunk); with ``bound > 0`` only the rows still masked somewhere.
    ``order="stratified"`` (bound 0 only): each call unmasks the positions ``dnadav.dna.stratified`` gives
    it, one per block of ``num_steps`` positions, instead of independent ones (same grid, same rows).
    ``on_step(k)`` is called after call k. Sets eval mode for the call and restores the module's mode.
    """
    bound = check_bound(bound)
    process = MaskedDiffusion(denoiser, length, schedule, device, constraint, max_batch)
    if check_order(order, process.schedule) == "stratified" and bound > 0:
        raise ValueError("the stratified unmask order runs on the fixed grid: the adaptive bound must be 0")
    grid = process.time_grid(num_steps)  # [T + 1] float32, 1 -> 0
    rows = calls = 0
    with eval_mode(denoiser):
        x = process.initial_state(num_sequences, generator)
        tau = grid[0].expand(num_sequences).clone()
        turns = stratified_calls(num_sequences, length, num_steps, generator, x.device) if order == "stratified" else None
        while bool((x == MASK_INDEX).any()) and calls < num_steps:
            # bound 0 keeps every row in every call: the network then sees the very batches of the fixed-step
            # sampler (a row's output may differ in the last bit with the batch it is in)
            active = (x == MASK_INDEX).any(dim=1) if bound > 0 else torch.ones(len(x), dtype=torch.bool, device=x.device)
            later = grid[None, :] < tau[:, None]
            s = grid[later.long().argmax(dim=1).masked_fill(~later.any(dim=1), num_steps)]
            if bool(active.all()):
                log_x0 = process.predict(x, tau)
            else:
                log_x0 = torch.zeros(*x.shape, NUM_BASES, device=x.device)
                log_x0[active] = process.predict(x[active], tau[active])  # finished rows: kept rows need no x̂0
            if turns is None:
                log_rows, tau = adaptive_step(log_x0, x, tau, s, bound, process.schedule)
            else:
                log_rows, tau = stratified_rows(log_x0, x, turns, calls, last=calls == num_steps - 1), s
            nearest = grid[(grid[None, :] - tau[:, None]).abs().argmin(dim=1)]
            tau = torch.where((nearest - tau).abs() <= 1e-6, nearest, tau)  # a clock on a grid time is that time
            x = _draw(log_rows, x, process.constraint, generator)
            rows, calls = rows + int(active.sum()), calls + 1
            if on_step is not None:
                on_step(calls - 1)
    return AdaptiveSample(x, rows, calls)
