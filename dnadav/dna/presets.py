"""Named align settings: ``preset(name) -> AlignConfig``.

``default`` is the one recipe every cell type is aligned with (only ``--oracle`` / ``--objective``
change; docs/concepts.md "One recipe"): first a warm start — the prior's own training data scored once by the
reward, 4,096 resampled by exp(r/α) with α solved for a Kish ESS of 0.1 × the data, and the prior fitted to them
with its NELBO for 1,600 steps (docs/concepts.md "A warm start from the training data"); the run starts from and
is anchored to that model. Then every E-step tilts that warm prior's steps, the model only proposing
(``tilt_base="prior"``, docs/concepts.md "Tilting the prior"), each iteration's α solved by the trust
region for a selection KL of 8 nats per path between consecutive targets (a two-round pilot of 16
sequences), an E-step of B = 64 sequences × M = 16 children × T = 25 steps, the ``children`` M-step
(every child weighted by its selection weight) stopped
on 1/8 of the sequences held out (patience 2, at most 8 passes, gradient norm clipped at 1), and the
selection rule: keep the best iteration (reward-oracle median) whose 512 plain samples have 3-mer
correlation ≥ 0.925 to the validation split (chr2) — the 0.92 naturalness target plus a margin for the
estimate's sampling noise (sd ≈ 0.01 at 512 samples; docs/concepts.md "Nineteenth round"); an iteration under
that floor is undone — the next
restarts from the kept one with the trust region's δ halved for every rejection so far
(backtracking) — and the run stops after two rejections in a row, at most 10 iterations; then the
segments in weight space from the kept iteration toward the rejected ones after it are searched by 4
bisections each for a point that meets the floor with more reward (``back_off``, docs/concepts.md
"Backing off").
``AlignConfig()``'s own field defaults are the values that leave each mechanism off (what a checkpoint
written before the field existed means), not this recipe.

``quick`` is the earlier fixed-α recipe (3 iterations of 64 sequences × 16 children at α = 0.5, two
M-step passes): about 5 minutes on 2 CPU cores, for a first look; its iterations compound, so the
iteration count is the knob (docs/concepts.md).

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

PRESETS = ("default", "quick", "dav-paper")


def preset(name: str) -> AlignConfig:
    """The AlignConfig of a named preset (``default``, ``quick`` or ``dav-paper``); ValueError for other names."""
    if name == "default":
        return AlignConfig(
            iterations=10,
            sequences_per_iteration=64,
            search=SearchConfig(num_children=16, reward_temperature=0.5, num_steps=25, tilt_base="prior"),
            distill=DistillConfig(objective="children"),
            inner_epochs=8,
            gradient_clip=1.0,
            target_kl=8.0,
            pilot_sequences=16,
            holdout_fraction=0.125,
            patience=2,
            min_naturalness=0.925,
            stop_patience=2,
            backtrack=True,
            back_off=4,
            eval_sequences=512,
            eval_steps=50,
            warm_start_steps=1600,
        )
    if name == "quick":
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
