"""How the EM loop splits its work across distributed ranks: each rank's share of an E-step, the seed
of every random stream (per run, iteration, rank and purpose), and gathering the pieces back."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

__all__ = ["gather_rows", "local_count", "stream_seed"]


def stream_seed(seed: int, iteration: int, rank: int, stream: int) -> int:
    """A distinct, reproducible seed for each (run seed, EM iteration, rank, purpose)."""
    return (seed * 1_000_003 + iteration * 10_007 + rank * 101 + stream) % (2**63 - 1)


def local_count(total: int, world: int, rank: int) -> int:
    """This rank's share of ``total`` sequences: equal slices, the first ``total % world`` ranks one more."""
    return total // world + (1 if rank < total % world else 0)


def gather_rows(
    all_gather: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]],
    rows: dict[str, torch.Tensor],
    total: int,
    world: int,
) -> dict[str, torch.Tensor]:
    """All ranks' ``rows`` (batch-first tensors, this rank's slice of ``total``), in rank order and
    without padding duplicates. ``all_gather``: the strategy's (``LightningModule.all_gather``), which
    needs equal sizes, so a slice one row short is padded and the pad masked out afterwards."""
    first = next(iter(rows.values()))
    local = first.shape[0]
    pad = math.ceil(total / world) - local
    valid = torch.ones(local + pad, dtype=torch.bool, device=first.device)
    if pad:
        rows = {k: torch.cat([v, v[:pad]]) for k, v in rows.items()}
        valid[-pad:] = False
    rows = {k: v.contiguous() for k, v in rows.items()}
    gathered = all_gather({**rows, "valid": valid})
    keep = gathered.pop("valid").reshape(-1)
    return {k: v.reshape(-1, *v.shape[2:])[keep] for k, v in gathered.items()}
