"""JASPAR motif scanning: PWM log-odds over one-hot batches, both strands, in one conv1d.

Motifs come from ``datasets/jaspar/motifs.json`` (extracted once from JASPAR CORE vertebrates by
``scripts/extract_jaspar.py``). A hit is a window whose log-odds score (pseudocount 1 spread
uniformly, uniform background) reaches ``relative_threshold`` of the way from the motif's minimum to
its maximum possible score, on either strand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from dnadav.assets import asset_path

__all__ = [
    "MotifSet",
    "benjamini_hochberg",
    "enrichment_test",
    "hit_thresholds",
    "load_motifs",
    "motif_correlation",
    "motif_enrichment",
    "motif_hit_counts",
    "motif_scores",
    "pwm_log_odds",
]


@dataclass(frozen=True)
class MotifSet:
    """Stacked PWMs: ``log_odds [n, 4, W_max]`` zero-padded on the right; ``widths [n]``."""

    names: tuple[str, ...]
    matrix_ids: tuple[str, ...]
    cell_types: tuple[str, ...]  # the cell type each motif marks ("control" for CTCF)
    log_odds: torch.Tensor
    widths: torch.Tensor
    probabilities: tuple[torch.Tensor, ...]  # [4, W] each, for sequence logos

    @classmethod
    def from_counts(
        cls, counts: dict[str, list[list[float]]], pseudocount: float = 1.0, matrix_ids=None, cell_types=None
    ) -> MotifSet:
        """Stack named count matrices ``[4, W]`` (rows A, C, G, T) into a MotifSet (for your own
        motifs, or toy ones in tests)."""
        names = tuple(counts)
        scored = [pwm_log_odds(torch.tensor(counts[name], dtype=torch.float32), pseudocount) for name in names]
        width = max(s[0].shape[1] for s in scored)
        log_odds = torch.zeros(len(names), 4, width)  # zero padding scores 0 and is masked at the ends
        for i, (lo, _) in enumerate(scored):
            log_odds[i, :, : lo.shape[1]] = lo
        return cls(
            names=names,
            matrix_ids=tuple(matrix_ids or ("",) * len(names)),
            cell_types=tuple(cell_types or ("",) * len(names)),
            log_odds=log_odds,
            widths=torch.tensor([s[0].shape[1] for s in scored]),
            probabilities=tuple(s[1] for s in scored),
        )

    def __len__(self) -> int:
        return len(self.names)


def pwm_log_odds(counts: torch.Tensor, pseudocount: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """``counts [4, W]`` -> (log2-odds vs a uniform 0.25 background ``[4, W]`` in bits, probabilities
    ``[4, W]``): ``p = (count + pseudocount/4) / (column total + pseudocount)``, score ``log2(p / 0.25)``."""
    probabilities = (counts + pseudocount / 4) / (counts.sum(dim=0, keepdim=True) + pseudocount)
    return torch.log2(probabilities / 0.25), probabilities


@lru_cache(maxsize=1)
def load_motifs() -> MotifSet:
    """The 21 shipped JASPAR motifs (liver factors for HepG2; K562, GM12878 and hESC factors; CTCF)."""
    data = json.loads(asset_path("datasets", "jaspar", "motifs.json").read_text())
    entries = data["motifs"]
    return MotifSet.from_counts(
        {m["name"]: m["counts"] for m in entries},
        matrix_ids=[m["matrix_id"] for m in entries],
        cell_types=[m["cell_type"] for m in entries],
    )


def _width_mask(log_odds: torch.Tensor, widths: torch.Tensor) -> torch.Tensor:
    """``[n, 1, W_max]`` True on each motif's own columns (False on the right padding)."""
    return (torch.arange(log_odds.shape[-1]) < widths[:, None])[:, None, :]


def reverse_complement_motifs(log_odds: torch.Tensor, widths: torch.Tensor) -> torch.Tensor:
    """Reverse complement of each padded motif within its own width, realigned left -> ``[n, 4, W_max]``.

    Column j of motif i's reverse complement is its column ``w_i − 1 − j`` with bases flipped (A↔T, C↔G).
    """
    source = (widths[:, None] - 1 - torch.arange(log_odds.shape[-1])).clamp(min=0)  # [n, W_max]
    flipped = log_odds.flip(1).gather(2, source[:, None, :].expand(-1, log_odds.shape[1], -1))
    return torch.where(_width_mask(log_odds, widths), flipped, torch.zeros_like(flipped))


