"""The importance-sampling E-step (``SearchConfig(mode="importance")``) against exact targets.

Its B kept paths are a self-normalised importance sample of the model's own path law tilted by
exp(r(x0)/α): on an enumerable toy the kept sequences follow the sampler's exact law times
exp(r/α); its population is exactly the model's plain samples; it spends one reward call per path;
and systematic resampling of B from N gives every path ⌊B·w⌋ or ⌈B·w⌉ copies.
"""

import dataclasses
import math

import pytest
import torch

from dnadav.core.importance import effective_sample_size, ess_temperature, resample_counts
from dnadav.core.protocol import sample_process
from dnadav.core.search import SearchConfig, search_process
from dnadav.dna import MaskedDiffusion
from dnadav.dna.search import search
from tests.test_estep_exact import assert_possible_paths, count_of_g, empirical, sampler_law, tilted, tv
from tests.toys import ExactDenoiser, random_distribution


def _importance(joint, length, alpha, num, paths, steps, seed):
    config = SearchConfig(mode="importance", num_children=paths, reward_temperature=alpha, num_steps=steps)
    return search(ExactDenoiser(joint, length), count_of_g, num, length, config, generator=torch.Generator().manual_seed(seed))


def test_kept_paths_follow_the_sampler_law_tilted_by_the_reward():
    # Kills: α vs 1/α, a sign flip of the weights, uniform weights (no tilt), rewards read off other
    # rows than the paths they score.
    length, alpha, steps = 3, 0.7, 4
    joint = random_distribution(length, seed=5)
    result = _importance(joint, length, alpha, num=20000, paths=4, steps=steps, seed=1)
    exact = tilted(sampler_law(joint, length, steps), length, alpha)
    # 20 000 resampled from 80 000 paths: TV 0.015–0.021 over seeds 0–3 on torch 2.13.0+cpu; the
    # untilted sampler law is 0.42 away, the tilt at 1/α 0.24
    assert tv(empirical(result.sequences), exact) < 0.03, tv(empirical(result.sequences), exact)
    assert tv(exact, sampler_law(joint, length, steps)) > 0.2
    assert_possible_paths(result.trajectory.states)
    assert torch.equal(result.trajectory.final, result.sequences)
    assert torch.equal(result.rewards, count_of_g(torch.nn.functional.one_hot(result.sequences, 4).transpose(1, 2).float()))


def test_the_population_is_the_models_plain_samples_and_each_costs_one_reward_call():
    length, steps, num, paths = 4, 5, 16, 3
    joint = random_distribution(length, seed=2)
    result = _importance(joint, length, 0.5, num=num, paths=paths, steps=steps, seed=7)
    plain = sample_process(
        MaskedDiffusion(ExactDenoiser(joint, length), length), num * paths, steps, torch.Generator().manual_seed(7)
    )
    kept_rows = [(plain == row).all(-1).any() for row in result.sequences]
    assert all(kept_rows), "a kept sequence is not one of the model's own samples"
    assert result.stats.oracle_calls == num * paths
    assert result.stats.network_sequences == num * paths * steps
    assert result.trajectory.states.shape == (steps + 1, num, length)
    assert 1.0 <= result.stats.ess_history[0] <= num * paths


def test_near_alpha_zero_every_kept_path_is_the_best_of_the_whole_population():
    # Kills resampling among the first B paths only (a valid estimator that wastes the other paths' calls)
    length, steps, num, paths = 6, 4, 3, 40
    joint = random_distribution(length, seed=4)
    result = _importance(joint, length, 1e-3, num=num, paths=paths, steps=steps, seed=3)
    plain = sample_process(
        MaskedDiffusion(ExactDenoiser(joint, length), length), num * paths, steps, torch.Generator().manual_seed(3)
    )
    best = count_of_g(torch.nn.functional.one_hot(plain, 4).transpose(1, 2).float()).max()
    first = count_of_g(torch.nn.functional.one_hot(plain[:num], 4).transpose(1, 2).float()).max()
    assert first < best, "the toy must have its best path outside the first B"
    assert bool((result.rewards == best).all()), (result.rewards, best)


@pytest.mark.parametrize("count", [1, 5, 13, 40])
def test_resampling_count_draws_gives_every_path_floor_or_ceil_of_its_share(count):
    generator = torch.Generator().manual_seed(count)
    for trial in range(10):
        n = 9 + trial
        weights = torch.rand(n, generator=generator) ** 3
        weights[trial % n] = 0.0
        index = resample_counts(torch.log(weights.clamp_min(1e-30)), count, generator)
        counts = torch.bincount(index, minlength=n)
        share = count * weights / weights.sum()
        assert counts.sum() == count
        assert bool((counts >= share.floor() - 1e-6).all() and (counts <= share.ceil() + 1e-6).all()), (counts, share)


def test_effective_sample_size_of_equal_and_of_one_hot_weights():
    assert effective_sample_size(torch.zeros(50)) == pytest.approx(50.0)
    assert effective_sample_size(torch.tensor([0.0, -1e4, -1e4])) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "options",
    [
        {"tilt_base": "prior", "proposal": "prior"},
        {"guidance_scale": 1.0},
        {"record_children": True},
        {"record_clean": True},
        {"lookahead": "parent"},
        {"target_ess": 0.1, "tilt_base": "prior"},
    ],
)
def test_importance_mode_refuses_per_step_options(options):
    with pytest.raises(ValueError, match="mode="):
        SearchConfig(mode="importance", **options)


