"""Evaluation metrics on tiny inputs with hand-computed answers."""

import math

import numpy as np
import pytest
import torch

from dnadav.dna.tokens import strings_to_tokens
from dnadav.evaluate import metrics


def kmer_index(kmer: str) -> int:
    return sum("ACGT".index(c) * 4 ** (len(kmer) - 1 - i) for i, c in enumerate(kmer))


def test_three_mer_counts_of_a_short_string_by_hand():
    # ACGTAC: windows ACG, CGT, GTA, TAC; AAAA: AAA twice
    counts = metrics.kmer_counts(["ACGTAC", "AAAACC"], 3)
    expected = np.zeros(64, dtype=int)
    for kmer in ["ACG", "CGT", "GTA", "TAC", "AAA", "AAA", "AAC", "ACC"]:
        expected[kmer_index(kmer)] += 1
    assert np.array_equal(counts, expected)
    assert counts.sum() == 2 * (6 - 3 + 1)
    assert kmer_index("AAC") == 1 and kmer_index("TTT") == 63
    # tokens and strings give the same answer; sequences shorter than k give no windows
    assert np.array_equal(metrics.kmer_counts(strings_to_tokens(["ACGTAC", "AAAACC"]), 3), counts)
    assert metrics.kmer_counts(["AC"], 3).sum() == 0


def test_kmer_counts_per_sequence_are_each_sequences_own_and_sum_to_the_pooled_counts():
    per_sequence = metrics.kmer_counts(["ACGTAC", "AAAACC"], 3, per_sequence=True)
    assert per_sequence.shape == (2, 64)
    assert per_sequence[0, kmer_index("ACG")] == 1 and per_sequence[0, kmer_index("AAA")] == 0
    assert per_sequence[1, kmer_index("AAA")] == 2 and per_sequence[1, kmer_index("ACG")] == 0
    assert np.array_equal(per_sequence.sum(axis=0), metrics.kmer_counts(["ACGTAC", "AAAACC"], 3))
    assert metrics.kmer_counts(["AC", "GT"], 3, per_sequence=True).shape == (2, 64)


def test_kmer_counts_refuse_masked_tokens():
    with pytest.raises(ValueError, match="A/C/G/T tokens"):
        metrics.kmer_counts(torch.tensor([[0, 1, 4, 2]]), 2)