def motif_scores(onehot: torch.Tensor, motifs: MotifSet) -> torch.Tensor:
    """Best-strand log-odds of every motif at every start ``[B, n, L]``; starts where the motif
    would run off the end are ``-inf``."""
    length = onehot.shape[-1]
    width = motifs.log_odds.shape[-1]
    forward = motifs.log_odds
    reverse = reverse_complement_motifs(forward, motifs.widths)
    padded = torch.nn.functional.pad(onehot.float(), (0, width - 1))
    scores = torch.nn.functional.conv1d(padded, torch.cat([forward, reverse]))  # [B, 2n, L]
    n = len(motifs)
    best = torch.maximum(scores[:, :n], scores[:, n:])
    starts = torch.arange(length)
    valid = starts[None, :] <= (length - motifs.widths)[:, None]  # [n, L]
    return best.masked_fill(~valid[None], float("-inf"))


def hit_thresholds(motifs: MotifSet, relative_threshold: float = 0.85) -> torch.Tensor:
    """Per-motif hit threshold ``[n]`` (bits): ``min + r · (max − min)`` of the motif's possible scores."""
    lo, mask = motifs.log_odds, _width_mask(motifs.log_odds, motifs.widths)[:, 0]
    # padding columns are zeros: they add nothing to either sum
    max_score = (lo.amax(dim=1) * mask).sum(dim=-1)
    min_score = (lo.amin(dim=1) * mask).sum(dim=-1)
    return min_score + relative_threshold * (max_score - min_score)


def motif_hit_counts(
    onehot: torch.Tensor, motifs: MotifSet | None = None, relative_threshold: float = 0.85, batch_size: int = 1024
) -> torch.Tensor:
    """Hits per sequence and motif ``[B, n]`` (int): starts where the best-strand log-odds reaches
    ``hit_thresholds`` (85% of the way from the motif's minimum to its maximum score by default)."""
    motifs = motifs or load_motifs()
    threshold = hit_thresholds(motifs, relative_threshold)
    counts = [
        (motif_scores(onehot[i : i + batch_size], motifs) >= threshold[None, :, None]).sum(dim=-1)
        for i in range(0, onehot.shape[0], batch_size)
    ]
    return torch.cat(counts) if counts else torch.zeros(0, len(motifs), dtype=torch.long)


def motif_correlation(design_hits: torch.Tensor, reference_hits: torch.Tensor) -> float:
    """Motif correlation: Spearman correlation (unitless) of the per-motif total hit counts
    ``[n]`` of designs vs reference, from ``[B, n]`` hit counts of each."""
    from dnadav.evaluate.metrics import spearman

    return spearman(design_hits.sum(0).numpy(), reference_hits.sum(0).numpy())


def motif_enrichment(design_rate: np.ndarray, reference_rate: np.ndarray, pseudo_rate: float = 0.05) -> np.ndarray:
    """log2 enrichment ``[n]`` of hits per kb over the reference: ``log2((d + c) / (r + c))`` with
    c = ``pseudo_rate`` hits/kb so that motifs absent from both score 0."""
    return np.log2((np.asarray(design_rate) + pseudo_rate) / (np.asarray(reference_rate) + pseudo_rate))


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values) ``[n]`` of ``p_values [n]`` (FDR control)."""
    p = np.asarray(p_values, dtype=float)
    n = p.size
    if n == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    scaled = p[order] * n / np.arange(1, n + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1].clip(max=1.0)
    q = np.empty(n)
    q[order] = adjusted
    return q


def enrichment_test(hits: np.ndarray, kb: float, reference_hits: np.ndarray, reference_kb: float):
    """Per-motif enrichment of hits in an input over the reference, with counts and a test.

    Under "same rate per kb", a motif's input hits given its total hits ``N = h + h_ref`` follow
    Binomial(N, kb / (kb + reference_kb)) (the conditional test for two Poisson rates). The one-sided
    p-value is P(X ≥ h); q-values are Benjamini–Hochberg over the motifs. Returns a DataFrame with
    columns hits, per_kb, reference_hits, reference_per_kb, rate_ratio (per-kb ratio; inf when the
    reference has none), p_value, q_value, in the order of the inputs."""
    import pandas as pd
    from scipy.special import betainc  # not scipy.stats.binom: importing scipy.stats costs ~0.5 s

    hits = np.asarray(hits, dtype=np.int64)
    reference_hits = np.asarray(reference_hits, dtype=np.int64)
    total = hits + reference_hits
    share = kb / (kb + reference_kb)
    # P(X ≥ h) for X ~ Binomial(N, share) is the regularised incomplete beta I_share(h, N − h + 1); 1 when h = 0
    tail = betainc(np.maximum(hits, 1), np.maximum(total - hits + 1, 1), share)
    p = np.where(hits > 0, tail, 1.0)
    per_kb, reference_per_kb = hits / kb, reference_hits / reference_kb
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(reference_per_kb > 0, per_kb / reference_per_kb, np.where(per_kb > 0, np.inf, np.nan))
    return pd.DataFrame(
        {
            "hits": hits,
            "per_kb": per_kb,
            "reference_hits": reference_hits,
            "reference_per_kb": reference_per_kb,
            "rate_ratio": ratio,
            "p_value": p,
            "q_value": benjamini_hochberg(p),
        }
    )
