"""The Gaussian DDIM step: mean and σ agree with diffusers' DDIMScheduler, the step density and the
KL are the closed-form Gaussian ones, and the E-step on a 1-D Gaussian reaches p·exp(r/α)."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("diffusers")

import torch  # noqa: E402

from dnadav.core.protocol import sample_process  # noqa: E402
from dnadav.core.search import SearchConfig, search_process  # noqa: E402
from dnadav.image.ddim import GaussianDDIM, ddim_timesteps  # noqa: E402
from tests.image_toys import ExactGaussianDenoiser  # noqa: E402


def scheduler(num_train: int = 100, set_alpha_to_one: bool = True):
    from diffusers import DDIMScheduler

    return DDIMScheduler(num_train_timesteps=num_train, beta_schedule="linear", beta_start=1e-3, beta_end=0.05,
                         clip_sample=False, set_alpha_to_one=set_alpha_to_one)  # fmt: skip


def toy_process(eta=1.0, final_alpha=None, mean=0.5, var=0.25, shape=(1, 1, 1), offset=0):
    sched = scheduler(set_alpha_to_one=final_alpha is None)
    network = ExactGaussianDenoiser(sched.alphas_cumprod, mean, var)
    final = 1.0 if final_alpha is None else float(sched.alphas_cumprod[0])
    return GaussianDDIM(
        network, sched.alphas_cumprod, shape, lambda x: x, eta=eta, final_alpha=final, timestep_offset=offset
    ), sched


def test_grid_is_ddim_leading_spacing_then_the_clean_end():
    process, sched = toy_process()
    sched.set_timesteps(10)
    assert ddim_timesteps(10, 100) == sched.timesteps.tolist()
    assert process.time_grid(10).tolist() == [*sched.timesteps.float().tolist(), -1.0]


@pytest.mark.parametrize("eta", [0.5, 1.0])
def test_step_mean_and_std_match_diffusers_ddim(eta):
    process, sched = toy_process(eta, final_alpha=0.0, shape=(2, 3, 3))
    sched.set_timesteps(10)
    x = torch.randn(4, 2, 3, 3, generator=torch.Generator().manual_seed(0))
    grid = process.time_grid(10)
    for k in (0, 4, 9):
        t, s = float(grid[k]), float(grid[k + 1])
        rows = torch.full((4,), t)
        prediction = process.predict(x, rows)
        eps = process.network(x, rows.long()).sample
        expected = sched.step(eps, int(t), x, eta=eta, variance_noise=torch.zeros_like(x)).prev_sample
        mean = process.step_mean(prediction, rows, torch.full((4,), s))
        torch.testing.assert_close(mean, expected, atol=1e-5, rtol=1e-5)
        prev = int(t) - 100 // 10
        variance = sched._get_variance(int(t), prev)
        assert float(process.step_std(rows[:1], torch.full((1,), s))) == pytest.approx(eta * math.sqrt(variance), rel=1e-5)


def test_transition_log_prob_and_kl_are_the_closed_form_gaussians():
    process, _ = toy_process(final_alpha=0.0, shape=(2, 2, 2))
    x_t = torch.randn(3, 2, 2, 2, generator=torch.Generator().manual_seed(1))
    t, s = torch.full((3,), 60.0), torch.full((3,), 40.0)
    prediction = process.predict(x_t, t)
    mean, std = process.step_mean(prediction, t, s), process.step_std(t, s)
    x_s = process.propose(prediction, x_t, 60.0, 40.0, 1, torch.Generator().manual_seed(2)).children
    normal = torch.distributions.Normal(mean, std.view(-1, 1, 1, 1))
    torch.testing.assert_close(process.transition_log_prob(prediction, x_t, x_s, t, s), normal.log_prob(x_s).flatten(1).sum(1))
    other = prediction + 0.1 * torch.randn(prediction.shape, generator=torch.Generator().manual_seed(3))
    reference = torch.distributions.Normal(process.step_mean(other, t, s), std.view(-1, 1, 1, 1))
    kl = torch.distributions.kl_divergence(normal, reference).flatten(1).sum(1)
    torch.testing.assert_close(process.divergence(prediction, other, x_t, t, s), kl)


def test_deterministic_final_step_carries_no_density():
    process, _ = toy_process()  # ᾱ = 1 at the clean end: σ = 0 on the last step
    x = torch.randn(2, 1, 1, 1)
    t, s = torch.full((2,), 0.0), torch.full((2,), -1.0)
    prediction = process.predict(x, t)
    assert torch.equal(process.transition_log_prob(prediction, x, x, t, s), torch.zeros(2))
    assert torch.equal(process.divergence(prediction, prediction + 1, x, t, s), torch.zeros(2))


def linear_chain_moments(process: GaussianDDIM, num_steps: int) -> tuple[float, float]:
    """Exact mean and variance of the plain sampler's output (every step is affine-Gaussian in 1-D)."""
    grid = process.time_grid(num_steps)
    mean, var = 0.0, 1.0
    for k in range(num_steps):
        t, s = torch.full((2,), float(grid[k])), torch.full((2,), float(grid[k + 1]))
        points = torch.tensor([0.0, 1.0]).view(2, 1, 1, 1)
        mu = process.step_mean(process.predict(points, t), t, s).flatten().detach()
        slope, offset = float(mu[1] - mu[0]), float(mu[0])  # noqa: F841
        mean, var = slope * mean + offset, slope**2 * var + float(process.step_std(t[:1], s[:1])) ** 2
    return mean, var


