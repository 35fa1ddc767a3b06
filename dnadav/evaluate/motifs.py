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

import torch

from dnadav.assets import asset_path

__all__ = ["MotifSet", "load_motifs", "motif_scores", "motif_hit_counts"]


@dataclass(frozen=True)
class MotifSet:
    """Stacked PWMs: ``log_odds [n, 4, W_max]`` zero-padded on the right; ``widths [n]``."""

    names: tuple[str, ...]
    matrix_ids: tuple[str, ...]
    cell_types: tuple[str, ...]
    log_odds: torch.Tensor
    widths: torch.Tensor
    probabilities: tuple[torch.Tensor, ...]  # [4, W] each, for sequence logos

    def __len__(self) -> int:
        return len(self.names)


def pwm_log_odds(counts: torch.Tensor, pseudocount: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """``counts [4, W]`` -> (log2-odds vs a uniform background ``[4, W]``, probabilities ``[4, W]``)."""
    probabilities = (counts + pseudocount / 4) / (counts.sum(dim=0, keepdim=True) + pseudocount)
    return torch.log2(probabilities / 0.25), probabilities


@lru_cache(maxsize=1)
def load_motifs() -> MotifSet:
    """The shipped JASPAR motifs (liver factors for HepG2; K562, GM12878 and hESC factors; CTCF)."""
    data = json.loads(asset_path("datasets", "jaspar", "motifs.json").read_text())
    entries = data["motifs"]
    scored = [pwm_log_odds(torch.tensor(m["counts"], dtype=torch.float32)) for m in entries]
    width = max(s[0].shape[1] for s in scored)
    log_odds = torch.zeros(len(entries), 4, width)
    for i, (lo, _) in enumerate(scored):
        log_odds[i, :, : lo.shape[1]] = lo
    return MotifSet(
        names=tuple(m["name"] for m in entries),
        matrix_ids=tuple(m["matrix_id"] for m in entries),
        cell_types=tuple(m["cell_type"] for m in entries),
        log_odds=log_odds,
        widths=torch.tensor([s[0].shape[1] for s in scored]),
        probabilities=tuple(s[1] for s in scored),
    )


def motif_scores(onehot: torch.Tensor, motifs: MotifSet) -> torch.Tensor:
    """Best-strand log-odds of every motif at every start ``[B, n, L]``; starts where the motif
    would run off the end are ``-inf``."""
    length = onehot.shape[-1]
    width = motifs.log_odds.shape[-1]
    forward = motifs.log_odds
    # reverse complement of each motif within its own width: flip bases and positions, realign left
    reverse = torch.zeros_like(forward)
    for i, w in enumerate(motifs.widths.tolist()):  # a loop over ~20 motifs at load, not over data
        reverse[i, :, :w] = forward[i, :, :w].flip(0).flip(1)
    padded = torch.nn.functional.pad(onehot.float(), (0, width - 1))
    scores = torch.nn.functional.conv1d(padded, torch.cat([forward, reverse]))  # [B, 2n, L]
    n = len(motifs)
    best = torch.maximum(scores[:, :n], scores[:, n:])
    starts = torch.arange(length)
    valid = starts[None, :] <= (length - motifs.widths)[:, None]  # [n, L]
    return best.masked_fill(~valid[None], float("-inf"))


def motif_hit_counts(
    onehot: torch.Tensor, motifs: MotifSet | None = None, relative_threshold: float = 0.85, batch_size: int = 1024
) -> torch.Tensor:
    """Hits per sequence and motif ``[B, n]`` (either strand, score ≥ min + r·(max − min))."""
    motifs = motifs or load_motifs()
    lo = motifs.log_odds
    max_score = torch.stack([lo[i, :, :w].amax(0).sum() for i, w in enumerate(motifs.widths.tolist())])
    min_score = torch.stack([lo[i, :, :w].amin(0).sum() for i, w in enumerate(motifs.widths.tolist())])
    threshold = min_score + relative_threshold * (max_score - min_score)
    counts = [
        (motif_scores(onehot[i : i + batch_size], motifs) >= threshold[None, :, None]).sum(dim=-1)
        for i in range(0, onehot.shape[0], batch_size)
    ]
    return torch.cat(counts)
