"""The paper's M-step (objective="paper"), the recorded x̂0 and the dav-paper preset."""

from __future__ import annotations

import pytest
import torch

from dnadav.core.distill import DistillConfig, distill_loss, paper_kept_steps, transition_batch, transition_pairs
from dnadav.core.search import SearchConfig
from dnadav.dna.presets import preset
from dnadav.dna.sampler import MaskedDiffusion
from dnadav.dna.search import search
from dnadav.dna.tokens import MASK_INDEX
from tests.toys import ExactDenoiser, random_distribution


def reward(onehot: torch.Tensor) -> torch.Tensor:
    return onehot[:, 1].sum(dim=-1)


@pytest.mark.parametrize("mode", ["per_sequence", "smc"])
def test_recording_changes_nothing_and_records_the_chosen_childs_estimate(mode):
    denoiser = ExactDenoiser(random_distribution(3, seed=1), 3)
    base = dict(num_children=3, num_steps=4, reward_temperature=0.3, mode=mode, ess_threshold=0.9)
    plain = search(denoiser, reward, 16, 3, SearchConfig(**base), generator=torch.Generator().manual_seed(0))
    recorded = search(
        denoiser, reward, 16, 3, SearchConfig(**base, record_clean=True), generator=torch.Generator().manual_seed(0)
    )
    assert plain.trajectory.clean is None
    assert torch.equal(plain.trajectory.states, recorded.trajectory.states)
    clean = recorded.trajectory.clean.argmax(dim=2)  # [T, B, 4, L] -> [T, B, L]
    states = recorded.trajectory.states[1:]
    process = MaskedDiffusion(denoiser, 3)
    for k in range(4):
        t = recorded.trajectory.times[k + 1]
        expect = process.predict(states[k], torch.full((16,), float(t))).argmax(-1)
        expect = torch.where(states[k] == MASK_INDEX, expect, states[k])
        assert torch.equal(clean[k], expect)


def test_paper_skip_steps_count_or_fraction():
    trajectory_states = torch.full((5, 2, 3), MASK_INDEX)
    from dnadav.core.trajectory import Trajectory

    times = torch.linspace(1, 0, 5)
    traj = Trajectory(trajectory_states, times, None, torch.zeros(4, 2, 4, 3))
    batch = transition_batch(traj, transition_pairs(traj))
    kept = paper_kept_steps(DistillConfig(objective="paper", skip_steps=0.5), batch)
    assert torch.equal(kept, batch.step >= 2)
    assert torch.equal(kept, paper_kept_steps(DistillConfig(objective="paper", skip_steps=2), batch))
    assert bool(paper_kept_steps(DistillConfig(objective="paper"), batch).all())


def test_paper_loss_is_weighted_cross_entropy_at_masked_positions():
    denoiser = ExactDenoiser(random_distribution(3, seed=2), 3)
    result = search(
        denoiser,
        reward,
        4,
        3,
        SearchConfig(num_children=2, num_steps=3, record_clean=True),
        generator=torch.Generator().manual_seed(1),
    )
    process = MaskedDiffusion(denoiser, 3)
    pairs = transition_pairs(result.trajectory)
    batch = transition_batch(result.trajectory, pairs)
    loss, parts = distill_loss(process, batch, DistillConfig(objective="paper", skip_steps=1))
    schedule = process.schedule
    total = 0.0
    for n in range(len(pairs)):
        if int(batch.step[n]) < 1:
            continue
        a_t, a_s = schedule.alpha(batch.t[n]), schedule.alpha(batch.s[n])
        log_x0 = process.predict(batch.x_t[n : n + 1], batch.t[n : n + 1])[0]
        target = batch.clean_target[n].argmax(dim=0)
        for i in range(3):
            if batch.x_t[n, i] == MASK_INDEX:
                total += -float((a_s - a_t) / a_t) * float(log_x0[i, target[i]])
    assert abs(float(loss) - total / len(pairs)) < 1e-4


def test_dav_paper_preset():
    config = preset("dav-paper")
    assert (config.search.num_children, config.search.num_steps, config.sequences_per_iteration) == (10, 128, 256)
    assert (config.distill.objective, config.distill.skip_steps, config.lr, config.gradient_clip) == ("paper", 80, 2e-4, 1.0)
    assert (config.iterations, config.inner_epochs, config.batch_size) == (200, 2, 8192)
    assert config.search.record_clean
    with pytest.raises(ValueError):
        preset("nope")
