"""Item 3 of issue 22: App-Log-Lik by masked counts (dnadav.dna.masked_count) — unbiased for the same
NELBO (against quadrature on an enumerable time-dependent toy) and of lower variance at fewer rows —
and the cache of the real held-out rows (dnadav.evaluate.reference_cache), bit-identical to recomputing."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from dnadav.dna.backbone import ConvDenoiser, ConvDenoiserConfig
from dnadav.dna.masked import sequence_elbo, x0_log_probs
from dnadav.dna.masked_count import count_weights, draw_counts
from dnadav.dna.schedule import CosineSchedule, LogLinearSchedule
from dnadav.dna.tokens import MASK_INDEX
from tests.toys import TimeDependentDenoiser, all_sequences

SCHEDULES = [LogLinearSchedule(eps=0.3), CosineSchedule(eps=0.3)]  # a large eps: the truncation at p(1) matters


@pytest.mark.parametrize("schedule", SCHEDULES + [LogLinearSchedule()])
def test_count_weights_are_binomial_tails(schedule):
    from scipy.stats import binom

    p_max = 1 - float(schedule.alpha(torch.tensor(1.0, dtype=torch.float64)))
    expected = binom.sf(np.arange(0, 12), 12, p_max)  # P(N ≥ k) = sf(k − 1)
    np.testing.assert_allclose(count_weights(schedule, 12).numpy(), expected, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_the_time_given_the_count_follows_the_truncated_beta(schedule):
    from scipy.stats import beta, kstest

    length = 10
    # with as many draws as positions each stratum holds one count: draw j has k = j + 1
    draws = draw_counts(4000, length, length, schedule, torch.Generator().manual_seed(0))
    assert torch.equal(draws.k, torch.arange(1, length + 1).expand(4000, -1))
    share = (1 - schedule.alpha(draws.t.double())).numpy()
    p_max = 1 - float(schedule.alpha(torch.tensor(1.0, dtype=torch.float64)))
    for k in range(1, length + 1):
        law = beta(k, length - k + 1)
        assert kstest(share[:, k - 1], lambda u, law=law: law.cdf(u) / law.cdf(p_max)).pvalue > 1e-3, k
    weights = count_weights(schedule, length).double() / torch.arange(1, length + 1)
    torch.testing.assert_close(draws.weight[0], weights)  # (L/K)·W_k/k with K = L


def _quadrature_nelbo(denoiser, x0: torch.Tensor, schedule, nodes: int = 200) -> torch.Tensor:
    """``∫_0^1 w(t) Σ_{M ≠ ∅} p^|M| (1 − p)^(L−|M|) Σ_{i∈M} −log x̂0(x0_i | x_M, t) dt`` by Gauss–Legendre, float64."""
    t_nodes, t_weights = np.polynomial.legendre.leggauss(nodes)
    t = torch.tensor((t_nodes + 1) / 2, dtype=torch.float64)
    dt = torch.tensor(t_weights / 2, dtype=torch.float64)
    p = 1 - schedule.alpha(t)
    w = schedule.loss_weight(t)
    batch, length = x0.shape
    total = torch.zeros(batch, dtype=torch.float64)
    for mask in itertools.product([False, True], repeat=length):
        m = sum(mask)
        if m == 0:
            continue
        mask_t = torch.tensor(mask)
        x_t = torch.where(mask_t, torch.full_like(x0, MASK_INDEX), x0).repeat(len(t), 1)  # node-major
        times = t.float().repeat_interleave(batch)
        log_probs = x0_log_probs(denoiser(x_t, times), x_t).double()
        ce = -(log_probs.gather(-1, x0.repeat(len(t), 1)[..., None]).squeeze(-1) * mask_t).sum(-1).view(len(t), batch)
        total += ((dt * w * p**m * (1 - p) ** (length - m))[:, None] * ce).sum(0)
    return -total


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_count_estimator_is_unbiased_for_the_nelbo_of_a_time_dependent_toy(schedule):
    denoiser = TimeDependentDenoiser(3, seed=0)
    x0 = all_sequences(3)[[0, 9, 27, 50]]
    exact = _quadrature_nelbo(denoiser, x0, schedule)
    repeats = 20000
    runs = (
        sequence_elbo(
            denoiser,
            x0.repeat(repeats, 1),
            schedule,
            num_time_samples=2,
            generator=torch.Generator().manual_seed(1),
            times="count",
        )
        .double()
        .view(repeats, 4)
    )
    error = runs.std(0) / math.sqrt(repeats)
    assert torch.all((runs.mean(0) - exact).abs() < 4 * error), (runs.mean(0), exact, error)
    # and the time form estimates the same number (its t ≥ 1e-4 clamp costs < 0.01 nats here)
    stratified = (
        sequence_elbo(denoiser, x0.repeat(repeats, 1), schedule, num_time_samples=4, generator=torch.Generator().manual_seed(2))
        .double()
        .view(repeats, 4)
    )
    assert torch.all((stratified.mean(0) - exact).abs() < 4 * stratified.std(0) / math.sqrt(repeats) + 0.01)


def test_two_count_rows_vary_less_than_four_stratified_time_rows():
    torch.manual_seed(0)
    config = ConvDenoiserConfig(channels=16, num_blocks=2, kernel_size=3, dilations=(1, 2), time_embedding_dim=8)
    network = ConvDenoiser(config).eval()
    x0 = torch.randint(0, 4, (8, 32), generator=torch.Generator().manual_seed(1))
    repeats = 200

    def spread(times: str, rows: int) -> torch.Tensor:
        runs = sequence_elbo(
            network, x0.repeat(repeats, 1), num_time_samples=rows, generator=torch.Generator().manual_seed(3), times=times
        ).view(repeats, len(x0))
        return runs.var(0)

    count, stratified = spread("count", 2), spread("stratified", 4)
    assert torch.all(count < stratified / 4), (count, stratified)  # measured 10–40× lower
    with pytest.raises(ValueError, match="times"):
        sequence_elbo(network, x0, times="antithetic")
