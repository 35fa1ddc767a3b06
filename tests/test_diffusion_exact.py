"""Exactness of the masked-diffusion maths on enumerable toys (length 3: 64 sequences)."""

import math

import pytest
import torch

from dnadav.dna.masked import mask_tokens, nelbo, sequence_elbo, stratified_times, x0_log_probs
from dnadav.dna.sampler import reverse_log_probs, sample, time_grid, transition_log_prob
from dnadav.dna.schedule import CosineSchedule, LogLinearSchedule
from dnadav.dna.tokens import MASK_INDEX
from tests.toys import (
    ExactDenoiser,
    TableDenoiser,
    all_sequences,
    any_order_model_probability,
    exact_continuous_elbo,
    random_distribution,
)

LENGTH = 3


def empirical_distribution(tokens: torch.Tensor) -> torch.Tensor:
    index = (tokens * torch.tensor([16, 4, 1])).sum(dim=-1)
    return torch.bincount(index, minlength=64).double() / len(tokens)


@pytest.mark.parametrize("num_steps", [1, 3, 50])
def test_sampler_with_exact_denoiser_matches_a_product_distribution(num_steps):
    # For a product distribution the per-position marginals are the joint's factors, so any number
    # of steps (even one, unmasking everything at once) samples the target exactly.
    factors = torch.tensor([[0.7, 0.1, 0.1, 0.1], [0.25, 0.25, 0.4, 0.1], [0.05, 0.05, 0.1, 0.8]])
    joint = torch.einsum("a,b,c->abc", *factors).flatten()
    draws = sample(ExactDenoiser(joint, LENGTH), 20000, LENGTH, num_steps, generator=torch.Generator().manual_seed(1))
    tv = 0.5 * (empirical_distribution(draws) - joint.double()).abs().sum()
    assert tv < 0.03


def test_sampler_with_exact_denoiser_matches_a_correlated_distribution():
    # With one position unmasked per step (many steps), ancestral sampling with the exact
    # conditional marginals samples the joint exactly; check with a chi-square statistic.
    joint = random_distribution(LENGTH, seed=3)
    n = 20000
    draws = sample(ExactDenoiser(joint, LENGTH), n, LENGTH, num_steps=400, generator=torch.Generator().manual_seed(2))
    observed = empirical_distribution(draws) * n
    expected = joint.double() * n
    keep = expected > 5
    chi2 = (((observed - expected) ** 2) / expected)[keep].sum().item()
    dof = int(keep.sum()) - 1
    # 99.9% quantile of chi-square ≈ dof + 3.1·sqrt(2·dof) + 5 for these sizes
    assert chi2 < dof + 3.1 * math.sqrt(2 * dof) + 5, (chi2, dof)
    assert 0.5 * (observed / n - joint.double()).abs().sum() < 0.03


def test_one_step_sampling_of_a_correlated_distribution_is_the_product_of_marginals():
    # A known failure mode made visible: unmasking all positions in one step samples the product of
    # marginals, not the joint. This pins the reverse step's maths to the formula.
    joint = random_distribution(LENGTH, seed=4)
    marginals = [joint.view(4, 4, 4).sum(dim=dims) for dims in [(1, 2), (0, 2), (0, 1)]]
    product = torch.einsum("a,b,c->abc", *marginals).flatten().double()
    draws = sample(ExactDenoiser(joint, LENGTH), 20000, LENGTH, num_steps=1, generator=torch.Generator().manual_seed(5))
    assert 0.5 * (empirical_distribution(draws) - product).abs().sum() < 0.03


def test_exact_elbo_is_tight_for_the_exact_denoiser():
    joint = random_distribution(LENGTH, seed=7)
    x0 = all_sequences(LENGTH)
    exact = exact_continuous_elbo(ExactDenoiser(joint, LENGTH), x0)
    torch.testing.assert_close(exact, torch.log(joint.double()), atol=1e-5, rtol=0)