def test_pearson_and_spearman_on_constructed_cases():
    assert metrics.pearson([1, 2, 3, 4], [2, 4, 6, 8]) == pytest.approx(1.0)
    assert metrics.pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    # x = 1..4, y = (1, 3, 2, 4): deviations (−1.5, −0.5, 0.5, 1.5) vs (−1.5, 0.5, −0.5, 1.5) -> r = 4 / 5
    assert metrics.pearson([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    # monotone but non-linear: Spearman 1, Pearson < 1
    assert metrics.spearman([1, 2, 3, 4], [1, 10, 100, 1000]) == pytest.approx(1.0)
    # ranks (1, 2, 3, 4) vs (2, 1, 4, 3): 1 − 6·Σd²/(n(n²−1)) = 1 − 6·4/60 = 0.6
    assert metrics.spearman([10, 20, 30, 40], [2, 1, 4, 3]) == pytest.approx(0.6)
    assert math.isnan(metrics.spearman([1, 1, 1], [1, 2, 3]))
    assert math.isnan(metrics.pearson([1, 2, 3], [5, 5, 5]))


def test_pearson_and_spearman_equal_scipy_with_ties():
    from scipy.stats import pearsonr, spearmanr

    rng = np.random.default_rng(0)
    for _ in range(20):
        a, b = rng.poisson(3, 50).astype(float), rng.poisson(3, 50).astype(float)  # many ties
        assert metrics.pearson(a, b) == pytest.approx(pearsonr(a, b).statistic, abs=1e-12)
        assert metrics.spearman(a, b) == pytest.approx(spearmanr(a, b).statistic, abs=1e-12)


def test_kmer_correlation_is_pearson_of_counts():
    designs, reference = ["ACGTACGTAAGG"], ["ACGTTTGTAAGC"]
    expected = np.corrcoef(metrics.kmer_counts(designs, 3), metrics.kmer_counts(reference, 3))[0, 1]
    assert metrics.kmer_correlation(designs, reference) == pytest.approx(expected)
    assert metrics.kmer_correlation(designs, designs) == pytest.approx(1.0)


def test_edit_distances_by_hand():
    assert metrics.pairwise_levenshtein(["ACGT", "AGT", "ACGA"]).tolist() == [[0, 1, 1], [1, 0, 2], [1, 2, 0]]
    assert metrics.mean_pairwise_levenshtein(["ACGT", "AGT", "ACGA"]) == pytest.approx(4 / 3)
    assert metrics.pairwise_levenshtein(["AAAA", "TTTT"])[0, 1] == 4
    assert math.isnan(metrics.mean_pairwise_levenshtein(["ACGT"]))


def test_one_minus_identity_by_hand():
    # pairs: (AAAA, AAAT) 1/4 differ, (AAAA, TTTT) 4/4, (AAAT, TTTT) 3/4 -> mean 2/3
    assert metrics.mean_pairwise_identity_distance(["AAAA", "AAAT", "TTTT"]) == pytest.approx(2 / 3)
    assert metrics.mean_pairwise_identity_distance(["ACGT", "ACGT"]) == 0.0


def test_novelty_nearest_training_distance_and_near_copies():
    training = ["AAAAAAAAAA", "CCCCCCCCCC", "ACGTACGTAC"]
    designs = ["AAAAAAAAAT", "GGGGGGGGGG", "ACGTACGTAC"]  # 1 off, far (8 from ACGTACGTAC), a copy
    assert metrics.nearest_hamming(designs, training).tolist() == [1, 8, 0]
    found = metrics.novelty(designs, training)  # near copy: ≤ 10% of 10 bp = 1 base
    assert found.distances.tolist() == [1, 8, 0]
    assert found.median == 1 and found.near_copy_fraction == pytest.approx(2 / 3) and found.threshold == 1.0
    # Levenshtein sees a one-base shift that Hamming does not
    shifted = ["CACGTACGTA"]
    assert metrics.novelty(shifted, training, metric="levenshtein").distances.tolist() == [2]
    assert metrics.novelty(shifted, training).distances.tolist() == [7]


def test_validity_counts_and_never_fixes():
    assert metrics.validity(["ACGT", "ACGN", "ACG", "acgt"], 4) == {
        "n": 4,
        "n_valid": 2,
        "n_bad_character": 1,
        "n_wrong_length": 1,
    }
    assert metrics.validity(["ACGTA", "ACGT"]) == {"n": 2, "n_valid": 1, "n_bad_character": 0, "n_wrong_length": 1}


def test_gc_activity_accessibility_and_divergence():
    assert metrics.gc_fraction(["GGCC", "ATGC"]).tolist() == [1.0, 0.5]
    assert metrics.pred_activity([3.0, -1.0, 2.0]) == 2.0
    assert metrics.accessibility_accuracy(np.array([0.2, 0.5, 0.51, 0.9])) == 0.5  # strictly above 0.5
    assert metrics.kmer_js_divergence(["ACGTACGTAC"], ["ACGTACGTAC"]) == pytest.approx(0.0, abs=1e-12)
    # 9 AA vs 9 CC dimers, 0.5 pseudocount on each of 16: p = 9.5/17 on AA, 0.5/17 elsewhere
    p = np.full(16, 0.5 / 17)
    p[0] = 9.5 / 17
    q = np.full(16, 0.5 / 17)
    q[5] = 9.5 / 17
    m = (p + q) / 2
    expected = 0.5 * (p * np.log2(p / m)).sum() + 0.5 * (q * np.log2(q / m)).sum()
    assert metrics.kmer_js_divergence(["AAAAAAAAAA"], ["CCCCCCCCCC"], k=2) == pytest.approx(expected)
    for k in (3, 4, 5, 6):
        assert 0 < metrics.kmer_js_divergence(["ACGTTGCAAC" * 3], ["GGGCCCATAT" * 3], k=k) <= 1
