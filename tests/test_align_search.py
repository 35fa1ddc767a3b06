"""The E-step: weights follow the formula, α → ∞ samples the model, finite α tilts toward p·exp(r/α)."""

import math

import pytest
import torch

from dnadav.align.search import SearchConfig, search, soft_value, systematic_resample, value_potential
from dnadav.diffusion import MaskedDiffusion
from dnadav.seq import MASK_INDEX, tokens_to_onehot
from tests.toys import ExactDenoiser, all_sequences, random_distribution

LENGTH = 3


def empirical(tokens: torch.Tensor) -> torch.Tensor:
    index = (tokens * torch.tensor([16, 4, 1])).sum(dim=-1)
    return torch.bincount(index, minlength=64).double() / len(tokens)


def count_of_g(onehot: torch.Tensor) -> torch.Tensor:
    """Toy reward: number of G's (soft one-hot allowed)."""
    return onehot[:, 2].sum(dim=-1)


def tilted(joint: torch.Tensor, alpha: float) -> torch.Tensor:
    rewards = count_of_g(tokens_to_onehot(all_sequences(LENGTH))).double()
    weights = joint.double() * torch.exp(rewards / alpha)
    return weights / weights.sum()


def test_value_potential_is_the_discounted_tempered_value():
    value = torch.tensor([1.0, -2.0])
    config = SearchConfig(reward_temperature=0.5, discount=0.9)
    torch.testing.assert_close(value_potential(value, config, steps_left=3), 0.9**3 * value / 0.5)
    torch.testing.assert_close(value_potential(value, SearchConfig(reward_temperature=math.inf), 0), torch.zeros(2))


def test_plug_in_value_scores_the_argmax_completion():
    log_x0 = torch.log(torch.tensor([[[0.1, 0.2, 0.6, 0.1], [0.7, 0.1, 0.1, 0.1]]]))
    x_s = torch.tensor([[MASK_INDEX, 2]])  # position 1 is already G: kept, not replaced by argmax A
    assert soft_value(MaskedDiffusion(None, x_s.shape[1]), log_x0, x_s, count_of_g, SearchConfig(), None).item() == 2.0


def test_sampled_value_is_a_log_mean_exp_and_approaches_the_mean_for_large_alpha():
    log_x0 = torch.log(torch.tensor([[[0.5, 0.0, 0.5, 0.0]]]).clamp_min(1e-12))
    x_s = torch.tensor([[MASK_INDEX]])
    config = SearchConfig(value="sample", num_value_samples=20000, reward_temperature=1.0)
    value = soft_value(
        MaskedDiffusion(None, x_s.shape[1]), log_x0, x_s, count_of_g, config, torch.Generator().manual_seed(0)
    ).item()
    assert value == pytest.approx(math.log(0.5 + 0.5 * math.e), abs=0.02)  # α log E[exp(r/α)], r ∈ {0, 1}
    config = SearchConfig(value="sample", num_value_samples=20000, reward_temperature=math.inf)
    assert soft_value(
        MaskedDiffusion(None, x_s.shape[1]), log_x0, x_s, count_of_g, config, torch.Generator().manual_seed(0)
    ).item() == pytest.approx(0.5, abs=0.02)


@pytest.mark.parametrize("mode", ["per_sequence", "smc"])
def test_infinite_temperature_search_samples_the_models_own_distribution(mode):
    joint = random_distribution(LENGTH, seed=21)
    config = SearchConfig(num_children=3, reward_temperature=math.inf, num_steps=100, mode=mode)
    result = search(ExactDenoiser(joint, LENGTH), count_of_g, 12000, LENGTH, config, generator=torch.Generator().manual_seed(0))
    assert 0.5 * (empirical(result.sequences) - joint.double()).abs().sum() < 0.04
    assert result.trajectory.states.shape == (101, 12000, LENGTH)
    assert torch.equal(result.trajectory.final, result.sequences)


