"""Masked (absorbing-state) discrete diffusion over A/C/G/T: forward masking, the "subs"
parameterisation, the continuous-time NELBO and a per-sequence ELBO estimator.

Shapes: ``x0``, ``x_t`` tokens ``[B, L]`` (MASK = 4); ``t`` ``[B]`` in [0, 1];
``logits`` / ``log_probs`` ``[B, L, 4]`` over the four bases.
A denoiser is any callable ``(x_t [B, L], t [B]) -> logits [B, L, 4]``.
"""

from __future__ import annotations

from typing import Literal, Protocol

import torch

from dnadav.core.batching import chunked_call, resolve_max_batch
from dnadav.dna.schedule import LogLinearSchedule, Schedule
from dnadav.dna.tokens import MASK_INDEX, NUM_BASES

__all__ = [
    "Denoiser",
    "LOG_ZERO",
    "mask_tokens",
    "x0_log_probs",
    "stratified_times",
    "masked_cross_entropy",
    "nelbo",
    "count_nelbo",
    "ElboTimes",
    "sequence_elbo",
]

# How App-Log-Lik draws its noise levels: "stratified" times t (the time form), or stratified masked
# counts k with t drawn given k ("count", dnadav.dna.masked_count: the same NELBO, lower variance).
ElboTimes = Literal["stratified", "count"]

# Log of a zero probability: finite so that 0 * LOG_ZERO stays 0 (no NaN) in float32.
LOG_ZERO = -1e9


