import json

import numpy as np
import pytest
import torch

from dnadav.evaluate import metrics
from dnadav.evaluate.evaluator import evaluate_sets
from dnadav.evaluate.motifs import load_motifs, motif_hit_counts, motif_scores
from dnadav.evaluate.report import write_report
from dnadav.seq import strings_to_onehot


def test_kmer_counts_by_hand():
    counts = metrics.kmer_counts(["AAAC", "ACGT"], 3)
    # AAA, AAC from the first; ACG, CGT from the second (index: 16a + 4b + c)
    expected = np.zeros(64, dtype=int)
    for kmer in ["AAA", "AAC", "ACG", "CGT"]:
        expected[sum("ACGT".index(c) * 4 ** (2 - i) for i, c in enumerate(kmer))] += 1
    assert np.array_equal(counts, expected)
    assert metrics.kmer_correlation(["ACGTACGTAAGG"], ["ACGTACGTAAGG"]) == pytest.approx(1.0)


def test_edit_and_identity_distances_by_hand():
    assert metrics.pairwise_levenshtein(["ACGT", "AGT", "ACGA"]).tolist() == [[0, 1, 1], [1, 0, 2], [1, 2, 0]]
    assert metrics.mean_pairwise_levenshtein(["ACGT", "AGT", "ACGA"]) == pytest.approx(4 / 3)
    # pairs: (AAAA, AAAT) 1/4 differ, (AAAA, TTTT) 4/4, (AAAT, TTTT) 3/4 -> mean 2/3
    assert metrics.mean_pairwise_identity_distance(["AAAA", "AAAT", "TTTT"]) == pytest.approx(2 / 3)
    assert metrics.nearest_hamming(["AAAA", "CCCC"], ["AAAT", "GGGG", "CCCG"]).tolist() == [1, 1]


def test_validity_gc_and_divergence():
    assert metrics.validity(["ACGT", "ACGN", "ACG"], 4) == {"n": 3, "n_valid": 1, "n_bad_character": 1, "n_wrong_length": 1}
    assert metrics.gc_fraction(["GGCC", "ATGC"]).tolist() == [1.0, 0.5]
    assert metrics.kmer_js_divergence(["ACGTACGTAC"], ["ACGTACGTAC"]) == pytest.approx(0.0, abs=1e-12)
    # 9 AA vs 9 CC dimers, 0.5 pseudocount on each of 16: p = 9.5/17 on AA, 0.5/17 elsewhere
    p = np.full(16, 0.5 / 17)
    p[0] = 9.5 / 17
    q = np.full(16, 0.5 / 17)
    q[5] = 9.5 / 17
    m = (p + q) / 2
    expected = 0.5 * (p * np.log2(p / m)).sum() + 0.5 * (q * np.log2(q / m)).sum()
    assert metrics.kmer_js_divergence(["AAAAAAAAAA"], ["CCCCCCCCCC"], k=2) == pytest.approx(expected)


def test_a_planted_motif_is_found_on_both_strands_with_its_exact_score():
    motifs = load_motifs()
    index = motifs.names.index("HNF4A")
    width = int(motifs.widths[index])
    consensus = "".join("ACGT"[i] for i in motifs.log_odds[index, :, :width].argmax(0).tolist())
    complement = consensus[::-1].translate(str.maketrans("ACGT", "TGCA"))
    background = "T" * 30
    forward = background[:10] + consensus + background[10 + width :]
    reverse = background[:5] + complement + background[5 + width :]
    scores = motif_scores(strings_to_onehot([forward, reverse]), motifs)
    best = motifs.log_odds[index, :, :width].amax(0).sum()
    assert scores[0, index, 10].item() == pytest.approx(best.item(), rel=1e-5)
    assert scores[1, index, 5].item() == pytest.approx(best.item(), rel=1e-5)
    counts = motif_hit_counts(strings_to_onehot([forward, reverse, background]), motifs)
    assert counts[0, index] >= 1 and counts[1, index] >= 1 and counts[2, index] == 0


class GCOracle(torch.nn.Module):
    """Toy oracle: reward = GC count − L/2; probability = sigmoid(reward)."""

    def reward(self, onehot):
        return onehot[:, 1:3].sum(dim=(1, 2)) - onehot.shape[-1] / 2

    def probability(self, onehot):
        return torch.sigmoid(self.reward(onehot))


def test_evaluation_report_is_complete_and_self_contained(tmp_path):
    rng = np.random.default_rng(0)
    random_set = ["".join(rng.choice(list("ACGT"), 40)) for _ in range(12)]
    gc_rich = ["".join(rng.choice(list("GCGCA"), 40)) for _ in range(12)]
    reference = ["".join(rng.choice(list("ACGT"), 40)) for _ in range(20)]
    result = evaluate_sets(
        {"random": random_set, "gc_rich": gc_rich},
        reward_oracle=GCOracle(),
        eval_oracle=GCOracle(),
        reference=reference,
        training=reference[:5],
        prior=None,
    )
    summary = result.summary
    assert summary.loc["gc_rich", "pred_activity_median"] > summary.loc["random", "pred_activity_median"]
    assert summary.loc["gc_rich", "accessibility_accuracy"] == 1.0
    assert summary.loc["random", "reward_eval_gap"] == 0.0
    page = write_report(
        result, tmp_path, command="dnadav evaluate test", oracle_names={"reward": "gc", "eval": "gc"}, reference_description="toy"
    )
    html = page.read_text()
    assert "<img" in html and "http://" not in html and "https://" not in html  # no external resources
    data = json.loads((tmp_path / "metrics.json").read_text())
    assert {row["input"] for row in data["inputs"]} == {"random", "gc_rich"}
    assert (tmp_path / "metrics.csv").is_file() and (tmp_path / "per_sequence.csv").is_file()
    from dnadav.errors import InputError

    with pytest.raises(InputError, match="pass --force"):
        write_report(result, tmp_path, command="x", oracle_names={"reward": "gc", "eval": "gc"}, reference_description="toy")
