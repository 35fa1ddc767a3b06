"""Objectives over your own oracle (issue 24): a regressor's names are its raw predictions (its units),
a classifier's its class log-odds (nats), decided by what the oracle says it is; bounds follow the same
scale; the report's activity axis names a regressor's output, not log-odds."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dnadav.errors import InputError
from dnadav.objectives import all_log_odds, make_objective, objective_scale
from dnadav.oracles import as_oracle

OUTPUTS = torch.tensor([[3.0, 1.0, 2.0], [0.5, 4.0, -1.0]])  # [B = 2, K = 3], one row per sequence


class Fixed(nn.Module):
    """A user's scorer with named outputs ``[B, 3]`` (a, b, c) that ignores its input."""

    output_names = ("a", "b", "c")

    def __init__(self, kind: str = "regression"):
        super().__init__()
        self.kind = kind

    def forward(self, onehot):
        return OUTPUTS[: onehot.shape[0]]


X = torch.zeros(2, 4, 8)


def test_a_regressors_objective_combines_its_raw_predictions():
    oracle = as_oracle(Fixed())
    assert objective_scale(oracle) == "prediction"
    objective = make_objective("a - max(b,c)", oracle=oracle)
    assert objective.reward(X).tolist() == [1.0, -3.5]  # 3 − max(1, 2), 0.5 − max(4, −1): the regressor's units
    assert make_objective("2*b - 0.5*a + 1", oracle=oracle).reward(X).tolist() == [1.5, 8.75]
    assert make_objective("a", oracle=oracle).reward(X).tolist() == oracle.reward(X).tolist()  # = --oracle's reward


def test_a_classifiers_objective_combines_class_log_odds():
    oracle = as_oracle(Fixed("classification"))
    assert objective_scale(oracle) == "log-odds"
    log_odds = all_log_odds(OUTPUTS)
    expected = log_odds[:, 0] - log_odds[:, 1:].amax(dim=-1)
    assert torch.allclose(make_objective("a - max(b,c)", oracle=oracle).reward(X), expected)
    assert torch.allclose(make_objective("a", oracle=oracle).reward(X), oracle.reward(X))


def test_a_regressors_bounds_are_in_its_units():
    oracle = as_oracle(Fixed())
    objective = make_objective("a s.t. b < 2", oracle=oracle, initial_multiplier=1.0, step=1.0, tolerance=0.0)
    assert objective.reward(X).tolist() == [3.0, 0.5 - (4.0 - 2.0)]  # penalty relu(b − 2), b as predicted
    record = objective.update(X)
    assert record["violation_rate/b"] == 0.5 and objective.multipliers.tolist() == [1.5]  # one of two has b ≥ 2
    assert make_objective("a s.t. others < 10", oracle=oracle).reward(X).tolist() == [3.0, 0.5]  # 10 is no probability
    with pytest.raises(InputError, match="not a probability"):
        make_objective("a s.t. b < 2", oracle=as_oracle(Fixed("classification")))


def test_every_output_of_a_regressor_is_a_name_and_errors_say_output():
    class Named(Fixed):
        output_names = ("shuffled", "b", "c")  # 'shuffled' is a background class only for a classifier

    assert make_objective("shuffled - c", oracle=as_oracle(Named())).reward(X).tolist() == [1.0, 1.5]
    with pytest.raises(InputError, match="unknown name 'd'; expected one of a, b, c"):
        make_objective("a - d", oracle=as_oracle(Fixed()))
    with pytest.raises(InputError, match="mentions no output"):
        make_objective("4", oracle=as_oracle(Fixed()))


def test_the_evaluation_objective_over_a_regressor_is_in_its_units():
    from dnadav.evaluate.evaluator import evaluate_sets
    from dnadav.evaluate.motifs import MotifSet

    oracle = as_oracle(Fixed())
    motifs = MotifSet.from_counts({"GATA": [[0, 9, 0, 9], [0, 0, 0, 0], [9, 0, 0, 0], [0, 0, 9, 0]]})
    result = evaluate_sets(
        {"designs": ["ACGTACGT", "GGGGCCCC"]}, reward_oracle=oracle, eval_oracle=oracle, reference=["ACGTACGA"],
        training=[], log_likelihood="skip", motifs=motifs, objective="a - max(b,c)",
    )  # fmt: skip
    assert result.per_sequence["objective"].tolist() == [1.0, -3.5]


def test_the_activity_axis_names_a_regressors_output_not_log_odds():
    from dnadav.evaluate.figures import activity_axis

    regression = {"eval_oracle_kind": "regression", "eval_oracle_target": "a", "threshold": 1.25}
    assert activity_axis(regression) == ("a prediction (the oracle's units)", 1.25, "threshold 1.25")
    assert activity_axis({**regression, "threshold": None})[1] is None  # no line where nothing marks one
    classifier = {"eval_oracle_kind": "classifier", "eval_oracle_target": "HepG2"}
    assert activity_axis(classifier) == ("HepG2 log-odds (nats)", 0.0, "p = 0.5")


def test_the_report_plots_a_regressor_on_its_own_axis(monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from dnadav.evaluate import figures
    from dnadav.evaluate.evaluator import EvaluationResult

    drawn = {}
    monkeypatch.setattr(figures, "_png", lambda figure: drawn.setdefault("axes", figure.axes[0]))
    per = pd.DataFrame({"input": ["d", "d", "d"], "pred_activity": [0.5, 2.0, 3.0], "reward": [1.0, 1.5, 2.5]})
    info = {"eval_oracle_kind": "regression", "eval_oracle_target": "a", "threshold": 1.25}
    result = EvaluationResult(summary=None, per_sequence=per, kmer_frequencies={}, motif_rates=None, motifs=None, info=info)
    figures.activity_plot(result, ["d"], plt)
    axes = drawn["axes"]
    assert axes.get_ylabel() == "a prediction (the oracle's units)"
    assert [t.get_text() for t in axes.get_legend().get_texts()][-1] == "threshold 1.25"
    assert "log-odds" not in axes.get_ylabel() and "p = 0.5" not in [t.get_text() for t in axes.get_legend().get_texts()]


def test_bounds_parsed_on_another_scale_are_refused():
    from dnadav.objectives import LagrangianObjective, parse_objective

    parsed = parse_objective("a s.t. b < 0.5", ("a", "b", "c"))  # probabilities: a classifier's reading
    assert parsed.scale == "log-odds" and parse_objective("a s.t. b < 7", ("a", "b"), "prediction").bounds[0].threshold == 7
    with pytest.raises(ValueError, match="parsed as log-odds thresholds but the oracle's outputs are predictions"):
        LagrangianObjective(parsed, as_oracle(Fixed()))
