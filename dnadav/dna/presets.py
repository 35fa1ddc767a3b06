"""Named align settings: ``preset(name) -> AlignConfig``.

``dav-paper`` is the DNA setting of the DAV paper's official code (github.com/Jaewoopudding/dav,
``discrete-sequence/``: the README's run command over ``finetune.py``'s defaults): 200 EM iterations of
256 sequences, M = 10 candidates, T = 128 steps, per-sequence selection with the argmax plug-in value,
γ = 1; an M-step on the chosen child's argmax x̂0 at every masked position with weight (α_s − α_t)/α_t,
skipping the first 80 of 128 steps, 2 passes per iteration, AdamW lr 2e-4, gradient norm clipped at
1.0, no KL. It is sized for a GPU. docs/published-setup.md lists the differences that remain (the
reward's scale and α, the batch a step sees, the time input, the loss's normaliser).
"""

from __future__ import annotations

from dnadav.core.distill import DistillConfig
from dnadav.core.search import SearchConfig
from dnadav.dna.config import AlignConfig

__all__ = ["PRESETS", "preset"]

PRESETS = ("default", "dav-paper")


def preset(name: str) -> AlignConfig:
    """The AlignConfig of a named preset (``default`` or ``dav-paper``); ValueError for other names."""
    if name == "default":
        return AlignConfig()
    if name == "dav-paper":
        return AlignConfig(
            iterations=200,
            sequences_per_iteration=256,
            search=SearchConfig(num_children=10, reward_temperature=0.5, num_steps=128, record_clean=True),
            distill=DistillConfig(objective="paper", skip_steps=80),
            inner_epochs=2,
            # 8 optimiser steps per iteration as in the official loop: 256 × 128 transitions × 2 passes / 8
            batch_size=8192,
            lr=2e-4,
            gradient_clip=1.0,
            eval_steps=128,
        )
    raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
