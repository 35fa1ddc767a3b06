"""Backing off an over-shot iteration (dnadav.core.back_off): the bisection lands on the largest eligible
scale of a closed-form judge to within 2^-bisections, keeps the kept iteration when no scale beats it,
and leaves the model at the scale it reports (docs/concepts.md, "Tenth round")."""

import math
from types import SimpleNamespace

import pytest
import torch

from dnadav.core.back_off import back_off


class OneWeight(torch.nn.Module):
    """A model with one weight w and an integer buffer (taken from ``end``, never interpolated)."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))


def states(w_start: float, w_end: float) -> tuple[dict, dict]:
    start = {"w": torch.tensor(w_start), "count": torch.tensor(1)}
    end = {"w": torch.tensor(w_end), "count": torch.tensor(2)}
    return start, end


def judge(model: OneWeight) -> dict[str, float]:
    """Reward grows with w; naturalness falls with it: 1 − w."""
    w = float(model.w.detach())
    return {"reward": w, "naturalness": 1.0 - w}


def floor(value: float):
    return lambda record: record["reward"] if record["naturalness"] >= value else None


@pytest.mark.parametrize("bisections", [1, 3, 10])
def test_lands_on_the_largest_eligible_scale_within_the_resolution(bisections):
    model = OneWeight()
    start, end = states(0.2, 1.2)  # eligible while w ≤ 0.7: s ≤ 0.5 exactly
    outcome = back_off(model, start, end, judge, floor(0.3), bisections=bisections)
    # the first try, s = 1/2, is eligible; every later one, 1/2 + 2^-(k+1), is not and halves the gap
    assert [t["scale"] for t in outcome.trace] == [0.5] + [0.5 + 0.5 ** (k + 1) for k in range(1, bisections)]
    assert [t["eligible"] for t in outcome.trace] == [1.0] + [0.0] * (bisections - 1)
    assert outcome.scale == 0.5
    assert float(model.w.detach()) == pytest.approx(0.7)
    assert int(model.count) == 2


def test_irrational_crossing_is_bracketed_to_the_resolution():
    model = OneWeight()
    start, end = states(0.0, 1.0)
    crossing = 1 / math.sqrt(2) - 0.5  # eligible while s ≤ 0.2071...
    outcome = back_off(model, start, end, judge, floor(1 - crossing), bisections=10)
    assert outcome.scale <= crossing < outcome.scale + 2**-10
    assert outcome.record == pytest.approx({"reward": outcome.scale, "naturalness": 1 - outcome.scale})
    assert all((t["scale"] <= crossing) == bool(t["eligible"]) for t in outcome.trace)
    assert float(model.w.detach()) == pytest.approx(outcome.scale)


def test_keeps_the_kept_iteration_when_no_scale_beats_its_score():
    model = OneWeight()
    start, end = states(0.0, 1.0)
    outcome = back_off(model, start, end, judge, floor(0.7), kept_score=0.31, bisections=10)
    assert outcome.scale is None and outcome.record is None
    assert float(model.w.detach()) == 0.0  # back at start
    assert len(outcome.trace) == 10


def test_nothing_eligible_leaves_the_start():
    model = OneWeight()
    start, end = states(0.5, 1.0)
    outcome = back_off(model, start, end, judge, floor(0.9), bisections=4)
    assert outcome.scale is None and float(model.w.detach()) == 0.5
    assert [t["scale"] for t in outcome.trace] == [0.5, 0.25, 0.125, 0.0625]


def test_bisections_must_be_positive():
    with pytest.raises(ValueError, match="bisections"):
        back_off(OneWeight(), *states(0.0, 1.0), judge, floor(0.5), bisections=0)


def run_with(last: int, kept: int | None, kept_w: float, last_w: float, score: float = -math.inf):
    """A finished run as ``back_off_last`` sees it: ``last`` iterations, iteration ``kept`` (None: none
    was eligible) kept with weight ``kept_w`` and score ``score``, the model at ``last_w``."""
    from dnadav.core.fit_control import BestKeeper

    model = OneWeight()
    model.load_state_dict(states(0.0, last_w)[1])
    best = BestKeeper(lambda record: None, stop_patience=2)
    if kept is not None:
        best.iteration, best.score, best.weights = kept, score, states(kept_w, 0.0)[0]
    return SimpleNamespace(best=best, history=[{}] * last, model=model)


def back_off_of(run, prior_w: float = 0.0, crossing: float = 0.3, bisections: int = 10):
    from dnadav.jobs.align_metrics import back_off_last

    prior = OneWeight()
    prior.load_state_dict(states(prior_w, 0.0)[0])
    select = lambda record: record["reward"] if record["reward"] <= crossing else None  # noqa: E731
    return back_off_last(run, prior, lambda m, generator: judge(m), select, SimpleNamespace(seed=0, back_off=bisections))


def test_a_run_backs_off_from_its_rejected_last_iteration_toward_the_kept_one():
    from dnadav.jobs.align_metrics import selection_note

    run = run_with(last=3, kept=1, kept_w=0.1, last_w=1.1, score=0.1)  # eligible while 0.1 + s ≤ 0.3
    backed = back_off_of(run)
    assert backed.scale == 204 / 1024  # the largest multiple of 2^-10 with 0.1 + s ≤ 0.3
    assert float(run.model.w.detach()) == pytest.approx(0.1 + 204 / 1024)
    note = selection_note(run, 0.92, backed)
    assert (note["kept_iteration"], note["of_iterations"], note["back_off_scale"]) == (1, 3, backed.scale)
    assert note["why"].startswith("iteration 1 + 0.199219 × (iteration 3 − iteration 1)") and len(note["back_off"]) == 10


def test_with_no_eligible_iteration_the_path_starts_at_the_prior_and_the_last_stays_when_nothing_meets_the_floor():
    run = run_with(last=2, kept=None, kept_w=0.0, last_w=1.0)
    backed = back_off_of(run, prior_w=0.0, crossing=0.5, bisections=3)
    assert backed.scale == 0.5 and float(run.model.w.detach()) == pytest.approx(0.5)
    stuck = run_with(last=2, kept=None, kept_w=0.0, last_w=1.0)
    backed = back_off_of(stuck, prior_w=0.6, crossing=0.5, bisections=3)  # from the prior on, nothing is eligible
    assert backed.scale is None and float(stuck.model.w.detach()) == pytest.approx(1.0)  # the last, as without back-off


def test_nothing_to_search_when_the_last_iteration_is_the_kept_one():
    run = run_with(last=3, kept=3, kept_w=0.9, last_w=0.9, score=0.9)
    assert back_off_of(run) is None and float(run.model.w.detach()) == pytest.approx(0.9)