def test_exact_elbo_is_a_strict_lower_bound_for_an_inconsistent_denoiser():
    # For a denoiser whose conditionals fit no joint, ELBO = E_σ Σ log p(x_σi|x_σ<i) is, by Jensen,
    # below log p_θ(x) = log E_σ Π p(x_σi|x_σ<i), with a strict gap somewhere.
    denoiser = TableDenoiser(LENGTH, seed=0)
    x0 = all_sequences(LENGTH)
    elbo = exact_continuous_elbo(denoiser, x0)
    log_model = torch.log(any_order_model_probability(denoiser, LENGTH))
    assert torch.all(elbo <= log_model + 1e-9)
    assert (log_model - elbo).max() > 0.05


def test_many_step_sampler_samples_the_any_order_distribution_of_an_inconsistent_denoiser():
    denoiser = TableDenoiser(LENGTH, seed=1)
    target = any_order_model_probability(denoiser, LENGTH)
    draws = sample(denoiser, 20000, LENGTH, num_steps=400, generator=torch.Generator().manual_seed(3))
    assert 0.5 * (empirical_distribution(draws) - target).abs().sum() < 0.03


def test_monte_carlo_elbo_estimator_is_unbiased_and_never_above_log_p_on_average():
    joint = random_distribution(LENGTH, seed=11)
    denoiser = ExactDenoiser(joint, LENGTH)
    x0 = all_sequences(LENGTH)[[0, 5, 27, 63]]
    runs = torch.stack(
        [
            sequence_elbo(
                denoiser, x0, LogLinearSchedule(eps=1e-6), num_time_samples=20000, generator=torch.Generator().manual_seed(seed)
            ).double()
            for seed in range(8)
        ]
    )
    exact = exact_continuous_elbo(denoiser, x0)
    log_p = torch.log(joint.double())[[0, 5, 27, 63]]
    assert torch.all(exact <= log_p + 1e-5)
    standard_error = runs.std(dim=0) / math.sqrt(len(runs))
    assert torch.all((runs.mean(dim=0) - exact).abs() < 4 * standard_error + 0.01), (runs.mean(0), exact, standard_error)


def test_elbo_of_a_context_blind_denoiser_is_strictly_below_log_p_for_correlated_data():
    joint = random_distribution(LENGTH, seed=12)
    x0 = all_sequences(LENGTH)
    marginals = [joint.view(4, 4, 4).sum(dim=dims) for dims in [(1, 2), (0, 2), (0, 1)]]
    log_marginals = torch.log(torch.stack(marginals)).float()  # [L, 4]
    blind = lambda x_t, t: log_marginals[None].expand(x_t.shape[0], -1, -1)  # noqa: E731
    elbo = exact_continuous_elbo(blind, x0)
    # Expected under the data, the ELBO of any model is below the data entropy bound E[log p].
    assert (joint.double() * elbo).sum() < (joint.double() * torch.log(joint.double())).sum()


@pytest.mark.parametrize("schedule", [LogLinearSchedule(eps=1e-3), CosineSchedule(eps=1e-3)])
def test_nelbo_weight_matches_the_analytic_value(schedule):
    t = torch.tensor([0.01, 0.2, 0.5, 0.9, 1.0], dtype=torch.float64)
    eps = 1e-3
    if isinstance(schedule, LogLinearSchedule):
        expected = 1.0 / t  # -α'/(1-α) = (1-ε)/((1-ε)t)
    else:
        expected = (0.5 * math.pi * torch.sin(0.5 * math.pi * t)) / (1 - torch.cos(0.5 * math.pi * t))
    torch.testing.assert_close(schedule.loss_weight(t), expected, rtol=1e-10, atol=0)
    # and the derivative is the finite difference of alpha
    h = 1e-6
    finite = (schedule.alpha(t.clamp(max=1 - h) + h) - schedule.alpha(t.clamp(max=1 - h) - h)) / (2 * h)
    torch.testing.assert_close(schedule.alpha_derivative(t.clamp(max=1 - h)), finite, rtol=1e-5, atol=1e-7)
    assert eps > 0


