"""Named align settings: ``preset(name) -> AlignConfig``.

``dav-paper`` is the DAV paper's published setting as the issue states it (M = 10 candidates, T = 128
steps, 256 sequences per iteration, the x̂0-argmax M-step skipping the first 80 of 128 steps with weight
(α_s − α_t)/α_t, lr 2e-4, gradient clipping 1.0). It is sized for a GPU. Differences that remain: the
reward's scale (our oracle's log-odds) differs from the paper's, so α = 0.5 here is not the paper's α;
the iteration count, inner epochs and batch size are ours; the backbone and prior are ours; the recipe
was taken from the issue text, not checked against the official code.
"""

from __future__ import annotations

from dnadav.align.config import AlignConfig
from dnadav.align.distill import DistillConfig
from dnadav.align.search import SearchConfig

__all__ = ["PRESETS", "preset"]

PRESETS = ("default", "dav-paper")


def preset(name: str) -> AlignConfig:
    """The AlignConfig of a named preset (``default`` or ``dav-paper``); ValueError for other names."""
    if name == "default":
        return AlignConfig()
    if name == "dav-paper":
        return AlignConfig(
            sequences_per_iteration=256,
            search=SearchConfig(num_children=10, reward_temperature=0.5, num_steps=128, record_clean=True),
            distill=DistillConfig(objective="paper", skip_steps=80),
            lr=2e-4,
            gradient_clip=1.0,
            eval_steps=128,
        )
    raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
