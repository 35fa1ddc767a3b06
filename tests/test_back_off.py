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


def run_with(last: int, kept: int | None, weights: dict[int, float], score: float = -math.inf):
    """A finished run as ``back_off_rejected`` sees it: ``last`` iterations with weight ``weights[k]``
    after iteration k (the model at the last one), iteration ``kept`` (None: none was eligible) kept
    with score ``score``. Returns the run and the snapshots of every iteration but the last."""
    from dnadav.core.fit_control import BestKeeper

    model = OneWeight()
    model.load_state_dict(states(0.0, weights[last])[1])
    best = BestKeeper(lambda record: None, stop_patience=2)
    if kept is not None:
        best.iteration, best.score, best.weights = kept, score, states(weights[kept], 0.0)[0]
    snapshots = {k: states(0.0, w)[1] for k, w in weights.items() if k != last}
    return SimpleNamespace(best=best, history=[{}] * last, model=model), snapshots


def back_off_of(run, snapshots, prior_w: float = 0.0, crossing: float = 0.3, bisections: int = 10):
    from dnadav.jobs.align_metrics import back_off_rejected

    prior = OneWeight()
    prior.load_state_dict(states(prior_w, 0.0)[0])
    select = lambda record: record["reward"] if record["reward"] <= crossing else None  # noqa: E731
    config = SimpleNamespace(seed=0, back_off=bisections)
    return back_off_rejected(run, snapshots, prior, lambda m, generator: judge(m), select, config)


def test_a_run_backs_off_toward_every_rejected_iteration_and_keeps_the_best_point():
    from dnadav.jobs.align_metrics import selection_note

    # kept iteration 1 (w = 1/4); iteration 2 over-shot to 3/4, iteration 3 (restarted from 1) to 5/4;
    # eligible while w ≤ 1/2: toward 2 the best scale is 1/2, toward 3 it is 1/4 — the same w, which does
    # not beat the point already found (strictly more score is needed)
    run, snapshots = run_with(last=3, kept=1, weights={1: 0.25, 2: 0.75, 3: 1.25}, score=0.25)
    backed = back_off_of(run, snapshots, crossing=0.5)
    assert (backed.start, backed.toward, backed.scale, backed.score) == (1, 2, 0.5, 0.5)
    assert backed.record == {"reward": 0.5, "naturalness": 0.5}  # the judge's record at that point
    assert sorted(backed.tried) == [2, 3] and [len(t) for t in backed.tried.values()] == [10, 10]
    assert float(run.model.w.detach()) == 0.5
    note = selection_note(run, 0.92, backed)
    assert (note["kept_iteration"], note["of_iterations"], note["back_off"]["toward"]) == (1, 3, 2)
    assert note["why"].startswith("iteration 1 + 0.5 × (iteration 2 − iteration 1)")
    # with iteration 2 at 3/8 its whole segment is eligible but reaches only w < 3/8; toward 3 wins
    run, snapshots = run_with(last=3, kept=1, weights={1: 0.25, 2: 0.375, 3: 1.25}, score=0.25)
    backed = back_off_of(run, snapshots, crossing=0.5)
    assert (backed.toward, backed.scale, backed.score) == (3, 0.25, 0.5)
    assert float(run.model.w.detach()) == 0.5


def test_with_no_eligible_iteration_the_path_runs_from_the_prior_and_the_last_stays_when_nothing_meets_the_floor():
    run, snapshots = run_with(last=2, kept=None, weights={1: 1.0, 2: 2.0})
    backed = back_off_of(run, snapshots, prior_w=0.0, crossing=0.5, bisections=3)
    assert (backed.start, backed.toward, backed.scale) == (0, 1, 0.5)  # toward the first iteration
    assert float(run.model.w.detach()) == pytest.approx(0.5)
    stuck, snapshots = run_with(last=2, kept=None, weights={1: 1.0, 2: 2.0})
    backed = back_off_of(stuck, snapshots, prior_w=0.6, crossing=0.5, bisections=3)  # nothing is eligible
    assert backed.toward is None and float(stuck.model.w.detach()) == pytest.approx(2.0)  # the last, as without back-off


def test_nothing_to_search_when_the_last_iteration_is_the_kept_one():
    run, snapshots = run_with(last=3, kept=3, weights={1: 0.1, 2: 0.5, 3: 0.9}, score=0.9)
    assert back_off_of(run, snapshots) is None and float(run.model.w.detach()) == pytest.approx(0.9)