def test_plain_sampler_matches_its_closed_form_moments():
    process, _ = toy_process(final_alpha=0.0)
    mean, var = linear_chain_moments(process, 8)
    x = sample_process(process, 20000, 8, torch.Generator().manual_seed(0)).flatten()
    assert abs(float(x.mean()) - mean) < 4 * math.sqrt(var / 20000)
    assert float(x.var()) == pytest.approx(var, rel=0.05)


def test_one_step_selection_among_many_children_is_sir_toward_the_tilted_step():
    # One step from t = 99 to the clean end: V is the exact reward, so picking one of M children by
    # softmax(r/α) is SIR toward p(x_s | x_T)·exp(r/α) = N(μ(x_T) + c·σ²/α, σ²) (exact as M → ∞).
    process, _ = toy_process(final_alpha=0.0, offset=99)
    grid = process.time_grid(1)
    t, s = grid[:1], grid[1:]
    std = float(process.step_std(t, s))
    c, num = 1.0, 3000
    alpha = c * std  # a one-σ shift
    config = SearchConfig(num_children=256, reward_temperature=alpha, num_steps=1)
    result = search_process(process, lambda x: c * x.flatten(), num, config, torch.Generator().manual_seed(0))
    x_T = result.trajectory.states[0]
    rows = t.expand(num)
    mean = process.step_mean(process.predict(x_T, rows), rows, s.expand(num)).detach()
    residual = (result.sequences - mean).flatten()
    assert abs(float(residual.mean()) - c * std**2 / alpha) < 5 * std / math.sqrt(num) + 0.02 * std
    assert float(residual.var()) == pytest.approx(std**2, rel=0.12)


def test_smc_reaches_the_tilted_gaussian():
    # The plain output is N(m, v) exactly (an affine-Gaussian chain); r(x) = c·x tilts it to
    # N(m + c·v/α, v). SMC's incremental weights telescope to exp(r/α) at the final resampling.
    process, _ = toy_process(final_alpha=0.0)
    steps, num = 6, 6000
    mean, var = linear_chain_moments(process, steps)
    c = 1.0
    alpha = c * math.sqrt(var)  # a one-standard-deviation shift
    config = SearchConfig(num_children=1, reward_temperature=alpha, num_steps=steps, mode="smc", ess_threshold=0.5)
    result = search_process(process, lambda x: c * x.flatten(), num, config, torch.Generator().manual_seed(0))
    x = result.sequences.flatten()
    target = mean + c * var / alpha
    assert abs(float(x.mean()) - target) < 5 * math.sqrt(var / num) + 0.02 * math.sqrt(var)
    assert float(x.var()) == pytest.approx(var, rel=0.12)
    assert abs(float(x.mean()) - mean) > 0.8 * math.sqrt(var)  # it did move
