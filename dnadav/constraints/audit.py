"""Audit finished sequences against a constraint set: per-sequence violation counts (any tool's designs).

Counts, each ``[N]`` int64:
``site:<name>`` occurrences of that site on either strand (a palindromic site counted once per place);
``sites`` their total; ``homopolymer`` runs longer than the cap; ``gc`` 1 when the G+C count is
outside the bounds; ``fixed`` positions that differ from the prefix / suffix / template;
``invalid`` tokens that are not A/C/G/T; ``total`` the sum of sites, homopolymer, gc, fixed, invalid.
"""

from __future__ import annotations

import torch

from dnadav.constraints.sites import iupac_reverse_complement, iupac_rows
from dnadav.dna.tokens import NUM_BASES

__all__ = ["count_violations", "site_hits"]


def _iupac_mask(pattern: str) -> torch.Tensor:
    return iupac_rows(pattern).float()


def site_hits(onehot_windows_source: torch.Tensor, pattern: str) -> torch.Tensor:
    """``[N, L - k + 1]`` bool: where ``pattern`` or its reverse complement starts in
    ``onehot [N, L, 4]`` (float, all-zero rows for non-bases)."""
    k = len(pattern)
    n, length, _ = onehot_windows_source.shape
    if length < k:
        return torch.zeros(n, 0, dtype=torch.bool)
    windows = onehot_windows_source.unfold(1, k, 1)  # [N, L-k+1, 4, k]
    hits = torch.zeros(n, length - k + 1, dtype=torch.bool)
    for strand in {pattern, iupac_reverse_complement(pattern)}:
        mask = _iupac_mask(strand).T  # [4, k]
        hits |= ((windows * mask).sum(dim=2) > 0).all(dim=-1)
    return hits


def count_violations(constraint, tokens: torch.Tensor) -> dict[str, torch.Tensor]:
    """See the module docstring; ``constraint`` is a ``SequenceConstraint``."""
    constraint._check_shape(tokens)
    tokens = tokens.cpu()
    n, length = tokens.shape
    valid = (tokens >= 0) & (tokens < NUM_BASES)
    onehot = torch.nn.functional.one_hot(tokens.clamp(0, NUM_BASES - 1), NUM_BASES).float() * valid[..., None]
    out: dict[str, torch.Tensor] = {"invalid": (~valid).sum(-1)}
    total_sites = torch.zeros(n, dtype=torch.long)
    for site in constraint.spec.forbid:
        count = site_hits(onehot, site.pattern).sum(-1)
        out[f"site:{site.name}"] = count
        total_sites += count
    out["sites"] = total_sites
    cap = constraint.spec.max_homopolymer
    if cap and length > cap:
        same = (tokens[:, 1:] == tokens[:, :-1]) & valid[:, 1:] & valid[:, :-1]  # [N, L-1]
        # a run longer than cap has cap consecutive "same" links; count each run once, at its start
        long_window = same.unfold(1, cap, 1).all(dim=-1)  # [N, L-cap]
        starts = long_window & torch.cat([torch.ones(n, 1, dtype=torch.bool), ~long_window[:, :-1]], dim=1)
        out["homopolymer"] = starts.sum(-1)
    else:
        out["homopolymer"] = torch.zeros(n, dtype=torch.long)
    if constraint.gc_counts is not None:
        lo, hi = constraint.gc_counts
        gc = ((tokens == 1) | (tokens == 2)).sum(-1)
        out["gc"] = ((gc < lo) | (gc > hi)).long()
    else:
        out["gc"] = torch.zeros(n, dtype=torch.long)
    fits = (onehot.bool() & constraint.allowed[None]).any(-1)
    constrained = ~constraint.allowed.all(-1)
    out["fixed"] = (~fits & constrained[None] & valid).sum(-1)
    out["total"] = out["sites"] + out["homopolymer"] + out["gc"] + out["fixed"] + out["invalid"]
    return out
