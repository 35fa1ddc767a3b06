"""The per-cell-type evaluation columns (every class's probability, specificity, margin), the
objective column and the constraint-violation audit, with a toy classifier whose logits are exact."""

import numpy as np
import pytest
import torch

from dnadav.constraints import spec_from_options
from dnadav.evaluate.evaluator import evaluate_sets, optional_columns
from dnadav.oracles import CellTypeOracle

CLASSES = ("HepG2", "K562", "GM12878", "hESC", "shuffled")


class BaseCountLogits(torch.nn.Module):
    """Logits [B, 5] = (#A, #C, #G, #T, 0) of each sequence: enumerable by hand."""

    def forward(self, onehot):
        counts = onehot.sum(dim=-1)
        return torch.cat([counts, torch.zeros(len(counts), 1)], dim=1)


def oracle(target="K562"):
    return CellTypeOracle(BaseCountLogits(), CLASSES, target)


def run(inputs, **options):
    return evaluate_sets(
        inputs,
        reward_oracle=oracle(),
        eval_oracle=oracle(),
        log_likelihood="skip",
        reference=["ACGTACGTAC"] * 3,
        training=["ACGTACGTAC"],
        length=10,
        **options,
    )


def expected(sequence: str) -> np.ndarray:
    logits = np.array([sequence.count(b) for b in "ACGT"] + [0], dtype=float)
    return np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()


def test_every_class_probability_specificity_and_margin():
    cs = ["CCCCCCCCCA", "CCCCCCCAAA", "ACGTACGTAC"]  # C-rich: K562 wins by 8, by 4, tie
    result = run({"designs": cs})
    p = np.stack([expected(s) for s in cs])
    row = result.summary.loc["designs"]
    for i, name in enumerate(CLASSES):
        assert row[f"p_{name.lower()}_median"] == pytest.approx(np.median(p[:, i]))
    # specific: p(K562) > 0.5 and HepG2, GM12878, hESC < 0.1 (the shuffled background is no cell type)
    specific = (p[:, 1] > 0.5) & (p[:, [0, 2, 3]] < 0.1).all(axis=1)
    assert specific.tolist() == [True, True, False]
    assert row["specificity"] == pytest.approx(specific.mean())
    log_odds = np.log(p / (1 - p))
    margin = log_odds[:, 1] - log_odds[:, [0, 2, 3]].max(axis=1)
    assert row["margin_median"] == pytest.approx(np.median(margin))
    per = result.per_sequence
    assert np.allclose(per["p_k562"], p[:, 1]) and per["specific"].tolist() == specific.tolist()
    assert np.allclose(per["margin"], margin)
    labels = optional_columns(result.summary)
    assert {"specificity", "margin_median", "p_k562_median"} <= set(labels) and "violations" not in labels


def test_objective_column_is_the_expression_under_the_eval_oracle():
    cs = ["CCCCCCCCCA", "GGGGGAAAAA"]
    result = run({"designs": cs}, objective="k562 - max(hepg2,gm12878,hesc)")
    assert np.allclose(result.per_sequence["objective"], result.per_sequence["margin"], atol=1e-5)
    with pytest.raises(Exception, match="unknown"):
        run({"designs": cs}, objective="k562 - liver")


def test_constraint_audit_counts_violations_per_sequence():
    # GAATTC = EcoRI (palindromic); AAAAAA is a run of 6 > 4
    cs = ["GAATTCCGCG", "CGCGCGCGCG", "AAAAAACGCG"]
    constraint = spec_from_options(forbid="EcoRI", max_homopolymer=4, gc="0.2:0.8").compile(10)
    result = run({"designs": cs}, constraint=constraint)
    per = result.per_sequence
    assert per["violations_site_EcoRI"].tolist() == [1, 0, 0]
    assert per["violations_homopolymer"].tolist() == [0, 0, 1]
    assert per["violations_gc"].tolist() == [0, 1, 0]  # 100% GC is above 0.8
    assert per["violations"].tolist() == [1, 1, 1]
    row = result.summary.loc["designs"]
    assert row["violations"] == 3 and row["violating_fraction"] == pytest.approx(1.0)
    clean = run({"designs": ["ACGTACGTAC"]}, constraint=constraint).summary.loc["designs"]
    assert clean["violations"] == 0 and clean["violating_fraction"] == 0


def test_no_cell_type_columns_for_an_oracle_without_cell_types():
    class GC(torch.nn.Module):
        def reward(self, onehot):
            return onehot[:, 1:3].sum(dim=(1, 2))

        def probability(self, onehot):
            return torch.sigmoid(self.reward(onehot))

    result = evaluate_sets(
        {"a": ["ACGTACGTAC"]},
        reward_oracle=GC(),
        eval_oracle=GC(),
        log_likelihood="skip",
        reference=["ACGTACGTAC"],
        training=["ACGTACGTAC"],
    )
    assert "specificity" not in result.summary.columns and not optional_columns(result.summary)
