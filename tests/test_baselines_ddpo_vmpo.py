"""DDPO and VMPO against closed forms on an enumerable toy: masked diffusion over L = 2 bases in
T = 3 steps with a learnable tabular denoiser, whose (4T)^L = 144 paths are listed with their exact
probabilities (docs/baselines.md). The DDPO gradient at ratio 1 is −(1/T)·E[A ∇log p(path)], and
clipping zeroes exactly the steps it should; VMPO's on-policy gradient (path form) is the reverse-KL
gradient ∇KL(p_θ ‖ p_ref·exp(r/α)/Z), its step form's is the gradient of the per-step tilted KLs with
the state law held fixed, its baseline's optimum is E[log w_k], and its off-policy form
on the E-step's particles is the weighted sibling variance, zero at the tilted step."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from dnadav.baselines import ddpo, vmpo
from dnadav.baselines.ddpo import DdpoConfig, PromptStats, advantages, ddpo_loss
from dnadav.baselines.rollouts import Rollouts, path_log_probs, sample_rollouts
from dnadav.baselines.vmpo import StepBaseline, VmpoConfig, vmpo_loss
from dnadav.baselines.vmpo_particles import ParticleConfig, particle_batch, particle_loss
from dnadav.core.search import SearchConfig, search_process
from dnadav.dna.sampler import MaskedDiffusion
from dnadav.dna.tokens import MASK_INDEX

L, T, ALPHA = 2, 3, 0.7
W = torch.tensor([[0.0, 1.0], [1.5, -0.5], [-1.0, 2.0], [0.5, 0.0]])  # reward of base v at position i


def reward(onehot: torch.Tensor) -> torch.Tensor:
    """``Σ_i W[v_i, i]`` of one-hot ``[B, 4, L]`` -> ``[B]``."""
    return (onehot * W[None]).sum(dim=(1, 2))


class Table(torch.nn.Module):
    """Learnable logits ``table[x_t] + 4t · slope[x_t]`` over the 5^L states: every step and state its own."""

    def __init__(self, seed: int):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.table = torch.nn.Parameter(torch.randn(5**L, L, 4, generator=g))
        self.slope = torch.nn.Parameter(torch.randn(5**L, L, 4, generator=g))
        self.powers = 5 ** torch.arange(L - 1, -1, -1)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        index = (x_t * self.powers).sum(dim=-1)
        return self.table[index] + 4.0 * t.float()[:, None, None] * self.slope[index]


def all_paths(steps: int) -> torch.Tensor:
    """Every path ``[T+1, P, L]``: position i unmasks at step u_i to base b_i, all (u, b) combinations."""
    options = list(itertools.product(range(steps), range(4)))
    paths = []
    for choice in itertools.product(options, repeat=L):
        paths.append([[b if u < k else MASK_INDEX for u, b in choice] for k in range(steps + 1)])
    return torch.tensor(paths).transpose(0, 1)


def exact_log_probs(process: MaskedDiffusion, states: torch.Tensor, network=None) -> torch.Tensor:
    """The full ``log p(x_{k+1} | x_k)`` (schedule factors included) of every step ``[T, P]``."""
    times, out = process.time_grid(states.shape[0] - 1), []
    for k in range(states.shape[0] - 1):  # a loop over the T steps of a test toy
        x = states[k]
        prediction = process.predict(x, torch.full((x.shape[0],), float(times[k])), None, network)
        rows = process.step_log_probs(prediction, x, float(times[k]), float(times[k + 1]))
        out.append(rows.gather(-1, states[k + 1][..., None]).squeeze(-1).sum(-1))
    return torch.stack(out)


def enumerated(process: MaskedDiffusion, steps: int = T, values: bool = False) -> tuple[Rollouts, torch.Tensor]:
    """All paths as a ``Rollouts`` weighted by their exact probability under the model, and the
    exact path log-probabilities ``[P]`` (differentiable)."""
    states = all_paths(steps)
    log_path = exact_log_probs(process, states).sum(0)
    times = process.time_grid(steps)
    with torch.no_grad():
        old = path_log_probs(process, Rollouts(states, times, torch.zeros(steps, states.shape[1]), torch.zeros(1)))[0]
        value_table = None
        if values:
            preds = [process.predict(states[k], torch.full((states.shape[1],), float(times[k]))) for k in range(steps)]
            value_table = torch.stack(
                [
                    *(reward(process.clean_estimate(p, states[k], None, None)) for k, p in enumerate(preds)),
                    reward(process.decode(states[-1])),
                ]
            )
    rollouts = Rollouts(states, times, old, reward(process.decode(states[-1])), value_table, None, log_path.detach().exp())
    return rollouts, log_path


def grads(loss: torch.Tensor, network: torch.nn.Module) -> torch.Tensor:
    return torch.cat([g.flatten() for g in torch.autograd.grad(loss, list(network.parameters()))])


def test_the_toy_enumerates_every_path_once():
    process = MaskedDiffusion(Table(0), L)
    rollouts, log_path = enumerated(process)
    assert rollouts.states.shape == (T + 1, (4 * T) ** L, L)
    assert float(log_path.detach().exp().sum()) == pytest.approx(1.0, abs=1e-5)


def test_sampled_rollouts_record_ratio_one_log_probs_and_the_values():
    process = MaskedDiffusion(Table(1), L)
    rollouts = sample_rollouts(process, reward, 64, T, torch.Generator().manual_seed(0), values=True)
    assert rollouts.states.shape == (T + 1, 64, L) and bool((rollouts.states[-1] != MASK_INDEX).all())
    with torch.no_grad():
        log_p, prediction = path_log_probs(process, rollouts)
    torch.testing.assert_close(log_p, rollouts.log_probs)  # ratio 1 at the first inner epoch
    torch.testing.assert_close(rollouts.values[-1], rollouts.rewards)
    x1 = rollouts.states[1]
    expected = reward(process.clean_estimate(prediction.view(T, 64, L, 4)[1], x1, None, None))
    torch.testing.assert_close(rollouts.values[1], expected)


def test_advantages_are_normalised_and_clipped_per_batch_and_per_prompt():
    rewards = torch.tensor([1.0, 2.0, 3.0, 10.0])
    a = advantages(rewards, DdpoConfig(advantage_clip=1.5))
    plain = (rewards - rewards.mean()) / rewards.std(unbiased=False)
    torch.testing.assert_close(a, plain.clamp(-1.5, 1.5), atol=1e-5, rtol=1e-5)
    stats = PromptStats(buffer=4, min_count=2)
    keys = [b"x", b"x", b"y", b"y"]
    got = advantages(rewards, DdpoConfig(), stats, keys)
    torch.testing.assert_close(got, torch.tensor([-1.0, 1.0, -1.0, 1.0]), atol=1e-5, rtol=1e-5)
    few = PromptStats(buffer=4, min_count=3).update(keys, rewards)  # too few per prompt: the batch's stats
    torch.testing.assert_close(few, plain, atol=1e-5, rtol=1e-5)


def test_ddpo_gradient_at_ratio_one_is_the_normalised_reinforce_gradient():
    network = Table(2)
    process = MaskedDiffusion(network, L)
    rollouts, log_path = enumerated(process)
    p = rollouts.weights
    mean = (p * rollouts.rewards).sum()
    a = (rollouts.rewards - mean) / ((p * (rollouts.rewards - mean) ** 2).sum().sqrt())
    config = DdpoConfig(num_steps=T, clip_range=0.2)
    loss, parts = ddpo_loss(process, rollouts, a, config)
    assert parts["clip_fraction"] == 0.0
    expected = -(p * a * log_path).sum() / T
    torch.testing.assert_close(grads(loss, network), grads(expected, network), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("shift", [0.5, -0.5])
def test_ddpo_clipping_zeroes_the_steps_pushed_past_the_trust_region(shift):
    """Ratio e^shift everywhere (outside [0.8, 1.2]): only paths whose advantage pulls the ratio back
    keep a gradient (A < 0 when the ratio is high, A > 0 when it is low), scaled by the ratio."""
    network = Table(3)
    process = MaskedDiffusion(network, L)
    rollouts, log_path = enumerated(process)
    shifted = Rollouts(rollouts.states, rollouts.times, rollouts.log_probs - shift, rollouts.rewards, weights=rollouts.weights)
    a = torch.linspace(-1.0, 1.0, rollouts.batch_size)
    loss, parts = ddpo_loss(process, shifted, a, DdpoConfig(num_steps=T, clip_range=0.2))
    assert parts["clip_fraction"] == 1.0
    kept = (a < 0) if shift > 0 else (a > 0)
    expected = -(rollouts.weights * kept * a * math.exp(shift) * log_path).sum() / T
    torch.testing.assert_close(grads(loss, network), grads(expected, network), atol=1e-5, rtol=1e-4)


def reverse_kl(process: MaskedDiffusion, prior: torch.nn.Module, steps: int) -> torch.Tensor:
    """``KL(p_θ ‖ p_ref · exp(r/α)/Z)`` by enumeration (differentiable in θ)."""
    states = all_paths(steps)
    log_p = exact_log_probs(process, states).sum(0)
    with torch.no_grad():
        log_ref = exact_log_probs(process, states, prior).sum(0)
    log_target = log_ref + reward(process.decode(states[-1])) / ALPHA
    return (log_p.exp() * (log_p - log_target)).sum() + torch.logsumexp(log_target, 0)


@pytest.mark.parametrize("potential", ["terminal", "value"])
def test_vmpo_on_policy_gradient_is_the_reverse_kl_gradient(potential):
    network, prior = Table(4), Table(5).requires_grad_(False)
    process = MaskedDiffusion(network, L)
    rollouts, _ = enumerated(process, values=potential == "value")
    config = VmpoConfig(num_steps=T, reward_temperature=ALPHA, potential=potential, granularity="path")
    baseline = StepBaseline(T, "path")
    with torch.no_grad():
        baseline.table.fill_(0.7)  # any constant: it drops out of θ's expected gradient on-policy
    loss, _ = vmpo_loss(process, rollouts, config, prior, baseline)
    torch.testing.assert_close(grads(loss, network), grads(reverse_kl(process, prior, T), network), atol=1e-5, rtol=1e-4)


def test_vmpo_step_form_is_the_reverse_kl_gradient_in_one_step_and_not_beyond():
    network, prior = Table(6), Table(7).requires_grad_(False)
    process = MaskedDiffusion(network, L)
    one, _ = enumerated(process, steps=1, values=True)
    config = VmpoConfig(num_steps=1, reward_temperature=ALPHA, granularity="step")
    loss, _ = vmpo_loss(process, one, config, prior, StepBaseline(1))
    torch.testing.assert_close(grads(loss, network), grads(reverse_kl(process, prior, 1), network), atol=1e-5, rtol=1e-4)
    rollouts, _ = enumerated(process, values=True)
    step, _ = vmpo_loss(process, rollouts, VmpoConfig(num_steps=T, reward_temperature=ALPHA), prior, StepBaseline(T))
    assert not torch.allclose(grads(step, network), grads(reverse_kl(process, prior, T), network), atol=1e-3)


def test_vmpo_step_form_gradient_is_the_per_step_tilted_kl_gradient_with_the_state_law_held_fixed():
    """``∇ Σ_k E_{x_k ~ sg p_θ} KL(p_θ(·|x_k) ‖ p̃(·|x_k))``, p̃ ∝ p_ref(x'|x_k)·exp(Φ(x')), by enumeration:
    each path's step k reweighted by ``p_θ(x_{k+1}|x_k) / sg(p_θ(x_{k+1}|x_k))`` (the states' law fixed)."""
    network, prior = Table(11), Table(12).requires_grad_(False)
    process = MaskedDiffusion(network, L)
    rollouts, _ = enumerated(process, values=True)
    config = VmpoConfig(num_steps=T, reward_temperature=ALPHA, discount=0.8)
    loss, _ = vmpo_loss(process, rollouts, config, prior, StepBaseline(T))
    log_step = exact_log_probs(process, rollouts.states)  # [T, P]
    with torch.no_grad():
        log_ref = exact_log_probs(process, rollouts.states, prior)
        phi_next = 0.8 ** torch.arange(T - 1, -1, -1.0)[:, None] * rollouts.values[1:] / ALPHA  # Φ(x_{k+1})
    reweight = rollouts.weights[None] * (log_step - log_step.detach()).exp()
    per_step_kl = (reweight * (log_step - log_ref - phi_next)).sum()  # + log Z_k(x_k), constant in θ
    torch.testing.assert_close(grads(loss, network), grads(per_step_kl, network), atol=1e-5, rtol=1e-4)


def test_vmpo_baseline_regresses_on_the_mean_log_weight_of_each_step():
    network, prior = Table(8), Table(9).requires_grad_(False)
    process = MaskedDiffusion(network, L)
    rollouts, _ = enumerated(process, values=True)
    config = VmpoConfig(num_steps=T, reward_temperature=ALPHA, discount=0.9)
    with torch.no_grad():  # E[log w_k] from the exact step log-probabilities, independently of the loss
        log_w = exact_log_probs(process, rollouts.states, prior) - exact_log_probs(process, rollouts.states)
        phi = 0.9 ** torch.arange(T, -1, -1.0)[:, None] * rollouts.values / ALPHA
        mean = ((phi[1:] - phi[:-1] + log_w) * rollouts.weights).sum(dim=1)
    baseline = StepBaseline(T)
    with torch.no_grad():
        baseline.table.copy_(torch.tensor([0.3, -1.0, 2.0]))
    loss, _ = vmpo_loss(process, rollouts, config, prior, baseline)
    (gradient,) = torch.autograd.grad(loss, baseline.table)
    torch.testing.assert_close(gradient, baseline.table.detach() - mean, atol=1e-5, rtol=1e-5)  # ½-quadratic: M − E[log w]
    with torch.no_grad():
        baseline.table.copy_(mean)
    (gradient,) = torch.autograd.grad(vmpo_loss(process, rollouts, config, prior, baseline)[0], baseline.table)
    assert float(gradient.abs().max()) < 1e-5


class OneBase(torch.nn.Module):
    """p(x0 = v) = softmax(logits)_v for one base, whatever the state."""

    def __init__(self, logits: torch.Tensor):
        super().__init__()
        self.logits = torch.nn.Parameter(logits.clone())

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(x_t.shape[0], x_t.shape[1], 4)


def one_base_reward(onehot: torch.Tensor) -> torch.Tensor:
    return onehot[:, :, 0] @ W[:, 0]


def test_vmpo_on_the_estep_particles_is_the_weighted_sibling_variance_and_zero_at_the_tilted_step():
    prior_logits = torch.tensor([0.3, -0.2, 0.1, 0.0])
    prior = OneBase(prior_logits).requires_grad_(False)
    process = MaskedDiffusion(OneBase(prior_logits + 0.4 * torch.arange(4.0)), 1)
    search = SearchConfig(num_children=5, reward_temperature=ALPHA, num_steps=1, record_children=True)
    trajectory = search_process(process, one_base_reward, 6, search, torch.Generator().manual_seed(0)).trajectory
    pairs = torch.stack([torch.zeros(6, dtype=torch.long), torch.arange(6)], dim=1)
    config = ParticleConfig(reward_temperature=ALPHA)
    loss, _ = particle_loss(process, particle_batch(trajectory, pairs, config), config, prior)
    children = trajectory.children[0, :, :, 0]  # [B, M] bases
    r = W[children, 0]
    u = torch.softmax(r / ALPHA, dim=1)
    logits = process.network.logits.detach()
    log_w = r / ALPHA + torch.log_softmax(prior_logits, 0)[children] - torch.log_softmax(logits, 0)[children]
    mean = (u * log_w).sum(1, keepdim=True)
    assert float(loss.detach()) == pytest.approx(float((0.5 * u * (log_w - mean) ** 2).sum(1).mean()), rel=1e-5)
    uniform = ParticleConfig(reward_temperature=ALPHA, weighting="uniform")
    other, _ = particle_loss(process, particle_batch(trajectory, pairs, uniform), uniform, prior)
    assert abs(float(other.detach()) - float(loss.detach())) > 1e-4
    process.network = OneBase(prior_logits + W[:, 0] / ALPHA)  # p_θ ∝ p_ref · exp(r/α): every log w equal
    tilted, _ = particle_loss(process, particle_batch(trajectory, pairs, config), config, prior)
    assert float(tilted.detach()) < 1e-10 and float(loss.detach()) > 1e-3


def test_ddpo_and_vmpo_raise_the_reward_of_the_toy_in_a_few_rounds():
    for method, config in (
        (ddpo, DdpoConfig(num_steps=T, batch_size=64, iterations=6, inner_epochs=2, clip_range=0.2, lr=0.1)),
        (vmpo, VmpoConfig(num_steps=T, batch_size=64, iterations=6, reward_temperature=0.3, lr=0.1, kl_weight=0.01)),
    ):
        prior = Table(10).requires_grad_(False)
        model, history = method.finetune(prior, reward, L, config)
        with torch.no_grad():
            before = enumerated(MaskedDiffusion(prior, L))[0]
            after = enumerated(MaskedDiffusion(model, L))[0]
        gain = float((after.weights * after.rewards).sum() - (before.weights * before.rewards).sum())
        assert gain > 0.3, (method.__name__, gain)
        assert len(history) == 6 and history[-1]["oracle_calls"] == config.budget()["train_oracle_calls"]


def test_the_same_code_trains_the_gaussian_image_process():
    """One code path for both modalities: on a 1-D Gaussian DDIM (exact denoiser plus a learnable
    shift δ of x̂0) with reward r(x) = x, DDPO (no KL) raises δ and the reward round after round;
    VMPO runs on the same process but its target p_ref·exp(r/α) barely moves δ: the same δ shifts the
    near-deterministic last steps (σ ≈ 0.03), whose KL cost δ²/2σ² outweighs the reward gain."""
    import copy

    from dnadav.image.ddim import GaussianDDIM
    from tests.image_toys import ExactGaussianDenoiser

    alphas = torch.cumprod(1.0 - torch.linspace(1e-3, 0.05, 100, dtype=torch.float64), dim=0)
    linear = lambda x: x.flatten(1).sum(1)  # noqa: E731
    shifts = {}
    for method, config in (
        (ddpo, DdpoConfig(num_steps=4, batch_size=128, iterations=6, clip_range=0.2, lr=0.05)),
        (vmpo, VmpoConfig(num_steps=4, batch_size=128, iterations=6, reward_temperature=0.5, lr=0.05)),
    ):
        network = ExactGaussianDenoiser(alphas, 0.0, 0.25)
        reference = copy.deepcopy(network).requires_grad_(False)
        history = method.train(GaussianDDIM(network, alphas, (1, 1, 1), lambda x: x), linear, config, reference)
        shifts[method] = float(network.shift.detach())
        assert len(history) == 6 and all(math.isfinite(h["loss"]) for h in history)
        if method is ddpo:
            assert history[-1]["reward"] > history[0]["reward"] + 0.2
    assert shifts[ddpo] > 0.2
    assert abs(shifts[vmpo]) < 0.1
