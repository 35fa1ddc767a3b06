"""App-Log-Lik by the number of masked positions: the same continuous-time NELBO as
``dnadav.dna.masked.nelbo`` averaged over times, estimated with draws of the masked count k instead of
the time t, which removes the estimator's worst variance.

Why. The time form weights the masked cross-entropy by ``w(t) = −alpha'_t / (1 − alpha_t)`` (1/t for the
log-linear schedule) while only about ``L·p(t)`` positions are masked (``p(t) = 1 − alpha_t``): near t = 0
a draw masks 0, 1 or 2 positions and multiplies them by a huge weight, so the variance grows like
``∫ (1 − t)/t dt`` (kept finite only by clamping t ≥ 1e-4).

The identity. Writing the masked set's size k and substituting ``u = p(t)`` (``w(t) dt = du / u`` for every
schedule),

    NELBO(x0) = Σ_{k=1..L} W_k · E[ c_k ],   W_k = P(Binomial(L, p_max) ≥ k),   p_max = p(1) = 1 − eps,

where ``c_k = (1/k) Σ_{i∈M} −log x̂0_θ(x0_i | x_M, t)`` for a uniformly random k-subset M and
``u = p(t) ~ Beta(k, L − k + 1)`` truncated to ``[0, p_max]`` (the k-th smallest of L uniforms, given that
at least k of them are ≤ p_max). So one draw of (k, t, M) with k from a density π gives the unbiased
``W_k c_k / π(k)`` with a weight ``W_k·L/k ≤ L/k`` instead of 1/t. Sequences draw k by strata: with K
draws per sequence, draw j has ``k = ⌊L (j + v)/K⌋ + 1``, v ~ U(0, 1), and the estimate is
``(L/K) Σ_j W_k c_k``. Exact for a time-conditioned network too: t is drawn from its law given k.
tests/test_reference_cache.py checks the mean against quadrature and the variance against the time form.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from dnadav.dna.clock import masked_share, masking_time
from dnadav.dna.schedule import Schedule

__all__ = ["CountDraws", "count_weights", "draw_counts", "uniform_masks"]


@dataclass(frozen=True)
class CountDraws:
    """Per (sequence, draw): masked counts ``k [n, K]`` (1..L), times ``t [n, K]`` (float32, for the network)
    and estimator weights ``weight [n, K]`` = ``(L/K)·W_k/k`` (float64) that multiply the summed masked
    cross-entropy; the sum over a sequence's K draws is its NELBO estimate (nats)."""

    k: torch.Tensor
    t: torch.Tensor
    weight: torch.Tensor


def _p_max(schedule: Schedule) -> float:
    return float(masked_share(schedule, torch.ones((), dtype=torch.float64)))


def count_weights(schedule: Schedule, length: int) -> torch.Tensor:
    """``W_k = P(Binomial(L, p_max) ≥ k)`` for k = 1..L -> ``[L]`` float64 (1 for eps → 0)."""
    return _binomial_cdf(length, _p_max(schedule))[1]


def _binomial_cdf(length: int, p: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(``P(N ≤ n)`` for n = 0..L ``[L + 1]``, ``P(N ≥ k)`` for k = 1..L ``[L]``) of N ~ Binomial(L, p), float64."""
    n = torch.arange(length + 1, dtype=torch.float64)
    if p >= 1.0 or p <= 0.0:
        pmf = (n == (length if p >= 1.0 else 0)).double()
    else:
        log_choose = torch.lgamma(n.new_tensor(length + 1.0)) - torch.lgamma(n + 1) - torch.lgamma(length - n + 1)
        pmf = torch.exp(log_choose + n * n.new_tensor(p).log() + (length - n) * n.new_tensor(-p).log1p())
    tail = pmf.flip(0).cumsum(0).flip(0)  # P(N ≥ n), n = 0..L
    return pmf.cumsum(0), tail[1:].clamp(max=1.0)


def draw_counts(
    num: int,
    num_draws: int,
    length: int,
    schedule: Schedule,
    generator: torch.Generator | None,
    device: torch.device | str = "cpu",
) -> CountDraws:
    """Stratified masked counts and their times for ``num`` sequences × ``num_draws`` draws (module docstring)."""
    p_max = _p_max(schedule)
    cdf, tail = (c.to(device) for c in _binomial_cdf(length, p_max))
    strata = torch.arange(num_draws, dtype=torch.float64, device=device)
    v = torch.rand(num, num_draws, generator=generator, dtype=torch.float64, device=device)
    k = (torch.floor(length * (strata + v) / num_draws).long() + 1).clamp(1, length)  # [n, K]
    # N = how many of L uniforms fall ≤ p_max, given N ≥ k: the inverse of its CDF restricted to n ≥ k
    w_k = tail[k - 1]
    level = cdf[k - 1] + torch.rand(num, num_draws, generator=generator, dtype=torch.float64, device=device) * w_k
    count = torch.minimum(torch.maximum(torch.searchsorted(cdf, level.contiguous()), k), torch.full_like(k, length))
    # the k-th smallest of `count` uniforms on [0, p_max]: Beta(k, L - k + 1) truncated to [0, p_max]
    uniforms = torch.rand(num, num_draws, length, generator=generator, dtype=torch.float64, device=device)
    uniforms = torch.where(torch.arange(length, device=device) < count[..., None], uniforms, torch.full_like(uniforms, 2.0))
    share = p_max * uniforms.sort(dim=-1).values.gather(-1, (k - 1)[..., None]).squeeze(-1)
    t = masking_time(schedule, share).float()
    weight = (length / num_draws) * w_k / k.double()
    return CountDraws(k, t, weight)


def uniform_masks(k: torch.Tensor, length: int, generator: torch.Generator | None) -> torch.Tensor:
    """A uniformly random set of ``k[r]`` masked positions per row -> bool ``[R, L]`` (``k [R]`` in 0..L)."""
    scores = torch.rand(len(k), length, generator=generator, device=k.device)
    return scores.argsort(dim=1).argsort(dim=1) < k[:, None]
