"""Tail averaging (dnadav.core.tail_average): each block of steps ends at the mean of its last iterates,
exactly, alone and inside the EM loop's M-step (plain passes and passes judged on held-out data)."""

import pytest
import pytorch_lightning as pl
import torch
from torch.nn.utils import parameters_to_vector

from dnadav.core.config import EMConfig
from dnadav.core.em import DAVModule
from dnadav.core.fit import fit_em
from dnadav.core.search import SearchConfig
from dnadav.core.tail_average import TailAverage, block_ends
from tests.test_toy_modality import PRIOR, Logits, OneToken, reward


def drive(averager: TailAverage, parameter: torch.nn.Parameter, iterates: torch.Tensor) -> list[torch.Tensor]:
    """Play ``iterates [S, P]`` as the optimiser's steps -> the parameter's value after each step's average."""
    seen = []
    for iterate in iterates:
        with torch.no_grad():
            parameter.copy_(iterate)
        averager.after_step()
        seen.append(parameter.detach().clone())
    return seen


def test_each_block_ends_at_the_mean_of_its_last_iterates_and_other_steps_are_untouched():
    iterates = torch.randn(9, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    parameter = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    seen = drive(TailAverage([parameter], ends=[3, 8], fraction=0.4), parameter, iterates)  # blocks of 4 and 5 steps
    # round(0.4 × 4) = 2 and round(0.4 × 5) = 2 iterates in each mean
    expected = iterates.clone()
    expected[3] = iterates[2:4].mean(0)
    expected[8] = iterates[7:9].mean(0)
    assert torch.allclose(torch.stack(seen), expected, rtol=0, atol=1e-15)
    # fraction 1: the whole block; fraction 0: the last iterate, untouched
    parameter = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    seen = drive(TailAverage([parameter], ends=[3, 8], fraction=1.0), parameter, iterates)
    assert torch.allclose(seen[3], iterates[:4].mean(0)) and torch.allclose(seen[8], iterates[4:].mean(0))
    seen = drive(TailAverage([parameter], ends=[3, 8], fraction=0.0), parameter, iterates)
    assert torch.equal(torch.stack(seen), iterates)


def test_block_ends_are_the_batches_that_end_a_pass_or_only_the_last():
    assert block_ends([4, 4, 2, 4, 4, 2], pass_rows=10) == [2, 5]
    assert block_ends([4, 4, 2, 4, 4, 2], pass_rows=None) == [5]
    assert block_ends([], pass_rows=None) == []


@pytest.mark.parametrize("fraction", [float("nan"), -0.1, 1.5])
def test_a_fraction_outside_zero_one_is_refused(fraction):
    with pytest.raises(ValueError, match="fraction must lie in"):
        TailAverage([torch.nn.Parameter(torch.zeros(1))], [0], fraction)
    with pytest.raises(ValueError, match="mstep_average must be a fraction"):
        EMConfig(mstep_average=fraction)


class RawIterates(pl.Callback):
    """Records the weights after every optimiser step, before the module's own hook averages them
    (Lightning calls callbacks' ``on_train_batch_end`` first)."""

    def __init__(self):
        self.iterates = []

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        self.iterates.append(parameters_to_vector(module.model.parameters()).detach().clone())


def toy_run(tmp_path, **overrides) -> tuple[DAVModule, RawIterates, torch.Tensor]:
    network = Logits(PRIOR)
    start = parameters_to_vector(network.parameters()).detach().clone()
    config = EMConfig(
        iterations=1, sequences_per_iteration=64, search=SearchConfig(num_children=8, reward_temperature=0.2, num_steps=4),
        inner_epochs=3, batch_size=16, lr=0.1, **overrides,
    )  # fmt: skip
    module, recorder = DAVModule(network, reward, config, OneToken(network)), RawIterates()
    fit_em(module, tmp_path, accelerator="cpu", progress=False, callbacks=[recorder])
    return module, recorder, start


def test_the_plain_mstep_ends_at_the_mean_of_the_last_fraction_of_its_steps(tmp_path):
    module, recorder, _ = toy_run(tmp_path, mstep_average=0.5)
    steps = len(recorder.iterates)  # 64 sequences × 4 steps × 3 passes / 16 per batch
    assert steps == 48
    final = parameters_to_vector(module.model.parameters()).detach()
    assert torch.allclose(final, torch.stack(recorder.iterates[steps // 2 :]).mean(0), rtol=0, atol=1e-6)
    assert not torch.allclose(final, recorder.iterates[-1], atol=1e-3)  # the average is not the last iterate


def test_a_judged_mstep_averages_each_pass_and_its_judge_keeps_one_of_the_means(tmp_path):
    module, recorder, start = toy_run(tmp_path, mstep_average=0.5, holdout_fraction=0.25, patience=3)
    passes = int(module.history[0]["mstep/passes"])
    per_pass = len(recorder.iterates) // passes  # 48 training sequences × 4 steps / 16 per batch
    assert passes == 3 and per_pass == 12
    means = [start] + [torch.stack(recorder.iterates[p * per_pass + 6 : (p + 1) * per_pass]).mean(0) for p in range(passes)]
    final = parameters_to_vector(module.model.parameters()).detach()
    best = int(module.history[0]["mstep/best_pass"])
    assert torch.allclose(final, means[best], rtol=0, atol=1e-6)
    # the raw iterates of pass p + 1 start from pass p's mean: its first step moves away from the mean, not the last iterate
    assert not torch.allclose(means[1], recorder.iterates[per_pass - 1], atol=1e-3)