@pytest.mark.parametrize("options", [{"target_ess": 0.1}, {"target_ess": 1.0, "mode": "importance"}])
def test_target_ess_needs_the_importance_mode_and_a_fraction(options):
    with pytest.raises(ValueError, match="target_ess"):
        SearchConfig(**options)


def test_the_ess_temperature_of_two_paths_in_closed_form():
    # rewards 0 and 1: ESS(β = 1/α) = (1 + e^β)² / (1 + e^2β), which is 1.5 (= 0.75 · 2) at e^β = 2 + √3.
    # Kills: α returned as β, the bisection stepping the wrong way.
    assert ess_temperature(torch.tensor([0.0, 1.0]), 0.75) == pytest.approx(1 / math.log(2 + math.sqrt(3)), rel=1e-9)
    assert ess_temperature(torch.tensor([-80.0, -79.0]), 0.75) == pytest.approx(1 / math.log(2 + math.sqrt(3)), rel=1e-9)


@pytest.mark.parametrize("target", [0.02, 0.1, 0.5, 0.9])
def test_the_ess_temperature_keeps_that_fraction_of_the_weights(target):
    rewards = torch.randn(1000, generator=torch.Generator().manual_seed(0)) * 3 - 50
    alpha = ess_temperature(rewards, target)
    assert effective_sample_size(rewards.double() / alpha) == pytest.approx(target * 1000, rel=1e-6)
    # monotone: a stronger tilt keeps fewer paths, a weaker one more
    assert effective_sample_size(rewards / (0.9 * alpha)) < target * 1000 < effective_sample_size(rewards / (1.1 * alpha))


def test_with_target_ess_the_kept_paths_follow_the_sampler_law_tilted_at_the_solved_alpha():
    # Kills: α solved but the weights taken at the configured α (here 100, almost no tilt), the solved α
    # not recorded.
    length, steps = 3, 4
    joint = random_distribution(length, seed=5)
    config = SearchConfig(mode="importance", num_children=4, reward_temperature=100.0, num_steps=steps, target_ess=0.3)
    result = search(ExactDenoiser(joint, length), count_of_g, 20000, length, config, generator=torch.Generator().manual_seed(1))
    alpha = result.stats.reward_temperature
    assert alpha < 10 and result.stats.ess_history[0] == pytest.approx(0.3 * 80000, rel=1e-3)
    exact = tilted(sampler_law(joint, length, steps), length, alpha)
    assert tv(exact, sampler_law(joint, length, steps)) > 0.1, tv(exact, sampler_law(joint, length, steps))
    assert tv(empirical(result.sequences), exact) < 0.03, tv(empirical(result.sequences), exact)


def test_with_a_reference_the_kept_paths_follow_the_references_law_tilted_whatever_the_model():
    # tilt_base="prior": the model only proposes; the path log-ratio makes the target the reference's
    # sampler law times exp(r/α). Kills: the ratio's sign flipped, the ratio left out (the model's own tilt).
    length, alpha, steps = 3, 0.7, 4
    prior_joint, model_joint = random_distribution(length, seed=5), random_distribution(length, seed=9)
    config = SearchConfig(mode="importance", num_children=4, reward_temperature=alpha, num_steps=steps, tilt_base="prior")
    process = MaskedDiffusion(ExactDenoiser(model_joint, length), length)
    result = search_process(
        process, count_of_g, 20000, config, torch.Generator().manual_seed(1), reference=ExactDenoiser(prior_joint, length)
    )
    exact = tilted(sampler_law(prior_joint, length, steps), length, alpha)
    model_tilt = tilted(sampler_law(model_joint, length, steps), length, alpha)
    # 20 000 of 80 000 paths from a proposal 0.55 TV from the target (ESS 4 500–7 800): TV 0.025–0.040
    # over seeds 0–3 on torch 2.13.0+cpu; the ratio with its sign flipped gives 0.79
    assert tv(exact, model_tilt) > 0.2, tv(exact, model_tilt)
    assert tv(empirical(result.sequences), exact) < 0.05, tv(empirical(result.sequences), exact)
    assert result.stats.network_sequences == 20000 * 4 * steps * 3  # the model's T rows, then 2T for the ratio


def test_a_reference_equal_to_the_model_changes_no_weight():
    length, steps = 4, 5
    joint = random_distribution(length, seed=2)
    config = SearchConfig(mode="importance", num_children=3, reward_temperature=0.5, num_steps=steps)
    process = MaskedDiffusion(ExactDenoiser(joint, length), length)
    plain = search_process(process, count_of_g, 16, config, torch.Generator().manual_seed(7))
    prior_config = dataclasses.replace(config, tilt_base="prior")
    anchored = search_process(
        process, count_of_g, 16, prior_config, torch.Generator().manual_seed(7), reference=ExactDenoiser(joint, length)
    )
    assert torch.equal(plain.sequences, anchored.sequences)
    assert anchored.stats.ess_history[0] == pytest.approx(plain.stats.ess_history[0], rel=1e-5)
