"""Metric functions over designed sequences: pure, vectorised, with their definitions.

Inputs are equal-length A/C/G/T strings or ``tokens [N, L]``. Definitions follow DRAKES / DAV
(see docs/metrics.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from scipy.stats import pearsonr, spearmanr

from dnadav.seq import invalid_character, strings_to_tokens, tokens_to_onehot

__all__ = [
    "validity",
    "kmer_counts",
    "kmer_correlation",
    "kmer_js_divergence",
    "gc_fraction",
    "pairwise_levenshtein",
    "mean_pairwise_levenshtein",
    "mean_pairwise_identity_distance",
    "nearest_hamming",
    "spearman",
]


def validity(sequences: Sequence[str], length: int | None = None) -> dict[str, int]:
    """Counts of valid sequences (only A/C/G/T, the expected length) and of each failure."""
    length = length if length is not None else (len(sequences[0]) if sequences else 0)
    bad_character = sum(invalid_character(s) is not None for s in sequences)
    wrong_length = sum(len(s) != length for s in sequences)
    valid = sum(invalid_character(s) is None and len(s) == length for s in sequences)
    return {"n": len(sequences), "n_valid": valid, "n_bad_character": bad_character, "n_wrong_length": wrong_length}


def _tokens(sequences: Sequence[str] | torch.Tensor) -> torch.Tensor:
    return sequences if isinstance(sequences, torch.Tensor) else strings_to_tokens(list(sequences))


def kmer_counts(sequences: Sequence[str] | torch.Tensor, k: int = 3) -> np.ndarray:
    """Counts of all ``4**k`` k-mers over every window of every sequence -> ``[4**k]`` (lexicographic,
    A < C < G < T; e.g. index 0 = AAA, 1 = AAC)."""
    tokens = _tokens(sequences).long()
    if tokens.shape[1] < k:
        return np.zeros(4**k, dtype=np.int64)
    index = torch.zeros(tokens.shape[0], tokens.shape[1] - k + 1, dtype=torch.long)
    for offset in range(k):  # k is tiny: a loop over offsets, not positions
        index = index * 4 + tokens[:, offset : tokens.shape[1] - k + 1 + offset]
    return torch.bincount(index.flatten(), minlength=4**k).numpy()


def kmer_correlation(designs: Sequence[str] | torch.Tensor, reference: Sequence[str] | torch.Tensor, k: int = 3) -> float:
    """Pearson correlation of k-mer counts (all ``4**k``), designs vs reference (DRAKES "3-mer corr")."""
    return float(pearsonr(kmer_counts(designs, k), kmer_counts(reference, k)).statistic)


def kmer_js_divergence(designs: Sequence[str] | torch.Tensor, reference: Sequence[str] | torch.Tensor, k: int = 4) -> float:
    """Jensen–Shannon divergence (bits, in [0, 1]) between k-mer frequency spectra."""
    p = kmer_counts(designs, k).astype(float) + 0.5
    q = kmer_counts(reference, k).astype(float) + 0.5
    p, q = p / p.sum(), q / q.sum()
    m = 0.5 * (p + q)
    return float(0.5 * (p * np.log2(p / m)).sum() + 0.5 * (q * np.log2(q / m)).sum())


def gc_fraction(sequences: Sequence[str] | torch.Tensor) -> np.ndarray:
    """Fraction of G or C per sequence -> ``[N]``."""
    tokens = _tokens(sequences)
    return ((tokens == 1) | (tokens == 2)).float().mean(dim=1).numpy()


def pairwise_levenshtein(strings: Sequence[str]) -> np.ndarray:
    """All pairwise edit distances ``[N, N]`` (rapidfuzz, multi-threaded C++)."""
    from rapidfuzz.distance import Levenshtein
    from rapidfuzz.process import cdist

    return cdist(list(strings), list(strings), scorer=Levenshtein.distance, workers=-1, dtype=np.int32)


def mean_pairwise_levenshtein(strings: Sequence[str]) -> float:
    """Mean Levenshtein distance over distinct pairs (DAV's diversity metric), in bases."""
    n = len(strings)
    if n < 2:
        return float("nan")
    distances = pairwise_levenshtein(strings)
    return float(distances.sum() / (n * (n - 1)))


def mean_pairwise_identity_distance(sequences: Sequence[str] | torch.Tensor) -> float:
    """Mean over distinct pairs of 1 − identity, identity = share of positions with the same base
    (ungapped Hamming); one matrix product, no pair loop."""
    onehot = tokens_to_onehot(_tokens(sequences)).flatten(1)  # [N, 4L]
    n, length = onehot.shape[0], onehot.shape[1] // 4
    if n < 2:
        return float("nan")
    matches = onehot @ onehot.T
    off_diagonal = matches.sum() - matches.diagonal().sum()
    return float(1.0 - off_diagonal / (n * (n - 1) * length))


def nearest_hamming(designs: Sequence[str] | torch.Tensor, pool: Sequence[str] | torch.Tensor, chunk: int = 8192) -> np.ndarray:
    """For each design, the Hamming distance (bases) to its nearest sequence in ``pool`` -> ``[N]``.

    Matches are counted with one-hot matrix products in chunks of the pool (the memorisation check).
    """
    left = tokens_to_onehot(_tokens(designs)).flatten(1)
    right_tokens = _tokens(pool)
    length = right_tokens.shape[1]
    best = torch.zeros(left.shape[0])
    for start in range(0, right_tokens.shape[0], chunk):
        right = tokens_to_onehot(right_tokens[start : start + chunk]).flatten(1)
        best = torch.maximum(best, (left @ right.T).amax(dim=1))
    return (length - best).numpy()


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (nan when either side is constant)."""
    if np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)
