"""The reference set designs are compared with: top real HepG2-specific sequences.

DRAKES used the top 0.1% of measured MPRA activity. The DHS set has no activity measure, so the
reference is the HepG2-specific DHS sequences of the held-out test chromosome (chr1; 958 rows),
ranked by the *evaluation* oracle's HepG2 reward, top ``size`` (500 by default). Ranking by the
DHS ``total_signal`` is offered as ``ranking="signal"``. Neither oracle was trained on chr1.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import torch

from dnadav.data.dhs import load_dhs
from dnadav.seq import strings_to_onehot

__all__ = ["Ranking", "reference_sequences", "training_sequences"]

Ranking = Literal["eval", "signal"]


@lru_cache(maxsize=8)
def _reference(cell_type: str, ranking: Ranking, size: int, oracle: str) -> tuple[str, ...]:
    table = load_dhs("test", cell_type)
    if ranking == "signal":
        order = table["total_signal"].to_numpy().argsort()[::-1]
    elif ranking == "eval":
        from dnadav.oracles import load_oracle

        with torch.no_grad():
            score = load_oracle(oracle, role="eval").reward(strings_to_onehot(table["sequence"].tolist()))
        order = score.argsort(descending=True).numpy()
    else:
        raise ValueError(f"ranking must be eval or signal; got {ranking!r}")
    return tuple(table["sequence"].to_numpy()[order[:size]])


def reference_sequences(cell_type: str = "HepG2", ranking: Ranking = "eval", size: int = 500, oracle: str = "hepg2") -> list[str]:
    """Top ``size`` held-out (chr1) sequences specific to ``cell_type``, ranked as documented above."""
    return list(_reference(cell_type, ranking, size, oracle))


@lru_cache(maxsize=1)
def _training() -> tuple[str, ...]:
    return tuple(load_dhs("train")["sequence"])


def training_sequences() -> list[str]:
    """The DHS train split (all cell types): the pool for the novelty / memorisation check."""
    return list(_training())
