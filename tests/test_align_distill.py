"""The M-step: transition NLL matches -log p(x_s|x_t) up to constants, lowers it on fixed
trajectories, DAV-KL is a real (non-zero) KL on one-hot visited states, and every objective equals
its closed form at the grid time of x_t for a denoiser that depends on t."""

import math
from statistics import fmean

import pytest
import torch

from dnadav.core.distill import DistillConfig, distill_loss, transition_batch, transition_pairs
from dnadav.core.search import SearchConfig
from dnadav.core.trajectory import Trajectory
from dnadav.dna import (
    ConvDenoiser,
    ConvDenoiserConfig,
    LogLinearSchedule,
    MaskedDiffusion,
    transition_log_prob,
    x0_log_probs,
)
from dnadav.dna.search import search
from dnadav.dna.tokens import MASK_INDEX


def tiny_model(seed: int = 0) -> ConvDenoiser:
    torch.manual_seed(seed)  # initialisation only
    return ConvDenoiser(ConvDenoiserConfig(channels=16, num_blocks=2, kernel_size=3, dilations=(1, 2), dropout=0.0))


def gc_reward(onehot: torch.Tensor) -> torch.Tensor:
    return onehot[:, 1:3].sum(dim=(1, 2))


def transition_nll(log_x0, x_t, x_s):
    return -MaskedDiffusion(None, x_t.shape[1]).transition_log_prob(log_x0, x_t, x_s, None, None)


def prior_kl(log_x0, log_x0_prior, x_t):
    """The predictive KL at masked positions: the step KL of the final step (s = 0 unmasks everything)."""
    t, s = torch.full((x_t.shape[0],), 0.5), torch.zeros(x_t.shape[0])
    return MaskedDiffusion(None, x_t.shape[1]).divergence(log_x0, log_x0_prior, x_t, t, s)


def trajectory_log_likelihood(model, trajectory: Trajectory, schedule) -> torch.Tensor:
    """Σ_k log p_θ(x_{k+1} | x_k) per sequence, with the full transition formula."""
    total = torch.zeros(trajectory.states.shape[1])
    for k in range(trajectory.num_steps):
        x_t, x_s = trajectory.states[k], trajectory.states[k + 1]
        t = torch.full((x_t.shape[0],), float(trajectory.times[k]))
        s = torch.full((x_t.shape[0],), float(trajectory.times[k + 1]))
        log_x0 = x0_log_probs(model(x_t, t), x_t)
        total += transition_log_prob(log_x0, x_t, x_s, schedule.alpha(t), schedule.alpha(s))
    return total


def test_transition_nll_is_minus_log_transition_probability_up_to_schedule_constants():
    schedule = LogLinearSchedule()
    log_x0 = torch.log_softmax(torch.randn(1, 4, 4, generator=torch.Generator().manual_seed(0)), dim=-1)
    x_t = torch.tensor([[MASK_INDEX, MASK_INDEX, 1, MASK_INDEX]])
    x_s = torch.tensor([[2, MASK_INDEX, 1, 0]])
    alpha_t, alpha_s = schedule.alpha(torch.tensor([0.8])), schedule.alpha(torch.tensor([0.4]))
    full = transition_log_prob(x0_log_probs(log_x0, x_t), x_t, x_s, alpha_t, alpha_s)
    stay = (1 - alpha_s) / (1 - alpha_t)
    constants = 2 * torch.log(1 - stay) + torch.log(stay)  # two unmaskings, one position stays masked
    torch.testing.assert_close(-transition_nll(x0_log_probs(log_x0, x_t), x_t, x_s), full - constants)


def test_m_step_raises_the_likelihood_of_fixed_trajectories():
    schedule = LogLinearSchedule()
    model = tiny_model()
    trajectory = search(
        model,
        gc_reward,
        16,
        12,
        SearchConfig(num_children=4, num_steps=6, reward_temperature=0.2),
        generator=torch.Generator().manual_seed(0),
    ).trajectory
    before = trajectory_log_likelihood(model, trajectory, schedule).mean()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    pairs = transition_pairs(trajectory)
    assert pairs.shape == (6 * 16, 2)
    model.train()
    for _ in range(30):
        loss, parts = distill_loss(MaskedDiffusion(model, 12, schedule), transition_batch(trajectory, pairs), DistillConfig())
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    after = trajectory_log_likelihood(model.eval(), trajectory, schedule).mean()
    assert after > before + 1.0, (before, after)


def test_nelbo_objective_runs_on_final_samples_and_lowers():
    schedule = LogLinearSchedule()
    model = tiny_model(1)
    x0 = torch.randint(0, 4, (8, 12), generator=torch.Generator().manual_seed(0)).repeat(4, 1)
    trajectory = Trajectory(torch.stack([torch.full_like(x0, MASK_INDEX), x0]), torch.tensor([1.0, 0.0]))
    batch = transition_batch(trajectory, transition_pairs(trajectory))
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for step in range(40):
        loss, _ = distill_loss(
            MaskedDiffusion(model, 12, schedule),
            batch,
            DistillConfig(objective="nelbo"),
            generator=torch.Generator().manual_seed(step),
        )
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5