class Denoiser(Protocol):
    def __call__(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``x_t [B, L]`` int64 (MASK = 4), ``t [B]`` float -> logits ``[B, L, 4]``."""
        ...


def mask_tokens(x0: torch.Tensor, alpha_t: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Sample ``x_t ~ q(x_t | x0)``: each position independently becomes MASK w.p. ``1 - alpha_t``.

    ``x0 [B, L]``, ``alpha_t [B]`` -> ``x_t [B, L]``.
    """
    keep = torch.rand(x0.shape, generator=generator, device=x0.device) < alpha_t[:, None]
    return torch.where(keep, x0, torch.full_like(x0, MASK_INDEX))


def x0_log_probs(logits: torch.Tensor, x_t: torch.Tensor) -> torch.Tensor:
    """The subs parameterisation: ``log p_θ(x0 | x_t)`` ``[B, L, 4]``.

    Masked positions get ``log_softmax(logits)`` (MASK itself is never predicted); unmasked positions
    are carried over: probability 1 on the observed base.
    """
    if logits.shape[-1] != NUM_BASES or logits.shape[:2] != x_t.shape:
        raise ValueError(f"logits must be [B, L, 4] matching x_t {tuple(x_t.shape)}; got {tuple(logits.shape)}")
    predicted = torch.log_softmax(logits.float(), dim=-1)
    observed = torch.nn.functional.one_hot(x_t.clamp(max=NUM_BASES - 1), NUM_BASES).bool()
    carried = torch.where(observed, torch.zeros_like(predicted), torch.full_like(predicted, LOG_ZERO))
    return torch.where((x_t == MASK_INDEX)[..., None], predicted, carried)


def stratified_times(
    num: int,
    generator: torch.Generator | None,
    t_min: float = 1e-4,
    device: torch.device | str = "cpu",
    rows: int | None = None,
) -> torch.Tensor:
    """``num`` times in ``[t_min, 1]``, one uniform draw per stratum ``[(j)/num, (j+1)/num)`` -> ``[num]``,
    or ``[rows, num]`` (an independent stratified set per row) when ``rows`` is given.

    Lower-variance than i.i.d. uniform times for the NELBO; the marginal of each is still uniform.
    """
    shape = (num,) if rows is None else (rows, num)
    offsets = torch.rand(shape, generator=generator, device=device)
    t = (torch.arange(num, device=device) + offsets) / num
    return t.clamp(min=t_min)


def masked_cross_entropy(log_probs: torch.Tensor, x0: torch.Tensor, x_t: torch.Tensor) -> torch.Tensor:
    """``-Σ_{i masked in x_t} log p(x0_i | x_t)`` per sequence -> ``[B]`` (nats)."""
    picked = log_probs.gather(-1, x0[..., None]).squeeze(-1)
    return -(picked * (x_t == MASK_INDEX)).sum(dim=-1)


def nelbo(
    denoiser: Denoiser,
    x0: torch.Tensor,
    schedule: Schedule,
    t: torch.Tensor,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """Single-sample continuous-time NELBO per sequence ``[B]`` in nats:
    ``w(t) · Σ_{masked i} -log p_θ(x0_i | x_t)`` with ``w(t) = -alpha'_t / (1 - alpha_t)``.

    Its expectation over ``t ~ U(0, 1)`` and ``x_t ~ q(·|x0)`` upper-bounds ``-log p_θ(x0)``. A row with
    nothing masked counts 0: where ``1 − alpha_t`` rounds to 0 in float32 (the cosine schedule near t = 0)
    ``w(t)`` is inf, and inf·0 would make the loss and its gradient nan.
    """
    x_t = mask_tokens(x0, schedule.alpha(t), generator)
    log_probs = x0_log_probs(denoiser(x_t, t), x_t)
    weight = torch.where((x_t == MASK_INDEX).any(dim=-1), schedule.loss_weight(t), torch.zeros_like(t))
    return weight * masked_cross_entropy(log_probs, x0, x_t)


def count_nelbo(
    denoiser: Denoiser,
    x0: torch.Tensor,
    k: torch.Tensor,
    t: torch.Tensor,
    weight: torch.Tensor,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """One masked-count draw per row ``[B]`` (nats): ``weight · Σ_{i∈M} −log p_θ(x0_i | x_M, t)`` with M a
    uniformly random set of ``k [B]`` positions; ``t [B]``, ``weight [B]`` from ``masked_count.draw_counts``."""
    from dnadav.dna.masked_count import uniform_masks

    masked = uniform_masks(k, x0.shape[1], generator)
    x_t = torch.where(masked, torch.full_like(x0, MASK_INDEX), x0)
    log_probs = x0_log_probs(denoiser(x_t, t), x_t)
    return weight.to(log_probs.dtype) * masked_cross_entropy(log_probs, x0, x_t)


@torch.no_grad()
def sequence_elbo(
    denoiser: Denoiser,
    x0: torch.Tensor,
    schedule: Schedule | None = None,
    num_time_samples: int = 32,
    generator: torch.Generator | None = None,
    batch_size: int = 1024,
    max_batch: int | str | None = "auto",
    times: ElboTimes = "stratified",
) -> torch.Tensor:
    """Monte-Carlo ELBO ``≤ log p_θ(x0)`` per sequence, in nats (App-Log-Lik) -> ``[B]``.

    Each sequence gets ``num_time_samples`` network rows: with ``times="stratified"`` (the default, the
    numbers every earlier run reported) at stratified times; with ``times="count"`` at stratified masked
    counts, each with its time drawn given the count (``dnadav.dna.masked_count``: the same expectation,
    a lower variance at fewer rows: docs/concepts.md, "App-Log-Lik by masked counts"). The rows are
    masked in blocks of ``batch_size`` (this fixes the random stream) and go through the denoiser
    ``max_batch`` rows per call (``dnadav.core.batching``; results do not depend on it).
    A uniform model scores ``L·log(1/4)`` (−277.3 for 200 bp).
    """
    schedule = schedule or LogLinearSchedule()
    n, length = x0.shape
    rows = resolve_max_batch(max_batch, x0.device)

    def network(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return chunked_call(denoiser, x_t, t, max_batch=rows)

    if times == "count":
        from dnadav.dna.masked_count import draw_counts

        draws = draw_counts(n, num_time_samples, length, schedule, generator, x0.device)
        k, t, weight = draws.k.flatten(), draws.t.flatten(), draws.weight.flatten()
        repeated = x0.repeat_interleave(num_time_samples, dim=0)
        losses = torch.cat(
            [
                count_nelbo(network, repeated[i : i + batch_size], k[i : i + batch_size], t[i : i + batch_size],
                            weight[i : i + batch_size], generator)
                for i in range(0, len(repeated), batch_size)
            ]
        )  # fmt: skip
        return -losses.view(n, num_time_samples).sum(dim=1)
    if times != "stratified":
        raise ValueError(f"times must be 'stratified' or 'count'; got {times!r}")
    repeated = x0.repeat_interleave(num_time_samples, dim=0)
    times = stratified_times(num_time_samples, generator, device=x0.device, rows=n).flatten()
    losses = torch.cat(
        [
            nelbo(network, repeated[i : i + batch_size], schedule, times[i : i + batch_size], generator)
            for i in range(0, len(repeated), batch_size)
        ]
    )
    return -losses.view(n, num_time_samples).mean(dim=1)