def test_nelbo_equals_weighted_masked_cross_entropy_by_hand():
    x0 = torch.tensor([[0, 1, 2, 3]])
    t = torch.tensor([0.5])
    logits = torch.tensor([[[2.0, 0.0, 0.0, 0.0]] * 4])
    g = torch.Generator().manual_seed(0)
    x_t = mask_tokens(x0, LogLinearSchedule().alpha(t), torch.Generator().manual_seed(0))
    loss = nelbo(lambda x, tt: logits, x0, LogLinearSchedule(), t, g)
    log_softmax = torch.log_softmax(logits[0, 0], dim=-1)
    expected = sum(-log_softmax[x0[0, i]] for i in range(4) if x_t[0, i] == MASK_INDEX) / 0.5
    torch.testing.assert_close(loss, torch.tensor([float(expected)]))


def test_masking_rate_follows_alpha():
    x0 = torch.zeros(2000, 50, dtype=torch.long)
    alpha = torch.full((2000,), 0.3)
    rate = (mask_tokens(x0, alpha, torch.Generator().manual_seed(0)) == MASK_INDEX).float().mean()
    assert abs(rate.item() - 0.7) < 0.01


def test_subs_parameterisation_carries_unmasked_tokens_over():
    x_t = torch.tensor([[0, MASK_INDEX, 3]])
    log_probs = x0_log_probs(torch.randn(1, 3, 4), x_t)
    assert log_probs[0, 0].argmax() == 0 and torch.exp(log_probs[0, 0]).sum().item() == pytest.approx(1.0)
    assert log_probs[0, 2].argmax() == 3
    assert torch.exp(log_probs[0, 1]).sum().item() == pytest.approx(1.0, abs=1e-6)


def test_reverse_step_probabilities_follow_the_formula():
    log_x0 = torch.log(torch.tensor([[[0.1, 0.2, 0.3, 0.4], [1.0, 1e-30, 1e-30, 1e-30]]]))
    x_t = torch.tensor([[MASK_INDEX, 0]])
    alpha_t, alpha_s = torch.tensor([0.2]), torch.tensor([0.6])
    probs = reverse_log_probs(log_x0, x_t, alpha_t, alpha_s).exp()
    stay = (1 - 0.6) / (1 - 0.2)
    torch.testing.assert_close(
        probs[0, 0], torch.tensor([0.1, 0.2, 0.3, 0.4, 0.0]) * (1 - stay) + torch.tensor([0, 0, 0, 0, stay])
    )
    torch.testing.assert_close(probs[0, 1], torch.tensor([1.0, 0, 0, 0, 0]))
    x_s = torch.tensor([[2, 0]])
    expected = math.log(0.3 * (1 - stay))
    assert transition_log_prob(log_x0, x_t, x_s, alpha_t, alpha_s).item() == pytest.approx(expected, rel=1e-6)


def test_stratified_times_cover_each_stratum_once():
    t = stratified_times(10, torch.Generator().manual_seed(0), t_min=0.0)
    assert torch.all((t >= torch.arange(10) / 10) & (t < (torch.arange(10) + 1) / 10))


def test_time_grid_ends_at_zero_so_no_mask_survives():
    grid = time_grid(5)
    assert grid[0] == 1.0 and grid[-1] == 0.0 and len(grid) == 6
    draws = sample(lambda x, t: torch.zeros(*x.shape, 4), 8, 10, num_steps=3, generator=torch.Generator().manual_seed(0))
    assert not (draws == MASK_INDEX).any()


def test_sampling_is_seeded():
    toy = lambda x, t: torch.zeros(*x.shape, 4)  # noqa: E731
    a = sample(toy, 4, 12, 5, generator=torch.Generator().manual_seed(9))
    b = sample(toy, 4, 12, 5, generator=torch.Generator().manual_seed(9))
    assert torch.equal(a, b)
