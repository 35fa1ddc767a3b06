"""Motif enrichment as a tested count comparison (binomial + BH) and the verdict rules, by hand."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from dnadav.evaluate.evaluator import EvaluationResult
from dnadav.evaluate.motifs import benjamini_hochberg, enrichment_test
from dnadav.evaluate.verdict import verdicts


def test_benjamini_hochberg_by_hand():
    # sorted p = .01 .02 .03 .5 -> p*n/rank = .04 .04 .04 .5 (then the running minimum from the top)
    assert benjamini_hochberg(np.array([0.5, 0.01, 0.03, 0.02])).tolist() == pytest.approx([0.5, 0.04, 0.04, 0.04])
    # sorted .01 .04 .045 -> .03 .06 .045; the running minimum makes the middle one .045
    assert benjamini_hochberg(np.array([0.045, 0.01, 0.04])).tolist() == pytest.approx([0.045, 0.03, 0.045])


def test_enrichment_is_a_conditional_binomial_test_with_counts():
    table = enrichment_test(np.array([30, 5, 0]), 10.0, np.array([10, 5, 0]), 10.0)
    assert table["hits"].tolist() == [30, 5, 0] and table["per_kb"].tolist() == [3.0, 0.5, 0.0]
    assert table["rate_ratio"].iloc[0] == pytest.approx(3.0)
    expected = binomtest(30, 40, 0.5, alternative="greater").pvalue
    assert table["p_value"].iloc[0] == pytest.approx(expected)
    assert table["p_value"].iloc[2] == 1.0  # no hits anywhere: nothing to claim
    assert table["q_value"].iloc[0] == pytest.approx(min(1.0, expected * 3))


def _result(rows):
    summary = pd.DataFrame(rows).set_index("input")
    return EvaluationResult(
        summary,
        pd.DataFrame(),
        {},
        pd.DataFrame(),
        motifs=None,
        controls=["real HepG2 DHS (held-out)", "real K562 DHS (held-out)"],
    )


def test_verdict_rules():
    base = {
        "n_valid": 10,
        "kmer3_correlation": 0.99,
        "levenshtein_diversity": 110.0,
        "reward_eval_gap": 0.5,
        "near_copy_fraction": 0.0,
    }
    rows = [
        {"input": "real HepG2 DHS (held-out)", **base, "pred_activity_median": 1.0},
        {"input": "real K562 DHS (held-out)", **base, "pred_activity_median": -5.0, "kmer3_correlation": 0.88},
        {"input": "hacked", **base, "pred_activity_median": 8.0, "reward_eval_gap": 3.0, "kmer3_correlation": 0.8},
        {"input": "offtarget", **base, "pred_activity_median": -4.0, "levenshtein_diversity": 20.0},
    ]
    said = verdicts(_result(rows), target="HepG2")
    assert set(said) == {"hacked", "offtarget"}
    assert "beyond real HepG2 DHS" in said["hacked"] and "reward-hacking alarm:" in said["hacked"]
    assert "less natural than real DHS" in said["hacked"]
    assert "not HepG2-like" in said["offtarget"] and "low diversity" in said["offtarget"]
    assert "no reward-hacking alarm" in said["offtarget"]
