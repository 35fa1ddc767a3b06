"""PWM scanning: a hand-set motif with hand-computed log-odds, both strands; the shipped JASPAR set."""

import json
import math

import pytest
import torch

from dnadav.assets import asset_path
from dnadav.dna.tokens import strings_to_onehot
from dnadav.evaluate.motifs import (
    MotifSet,
    hit_thresholds,
    load_motifs,
    motif_correlation,
    motif_enrichment,
    motif_hit_counts,
    motif_scores,
)

# "AAC": 10 counts of the consensus base per column. With pseudocount 1 spread over 4 bases,
# p(consensus) = 10.25 / 11 and p(other) = 0.25 / 11, so log2-odds vs 0.25 are:
MATCH, MISMATCH = math.log2(41 / 11), math.log2(1 / 11)
AAC = [[10, 10, 0], [0, 0, 10], [0, 0, 0], [0, 0, 0]]  # rows A, C, G, T


def toy_motifs() -> MotifSet:
    return MotifSet.from_counts({"AAC": AAC, "GG": [[0, 0], [0, 0], [10, 10], [0, 0]]})


def test_planted_motif_found_on_both_strands_with_hand_computed_score():
    motifs = toy_motifs()
    forward = "TTAACTT"  # AAC at 2
    reverse = "CCGTTCC"  # GTT (reverse complement of AAC) at 2
    scores = motif_scores(strings_to_onehot([forward, reverse]), motifs)  # [2, 2, 7]
    assert scores[0, 0, 2].item() == pytest.approx(3 * MATCH, rel=1e-6)
    assert scores[1, 0, 2].item() == pytest.approx(3 * MATCH, rel=1e-6)
    # start 0 of "TTAACTT": "TTA" — forward AAC: 0 matches; reverse GTT: the middle T matches
    assert scores[0, 0, 0].item() == pytest.approx(MATCH + 2 * MISMATCH, rel=1e-6)
    # a width-3 motif cannot start at 5 or 6 of a 7-bp sequence; the width-2 motif can start at 5
    assert torch.isinf(scores[:, 0, 5:]).all() and not torch.isinf(scores[:, 1, 5]).any()
    threshold = hit_thresholds(motifs)[0].item()
    assert threshold == pytest.approx(3 * MISMATCH + 0.85 * (3 * MATCH - 3 * MISMATCH))
    counts = motif_hit_counts(strings_to_onehot([forward, reverse, "TTTTTTT"]), motifs)
    assert counts[:, 0].tolist() == [1, 1, 0]


def test_correlation_and_enrichment_by_hand():
    design_hits = torch.tensor([[1, 0, 3], [1, 0, 2]])  # totals 2, 0, 5
    reference_hits = torch.tensor([[0, 1, 9]])  # totals 0, 1, 9: ranks (2,1,3) vs (1,2,3)
    assert motif_correlation(design_hits, reference_hits) == pytest.approx(0.5)
    assert motif_enrichment([1.95, 0.0], [0.45, 0.0]).tolist() == pytest.approx([2.0, 0.0])


def test_shipped_jaspar_motifs():
    data = json.loads(asset_path("datasets", "jaspar", "motifs.json").read_text())
    assert data["release"].startswith("JASPAR") and data["collection"] == "CORE"
    motifs = load_motifs()
    assert len(motifs) == len(data["motifs"]) == 21
    for name in ("HNF1A", "HNF4A", "FOXA2", "CEBPB", "GATA1::TAL1", "SPI1", "CTCF"):
        assert name in motifs.names
    for entry in data["motifs"]:
        assert entry["matrix_id"].endswith(f".{entry['version']}") and len(entry["counts"]) == 4
    # the consensus of each shipped motif, planted in poly-T, scores the motif's maximum
    index = motifs.names.index("HNF4A")
    width = int(motifs.widths[index])
    consensus = "".join("ACGT"[i] for i in motifs.log_odds[index, :, :width].argmax(0).tolist())
    sequence = "T" * 10 + consensus + "T" * 10
    best = motifs.log_odds[index, :, :width].amax(0).sum().item()
    assert motif_scores(strings_to_onehot([sequence]), motifs)[0, index, 10].item() == pytest.approx(best, rel=1e-5)