def test_prior_kl_is_exact_and_nonzero_on_one_hot_states():
    log_model = torch.log(torch.tensor([[[0.7, 0.1, 0.1, 0.1], [0.25, 0.25, 0.25, 0.25]]]))
    log_prior = torch.log(torch.tensor([[[0.25, 0.25, 0.25, 0.25], [0.25, 0.25, 0.25, 0.25]]]))
    x_t = torch.tensor([[MASK_INDEX, MASK_INDEX]])
    expected = 0.7 * math.log(0.7 / 0.25) + 3 * 0.1 * math.log(0.1 / 0.25)
    assert abs(prior_kl(log_model, log_prior, x_t).item() - expected) < 1e-6
    assert prior_kl(log_model, log_prior, torch.tensor([[0, MASK_INDEX]])).item() == 0.0  # unmasked: no term
    # on real visited states the DAV-KL term is positive for a model that moved, zero for the prior
    prior, model = tiny_model(0), tiny_model(3)
    trajectory = search(
        prior, gc_reward, 4, 12, SearchConfig(num_children=2, num_steps=4), generator=torch.Generator().manual_seed(0)
    ).trajectory
    batch = transition_batch(trajectory, transition_pairs(trajectory))
    _, parts = distill_loss(MaskedDiffusion(model, 12), batch, DistillConfig(kl_weight=0.5), reference=prior)
    assert parts["prior_kl"] > 0
    _, parts = distill_loss(MaskedDiffusion(prior, 12), batch, DistillConfig(kl_weight=0.5), reference=prior)
    assert abs(parts["prior_kl"].item()) < 1e-5


def test_every_m_step_objective_is_the_closed_form_at_the_grid_time_of_x_t():
    # A denoiser whose output depends on t: conditioning on s (or on a shifted grid) instead of the
    # t of x_t, or a wrong step weight, changes every number below. The closed forms are written
    # from the toy's logits: transitions = −Σ_{newly unmasked} log x̂0_θ(x_t, t)[x_s];
    # DAV-KL = (α_s − α_t)/(1 − α_t) · Σ_{masked} KL(x̂0_θ ‖ x̂0_ref); paper = −(α_s − α_t)/α_t ·
    # Σ_{masked} log x̂0_θ(x_t, t)[target], zero for the first skip_steps steps.
    from tests.toys import TimeDependentDenoiser

    length, steps = 3, 3
    model, reference = TimeDependentDenoiser(length, seed=5), TimeDependentDenoiser(length, seed=6)
    path_a = [[MASK_INDEX] * 3, [0, MASK_INDEX, MASK_INDEX], [0, MASK_INDEX, 2], [0, 1, 2]]
    path_b = [[MASK_INDEX] * 3, [MASK_INDEX] * 3, [3, 3, MASK_INDEX], [3, 3, 0]]
    states = torch.tensor([path_a, path_b]).transpose(0, 1)  # [T + 1, B, L]
    targets = torch.randint(0, 4, (steps, 2, length), generator=torch.Generator().manual_seed(0))
    clean = torch.nn.functional.one_hot(targets, 4).transpose(-1, -2).float()  # [T, B, 4, L]
    trajectory = Trajectory(states, torch.linspace(1.0, 0.0, steps + 1), None, clean)
    batch = transition_batch(trajectory, transition_pairs(trajectory))
    assert torch.equal(batch.x0, states[-1][transition_pairs(trajectory)[:, 1]])  # nelbo fits the clean end
    schedule = LogLinearSchedule()
    process = MaskedDiffusion(model, length, schedule)

    nll, kl, paper = [], [], []
    for k, b in transition_pairs(trajectory).tolist():
        x_t, x_s = states[k, b], states[k + 1, b]
        t, s = torch.tensor([1.0 - k / steps]), torch.tensor([1.0 - (k + 1) / steps])
        log_model = torch.log_softmax(model(x_t[None], t)[0].double(), dim=-1)
        log_ref = torch.log_softmax(reference(x_t[None], t)[0].double(), dim=-1)
        masked, new = x_t == MASK_INDEX, (x_t == MASK_INDEX) & (x_s != MASK_INDEX)
        alpha_t, alpha_s = float(schedule.alpha(t)), float(schedule.alpha(s))
        nll.append(-sum(float(log_model[i, x_s[i]]) for i in range(length) if new[i]))
        predictive = (log_model.exp() * (log_model - log_ref)).sum(dim=-1)
        kl.append((alpha_s - alpha_t) / (1 - alpha_t) * float(predictive[masked].sum()))
        cross_entropy = -sum(float(log_model[i, targets[k, b, i]]) for i in range(length) if masked[i])
        paper.append(0.0 if k < 1 else (alpha_s - alpha_t) / alpha_t * cross_entropy)

    _, parts = distill_loss(process, batch, DistillConfig(kl_weight=0.5), reference=reference)
    assert parts["transition_nll"].item() == pytest.approx(fmean(nll), rel=1e-4)
    assert parts["prior_kl"].item() == pytest.approx(fmean(kl), rel=1e-4)
    loss, parts = distill_loss(process, batch, DistillConfig(objective="paper", skip_steps=1, kl_weight=0.5), reference=reference)
    assert parts["paper_x0_ce"].item() == pytest.approx(fmean(paper), rel=1e-4)
    assert loss.item() == pytest.approx(fmean(paper) + 0.5 * fmean(kl), rel=1e-4)