def test_one_step_search_with_many_children_samples_the_tilted_distribution():
    # One step unmasks everything, so V is the exact reward and choosing one of M children by
    # softmax(r/α) is sampling-importance-resampling toward p·exp(r/α) (exact as M → ∞).
    factors = torch.tensor([[0.4, 0.3, 0.2, 0.1]] * LENGTH)
    joint = torch.einsum("a,b,c->abc", *factors).flatten()
    alpha = 0.7
    config = SearchConfig(num_children=256, reward_temperature=alpha, num_steps=1)
    result = search(ExactDenoiser(joint, LENGTH), count_of_g, 8000, LENGTH, config, generator=torch.Generator().manual_seed(1))
    assert 0.5 * (empirical(result.sequences) - tilted(joint, alpha)).abs().sum() < 0.04
    assert 0.5 * (empirical(result.sequences) - joint.double()).abs().sum() > 0.2  # it did move


def test_smc_final_resampling_targets_the_tilted_distribution():
    joint = random_distribution(LENGTH, seed=5)
    alpha = 1.0
    # many steps, so that the model's path distribution is the joint (one unmasking per step)
    config = SearchConfig(reward_temperature=alpha, num_steps=60, mode="smc", ess_threshold=0.5)
    result = search(ExactDenoiser(joint, LENGTH), count_of_g, 12000, LENGTH, config, generator=torch.Generator().manual_seed(2))
    # SMC is consistent for any value function: the whole population targets p·exp(r/α)
    assert 0.5 * (empirical(result.sequences) - tilted(joint, alpha)).abs().sum() < 0.04
    assert result.stats.resamples >= 1


def test_search_batches_all_children_in_one_network_call_per_step_and_counts_its_budget():
    joint = random_distribution(LENGTH, seed=1)
    calls = []
    denoiser = ExactDenoiser(joint, LENGTH)

    def counting(x_t, t):
        calls.append(x_t.shape[0])
        return denoiser(x_t, t)

    config = SearchConfig(num_children=5, num_steps=4)
    result = search(counting, count_of_g, 7, LENGTH, config, generator=torch.Generator().manual_seed(0))
    # the start, then B·M children per step; the last step's children are clean, scored without the network
    assert calls == [7] + [35] * 3
    assert result.stats.network_calls == 4 and result.stats.oracle_calls == 35 * 4
    assert result.rewards.shape == (7,)
    torch.testing.assert_close(result.rewards, count_of_g(tokens_to_onehot(result.sequences)))


def test_gradient_proposal_is_corrected_by_importance_weights():
    # With α = ∞ the target is the model itself: a reward-gradient proposal must be undone by
    # log p − log q, so one-step search still samples the model's distribution.
    factors = torch.tensor([[0.4, 0.3, 0.2, 0.1]] * LENGTH)
    joint = torch.einsum("a,b,c->abc", *factors).flatten()
    config = SearchConfig(num_children=64, reward_temperature=math.inf, num_steps=1, guidance_scale=1.5)
    result = search(ExactDenoiser(joint, LENGTH), count_of_g, 8000, LENGTH, config, generator=torch.Generator().manual_seed(3))
    assert 0.5 * (empirical(result.sequences) - joint.double()).abs().sum() < 0.04


def test_search_is_seeded_and_restores_module_mode():
    model = torch.nn.Sequential()  # a module wrapper to check train/eval restoration
    model.train()
    joint = random_distribution(LENGTH, seed=2)
    denoiser = ExactDenoiser(joint, LENGTH)

    class Wrapped(torch.nn.Module):
        def forward(self, x_t, t):
            assert not self.training
            return denoiser(x_t, t)

    wrapped = Wrapped().train()
    a = search(wrapped, count_of_g, 16, LENGTH, SearchConfig(num_steps=3), generator=torch.Generator().manual_seed(4))
    b = search(wrapped, count_of_g, 16, LENGTH, SearchConfig(num_steps=3), generator=torch.Generator().manual_seed(4))
    assert torch.equal(a.sequences, b.sequences) and wrapped.training


def test_systematic_resampling_keeps_proportions():
    log_w = torch.log(torch.tensor([0.5, 0.25, 0.25, 0.0]).clamp_min(1e-30))
    index = systematic_resample(log_w.repeat(100)[:4].repeat_interleave(1), torch.Generator().manual_seed(0))
    assert sorted(index.tolist()).count(0) == 2 and 3 not in index.tolist()
