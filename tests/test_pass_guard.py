"""The naturalness-guarded M-step (``dnadav.core.pass_guard``): which pass it keeps, on scripted scores."""

from __future__ import annotations

import pytest
import torch

from dnadav.core.fit_control import pass_batches
from dnadav.core.pass_guard import PassGuard


def run_guard(scores: list[float], floor: float, passes: int | None = None) -> tuple[PassGuard, torch.nn.Module]:
    """A guard over ``len(scores) − 1`` passes of 3 batches (rows 4, 4, 2); the weight is the pass index
    and ``scores[p]`` the score of pass p's weights (index 0: before the M-step)."""
    passes = len(scores) - 1 if passes is None else passes
    model = torch.nn.Linear(1, 1, bias=False)
    score_of = lambda m, g: scores[int(m.weight.detach())]  # noqa: E731
    batches = pass_batches(10, passes, 4, torch.Generator().manual_seed(0))
    guard = PassGuard(score_of, 0, floor, [len(b) for b in batches], 10)
    model.weight.data.fill_(0.0)
    guard.start(model)
    for index in range(len(batches)):
        assert not guard.stopped  # every pass runs
        model.weight.data.fill_(float(index // 3 + 1))  # the weights "of pass p"
        guard.after_batch(model, index)
    return guard, model


@pytest.mark.parametrize(
    "scores, floor, kept",
    [
        ([0.95, 0.94, 0.93, 0.91, 0.90], 0.92, 2),  # the longest fit still at the floor
        ([0.95, 0.91, 0.93, 0.90, 0.92], 0.92, 4),  # the LAST pass at the floor, not the first dip
        ([0.95, 0.96, 0.97, 0.98, 0.99], 0.92, 4),  # every pass meets it: the whole M-step stays
        ([0.95, 0.91, 0.90, 0.89, 0.88], 0.92, 0),  # none after the start: the weights it started from
        ([0.85, 0.89, 0.87, 0.91, 0.86], 0.92, 3),  # none at all: the best-scoring pass
    ],
)
def test_the_guard_keeps_the_last_pass_at_the_floor_else_the_best_scoring_one(scores, floor, kept):
    guard, model = run_guard(scores, floor)
    log = guard.finish(model)
    assert guard.kept_pass() == kept and float(model.weight.detach()) == kept  # that pass's weights are back
    assert log == {
        "mstep/passes": 4.0, "mstep/kept_pass": float(kept), "mstep/guard_initial": scores[0],
        "mstep/guard_kept": scores[kept], "mstep/guard_last": scores[-1],
    }  # fmt: skip


def test_the_guard_scores_in_eval_mode_on_one_random_stream():
    model = torch.nn.Sequential(torch.nn.Linear(1, 1), torch.nn.Dropout(0.5))
    seen = []

    def score(network, generator):
        seen.append((network.training, float(torch.rand((), generator=generator))))
        return 1.0

    guard = PassGuard(score, 1234, 0.5, [5, 5], 5)
    model.train()
    guard.start(model)
    guard.after_batch(model, 0)
    guard.after_batch(model, 1)
    expected = float(torch.rand((), generator=torch.Generator().manual_seed(1234)))
    assert seen == [(False, expected)] * 3 and model.training  # the mode is restored


def test_a_dna_run_guards_its_passes_on_the_validation_split_not_on_the_judged_reference():
    from dnadav.dna.config import AlignConfig
    from dnadav.dna.tokens import tokens_to_strings
    from dnadav.evaluate.metrics import kmer_correlation
    from dnadav.evaluate.reference import validation_reference
    from dnadav.jobs.align_judge import run_judge
    from dnadav.jobs.align_metrics import plain_tokens

    config = AlignConfig(oracle="hepg2", eval_sequences=6, eval_steps=3, mstep_min_naturalness=0.9)
    judge = run_judge(config)
    assert run_judge(AlignConfig(oracle="hepg2")).pass_score is None  # off unless asked for
    tokens = plain_tokens(judge.prior, config, judge.schedule, torch.Generator().manual_seed(5))
    strings = tokens_to_strings(tokens)
    validation = kmer_correlation(strings, validation_reference(judge.reward_oracle), k=3)
    assert judge.pass_score(judge.prior, torch.Generator().manual_seed(5)) == pytest.approx(validation, abs=1e-12)
    assert abs(validation - kmer_correlation(strings, judge.reference_set, k=3)) > 1e-6  # the test reference differs
