"""Real held-out sequences evaluated beside the user's inputs ("how do my designs compare with real
enhancers?"): random DHS of the test chromosome (chr1, never trained on) of the target cell type
and of one off-target cell type, measured exactly like the inputs."""

from __future__ import annotations

import numpy as np

from dnadav.data.dhs import CELL_TYPES, load_dhs

__all__ = ["held_out_sample", "off_target_cell_type"]


def off_target_cell_type(target: str) -> str | None:
    """The off-target cell type shown beside ``target``: the first other DHS cell type
    (K562 for HepG2); None when ``target`` is not a DHS cell type (e.g. an MPRA regressor)."""
    if target not in CELL_TYPES:
        return None
    return next(c for c in CELL_TYPES if c != target)


def held_out_sample(cell_type: str, size: int, seed: int = 0) -> list[str]:
    """``size`` random (seeded) held-out test-split DHS sequences of ``cell_type`` (all of them if fewer)."""
    table = load_dhs("test", cell_type)
    order = np.random.default_rng(seed).permutation(len(table))[:size]
    return table["sequence"].to_numpy()[np.sort(order)].tolist()
