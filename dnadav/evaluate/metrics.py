"""Metric functions over designed sequences: pure, vectorised, each with its definition and unit.

Inputs are equal-length A/C/G/T strings or ``tokens [N, L]`` (A, C, G, T = 0..3). Definitions
follow DRAKES / DAV so numbers are comparable in spirit (see docs/metrics.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from dnadav.dna.tokens import NUM_BASES, gc_content, invalid_character, strings_to_tokens, tokens_to_onehot

__all__ = [
    "Novelty",
    "NoveltyMetric",
    "accessibility_accuracy",
    "gc_fraction",
    "kmer_counts",
    "kmer_correlation",
    "kmer_js_divergence",
    "mean_pairwise_identity_distance",
    "mean_pairwise_levenshtein",
    "nearest_hamming",
    "nearest_levenshtein",
    "novelty",
    "pairwise_levenshtein",
    "pearson",
    "pred_activity",
    "spearman",
    "validity",
]

NoveltyMetric = Literal["hamming", "levenshtein"]


def validity(sequences: Sequence[str], length: int | None = None) -> dict[str, int]:
    """Counts (sequences) of valid records — only A/C/G/T (either case) and exactly ``length`` long
    (default: the first record's length) — and of each failure. Nothing is repaired."""
    length = length if length is not None else (len(sequences[0]) if sequences else 0)
    bad_character = [invalid_character(s) is not None for s in sequences]
    wrong_length = [len(s) != length for s in sequences]
    valid = sum(not (b or w) for b, w in zip(bad_character, wrong_length))
    return {"n": len(sequences), "n_valid": valid, "n_bad_character": sum(bad_character), "n_wrong_length": sum(wrong_length)}


def _tokens(sequences: Sequence[str] | torch.Tensor) -> torch.Tensor:
    tokens = sequences if isinstance(sequences, torch.Tensor) else strings_to_tokens(list(sequences))
    if tokens.numel() and (tokens.min() < 0 or tokens.max() >= NUM_BASES):
        raise ValueError("metrics take A/C/G/T tokens 0..3 only; masked or invalid positions must be removed first")
    return tokens.long()


def kmer_counts(sequences: Sequence[str] | torch.Tensor, k: int = 3, per_sequence: bool = False) -> np.ndarray:
    """Counts (windows) of all ``4**k`` k-mers over every window of every sequence -> ``[4**k]``, or with
    ``per_sequence`` each sequence's own -> ``[N, 4**k]``.

    Index = base-4 number of the k-mer, lexicographic with A < C < G < T (0 = AAA, 1 = AAC, ...);
    one ``bincount`` over all windows, no loop over positions."""
    tokens = _tokens(sequences)
    rows = tokens.shape[0] if per_sequence else 1
    windows = tokens.shape[1] - k + 1 if tokens.dim() == 2 else 0
    if windows <= 0:
        return np.zeros((rows, 4**k) if per_sequence else 4**k, dtype=np.int64)
    index = torch.zeros(tokens.shape[0], windows, dtype=torch.long)
    for offset in range(k):  # k is tiny: a loop over offsets, not positions
        index = index * 4 + tokens[:, offset : offset + windows]
    if per_sequence:  # sequence i's k-mers in bins i·4^k … (i + 1)·4^k − 1
        index = index + 4**k * torch.arange(rows)[:, None]
    counts = torch.bincount(index.flatten(), minlength=rows * 4**k).numpy()
    return counts.reshape(rows, 4**k) if per_sequence else counts


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation (unitless, in [−1, 1]); nan when either side is constant."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    a, b = a - a.mean(), b - b.mean()  # numpy, not scipy.stats: importing that costs ~0.5 s of a cold `evaluate`
    return float(np.clip((a @ b) / np.sqrt((a @ a) * (b @ b)), -1.0, 1.0))


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (unitless, in [−1, 1]; ties get average ranks); nan when either side
    is constant."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    import pandas as pd

    return pearson(pd.Series(a).rank(method="average").to_numpy(), pd.Series(b).rank(method="average").to_numpy())


def kmer_correlation(designs: Sequence[str] | torch.Tensor, reference: Sequence[str] | torch.Tensor, k: int = 3) -> float:
    """DRAKES "3-mer corr" (naturalness): Pearson correlation between the ``4**k`` k-mer counts of the
    designs and of the reference, both counted over every window. Unitless, in [−1, 1]."""
    return pearson(kmer_counts(designs, k), kmer_counts(reference, k))


def kmer_js_divergence(designs: Sequence[str] | torch.Tensor, reference: Sequence[str] | torch.Tensor, k: int = 4) -> float:
    """Jensen–Shannon divergence between the k-mer frequency spectra of designs and reference, in bits
    (0 = identical spectra, 1 = disjoint). Each of the ``4**k`` counts gets a 0.5 pseudocount so that
    k = 3..6 stay finite on small sets."""
    p = kmer_counts(designs, k).astype(float) + 0.5
    q = kmer_counts(reference, k).astype(float) + 0.5
    p, q = p / p.sum(), q / q.sum()
    m = 0.5 * (p + q)
    return float(0.5 * (p * np.log2(p / m)).sum() + 0.5 * (q * np.log2(q / m)).sum())


def gc_fraction(sequences: Sequence[str] | torch.Tensor) -> np.ndarray:
    """Fraction of G or C bases per sequence (in [0, 1]) -> ``[N]`` (``dnadav.dna.tokens.gc_content`` on A/C/G/T only)."""
    return gc_content(_tokens(sequences)).numpy()


def pred_activity(scores: np.ndarray | torch.Tensor) -> float:
    """DRAKES "Pred-Activity": the median of oracle scores (for the DHS oracles: HepG2 log-odds, nats).
    Pass the *evaluation* oracle's scores; the reward oracle's median is reported beside it."""
    return float(np.median(np.asarray(scores, dtype=float)))


def accessibility_accuracy(probability: np.ndarray | torch.Tensor, threshold: float = 0.5) -> float:
    """DRAKES "ATAC-Acc": share of sequences (in [0, 1]) whose target-cell-type probability is
    strictly above ``threshold`` (0.5)."""
    probability = np.asarray(probability, dtype=float)
    return float((probability > threshold).mean()) if probability.size else float("nan")


def pairwise_levenshtein(strings: Sequence[str]) -> np.ndarray:
    """All pairwise edit distances (bases: insertions, deletions, substitutions) ``[N, N]`` via
    rapidfuzz ``cdist`` (multi-threaded C++; no Python pair loop). One list object as both queries and
    choices: rapidfuzz then computes one triangle of the symmetric matrix (half the time)."""
    from rapidfuzz.distance import Levenshtein
    from rapidfuzz.process import cdist

    both = list(strings)
    return cdist(both, both, scorer=Levenshtein.distance, workers=-1, dtype=np.int32)


def mean_pairwise_levenshtein(strings: Sequence[str]) -> float:
    """DAV's diversity: mean Levenshtein distance (bases) over the N(N−1) ordered distinct pairs."""
    n = len(strings)
    if n < 2:
        return float("nan")
    return float(pairwise_levenshtein(strings).sum() / (n * (n - 1)))


def mean_pairwise_identity_distance(sequences: Sequence[str] | torch.Tensor) -> float:
    """Mean over distinct pairs of 1 − identity (unitless, in [0, 1]), identity = share of positions
    with the same base (ungapped; Hamming distance / L). One matrix product, no pair loop."""
    onehot = tokens_to_onehot(_tokens(sequences)).flatten(1)  # [N, 4L]
    n, length = onehot.shape[0], onehot.shape[1] // 4
    if n < 2:
        return float("nan")
    matches = onehot @ onehot.T  # [N, N] equal positions
    off_diagonal = matches.sum() - matches.diagonal().sum()
    return float(1.0 - off_diagonal / (n * (n - 1) * length))


def nearest_hamming(designs: Sequence[str] | torch.Tensor, pool: Sequence[str] | torch.Tensor, chunk: int = 8192) -> np.ndarray:
    """Hamming distance (bases) from each design to its nearest sequence in ``pool`` -> ``[N]``.

    Equal positions are counted with one-hot matrix products over chunks of the pool, so
    640 × 39,254 sequences of 200 bp take about 3 s on 2 CPU cores."""
    left = tokens_to_onehot(_tokens(designs)).flatten(1)
    right_tokens = _tokens(pool)
    if left.shape[1] != 4 * right_tokens.shape[1]:
        raise ValueError(f"Hamming distance needs equal lengths; designs are {left.shape[1] // 4}, pool {right_tokens.shape[1]}")
    best = torch.zeros(left.shape[0])
    for start in range(0, right_tokens.shape[0], chunk):
        right = tokens_to_onehot(right_tokens[start : start + chunk]).flatten(1)
        best = torch.maximum(best, (left @ right.T).amax(dim=1))
    return (right_tokens.shape[1] - best).numpy()


def nearest_levenshtein(designs: Sequence[str], pool: Sequence[str], chunk: int = 4096) -> np.ndarray:
    """Edit distance (bases) from each design to its nearest sequence in ``pool`` -> ``[N]`` (exact;
    rapidfuzz ``cdist`` over chunks of the pool). Slow at scale: ~2 min for 640 × 39,254 × 200 bp on
    2 cores, which is why ``novelty`` defaults to Hamming."""
    from rapidfuzz.distance import Levenshtein
    from rapidfuzz.process import cdist

    designs, pool = list(designs), list(pool)
    best = np.full(len(designs), np.iinfo(np.int32).max, dtype=np.int64)
    for start in range(0, len(pool), chunk):
        distances = cdist(designs, pool[start : start + chunk], scorer=Levenshtein.distance, workers=-1, dtype=np.int32)
        best = np.minimum(best, distances.min(axis=1))
    return best


@dataclass(frozen=True)
class Novelty:
    """Memorisation check: ``distances [N]`` (bases) from each design to its nearest training
    sequence; ``median`` of them; ``near_copy_fraction`` = share with distance ≤ ``threshold`` bases."""

    distances: np.ndarray
    median: float
    near_copy_fraction: float
    threshold: float
    metric: NoveltyMetric


def novelty(
    designs: Sequence[str] | torch.Tensor,
    training: Sequence[str] | torch.Tensor,
    *,
    metric: NoveltyMetric = "hamming",
    near_copy: float = 0.1,
) -> Novelty:
    """Distance from each design to its nearest training sequence (``metric``: ungapped Hamming by
    default, or exact Levenshtein — slower); a "near copy" is within ``near_copy`` × L bases
    (default 10%, i.e. 20 bases at 200 bp). Hamming needs designs and training of one length."""
    if metric == "hamming":
        distances = nearest_hamming(designs, training)
    elif metric == "levenshtein":
        if isinstance(designs, torch.Tensor) or isinstance(training, torch.Tensor):
            raise ValueError("Levenshtein novelty takes strings")
        distances = nearest_levenshtein(designs, training)
    else:
        raise ValueError(f"metric must be 'hamming' or 'levenshtein'; got {metric!r}")
    length = designs.shape[1] if isinstance(designs, torch.Tensor) else (len(designs[0]) if len(designs) else 0)
    distances = np.asarray(distances, dtype=float)
    threshold = near_copy * length
    if distances.size == 0:
        return Novelty(distances, float("nan"), float("nan"), threshold, metric)
    return Novelty(distances, float(np.median(distances)), float(np.mean(distances <= threshold)), threshold, metric)
