"""The M-step trust region (dnadav.core.move_limit): the move it measures against its closed form on a
one-base masked process, the line search that shrinks it, and the EM loop keeping every M-step inside
the bound (docs/concepts.md, "An M-step trust region")."""

import dataclasses

import pytest
import torch

from dnadav.core.distill import transition_pairs
from dnadav.core.fit import fit_em
from dnadav.core.move_limit import MoveMeter, limit_move
from dnadav.core.search import SearchConfig, search_process
from dnadav.dna.sampler import MASK_INDEX, MaskedDiffusion
from tests.test_align_loop import tiny_module
from tests.test_align_mstep_control import TableNetwork  # one learnable logit per base: x̂0_θ = softmax(θ)

STEPS = 6


def kl(p_logits: torch.Tensor, q_logits: torch.Tensor) -> float:
    p, log_p, log_q = p_logits.softmax(-1), p_logits.log_softmax(-1), q_logits.log_softmax(-1)
    return float((p * (log_p - log_q)).sum())


def one_base_world(start: torch.Tensor):
    """A one-base masked process with a table network at ``start``, a T-step trajectory of 8 sequences,
    and the held-out pairs of sequences 0–2."""
    process = MaskedDiffusion(TableNetwork(start), 1)
    config = SearchConfig(num_children=3, reward_temperature=1.0, num_steps=STEPS)
    reward = lambda onehot: onehot[:, 2, 0]  # noqa: E731  (G is rewarded)
    trajectory = search_process(process, reward, 8, config, torch.Generator().manual_seed(0)).trajectory
    pairs = transition_pairs(trajectory)
    return process, trajectory, pairs[pairs[:, 1] < 3]


def masked_unmask_mass(process, trajectory, sequences=range(3)) -> float:
    """Mean over the held-out sequences of Σ over the steps at which the base is still masked of the
    unmasking probability (α_s − α_t)/(1 − α_t): the factor that multiplies the x̂0 KL in every step."""
    times, total = trajectory.times, 0.0
    for b in sequences:
        for k in range(trajectory.num_steps):
            if int(trajectory.states[k, b, 0]) == MASK_INDEX:
                a_t, a_s = process.schedule.alpha(times[k : k + 1]), process.schedule.alpha(times[k + 1 : k + 2])
                total += float(((a_s - a_t) / (1 - a_t)).clamp(0, 1))
    return total / len(sequences)


def test_the_move_is_the_unmasking_mass_times_the_kl_of_the_two_predictions():
    start = torch.tensor([0.3, -0.2, 0.1, 0.0])
    process, trajectory, held_out = one_base_world(start)
    meter = MoveMeter(process, trajectory, held_out, batch_size=5)  # batches split the pairs unevenly
    meter.start(process.network)
    assert meter.move() == pytest.approx(0.0, abs=1e-12)
    moved = torch.tensor([1.5, -1.0, 0.4, 0.2])
    with torch.no_grad():
        process.network.logits.copy_(moved)
    mass = masked_unmask_mass(process, trajectory)
    assert mass > 0.5  # every sequence starts masked: the steps until it unmasks carry the whole move
    assert meter.move() == pytest.approx(mass * kl(moved, start), rel=1e-5)


def test_limit_move_shrinks_the_step_to_the_bound_along_the_line_from_the_start():
    start, fitted = torch.tensor([0.3, -0.2, 0.1, 0.0]), torch.tensor([2.0, -1.5, 0.9, -0.4])
    process, trajectory, held_out = one_base_world(start)
    meter = MoveMeter(process, trajectory, held_out, batch_size=64)
    meter.start(process.network)
    with torch.no_grad():
        process.network.logits.copy_(fitted)
    mass = masked_unmask_mass(process, trajectory)
    full = mass * kl(fitted, start)
    bound = full / 5
    log = limit_move(process.network, meter, bound, bisections=12)
    scale = log["mstep/step_scale"]
    assert 0 < scale < 1 and log["mstep/move_kl_fitted"] == pytest.approx(full, rel=1e-5)
    assert torch.allclose(process.network.logits.detach(), start + scale * (fitted - start), atol=1e-6)
    kept = mass * kl(start + scale * (fitted - start), start)
    assert log["mstep/move_kl"] == pytest.approx(kept, rel=1e-5)
    assert bound * (1 - 0.02) <= kept <= bound  # the largest scale within the bound, to 2^-12
    beyond = mass * kl(start + (scale + 2**-11) * (fitted - start), start)
    assert beyond > bound


def test_a_move_within_the_bound_is_left_alone_and_no_bound_only_measures():
    start, fitted = torch.tensor([0.0, 0.0, 0.0, 0.0]), torch.tensor([0.2, 0.0, -0.1, 0.0])
    process, trajectory, held_out = one_base_world(start)
    meter = MoveMeter(process, trajectory, held_out, batch_size=64)
    meter.start(process.network)
    with torch.no_grad():
        process.network.logits.copy_(fitted)
    for bound in (1e3, None):
        log = limit_move(process.network, meter, bound)
        assert set(log) == {"mstep/move_kl"} and log["mstep/move_kl"] > 0
        assert torch.equal(process.network.logits.detach(), fitted)


def test_every_m_step_of_the_loop_stays_inside_the_bound_and_the_log_says_how_far_it_was_shrunk(tmp_path):
    free = tiny_module(iterations=2)
    free.config = dataclasses.replace(free.config, holdout_fraction=0.25, patience=2, inner_epochs=3)
    fit_em(free, tmp_path / "free", accelerator="cpu", progress=False)
    moves = [record["mstep/move_kl"] for record in free.history]
    assert all(m > 0 for m in moves) and all("mstep/step_scale" not in r for r in free.history)
    bound = min(moves) / 3
    bounded = tiny_module(iterations=2)
    bounded.config = dataclasses.replace(bounded.config, holdout_fraction=0.25, patience=2, inner_epochs=3, mstep_max_kl=bound)
    fit_em(bounded, tmp_path / "bounded", accelerator="cpu", progress=False)
    first = bounded.history[0]
    assert first["mstep/move_kl_fitted"] == pytest.approx(moves[0], rel=1e-4)  # the same fit, then shrunk
    for record in bounded.history:
        assert record["mstep/move_kl"] <= bound and 0 < record["mstep/step_scale"] < 1


def test_the_trust_region_needs_held_out_sequences():
    module = tiny_module(iterations=1)
    with pytest.raises(ValueError, match="holdout_fraction"):
        dataclasses.replace(module.config, mstep_max_kl=2.0)
