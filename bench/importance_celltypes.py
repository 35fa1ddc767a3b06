"""A candidate single align recipe for every cell type: the importance E-step fitted step by step with DAV-KL.

The recipe is ``bench/dav_budget.py``'s ``is_k4_t3_kl`` (the best plain model found at one reward budget,
docs/benchmarks.md "DAV at one training budget") without the budget, under the default recipe's selection:

* E-step: ``--search-mode importance`` over the current model (``tilt_base="model"``): B·M = 256 × 4 whole
  plain paths of T = 16 steps, one reward call each, 256 resampled by exp(r/α) at a fixed α = 0.2 nats on the
  bounded reward ``softmin(<target> - max(<others>), 0)`` (log σ of the margin over the strongest off-target);
* M-step: ``transitions`` (every kept path's step-by-step law), 3 passes at batch 64, lr 1e-3, no gradient
  clip, DAV-KL λ = 0.25 towards the frozen prior;
* selection as the default recipe: at most 10 iterations, 512 plain samples at 50 steps per iteration, keep
  the best reward-oracle median whose 3-mer correlation to the validation split (chr2) is ≥ 0.92, undo an
  iteration under it (backtracking), stop after two in a row, back off 4 bisections toward the rejected ones.

Only the cell type changes between runs. Each run's folder is a normal ``dnadav align`` run (model.pt, card
inputs, history.json); judge its model with ``bench/align_celltypes.py`` from a checkout that holds it.

    python bench/importance_celltypes.py --cell-types k562 gm12878 [--seed 0] [--runs runs/importance_celltypes]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from align_celltypes import CELL_TYPES, margin_objective  # noqa: E402
from dav_budget import aligned_history  # noqa: E402

from dnadav.core.distill import DistillConfig  # noqa: E402
from dnadav.core.search import SearchConfig  # noqa: E402
from dnadav.dna.config import AlignConfig  # noqa: E402
from dnadav.dna.presets import preset  # noqa: E402

LOG_KEYS = (
    "estep/ess", "plain/eval_accessibility_accuracy", "plain/eval_specificity", "select/kmer3_validation",
    "plain/kmer3_correlation", "plain/levenshtein_diversity", "plain/reward_median", "select/eligible",
    "select/kept_iteration",
)  # fmt: skip


def recipe(cell: str, seed: int) -> AlignConfig:
    """The candidate recipe for one cell type: the default preset's selection with the importance E-step and
    the DAV-KL transitions M-step (module docstring)."""
    return dataclasses.replace(
        preset("default"),
        oracle=cell,
        objective=f"softmin({margin_objective(cell)}, 0)",
        seed=seed,
        sequences_per_iteration=256,
        search=SearchConfig(num_children=4, reward_temperature=0.2, num_steps=16, mode="importance", tilt_base="model"),
        distill=DistillConfig(objective="transitions", kl_weight=0.25),
        inner_epochs=3,
        batch_size=64,
        gradient_clip=None,
        target_kl=None,
        holdout_fraction=0.0,
    )


def run(cell: str, seed: int, runs: Path) -> list[dict]:
    """Align ``cell`` with the recipe into ``runs/<cell>_seed<seed>`` (resumed if cut) and return its history."""
    return aligned_history(recipe(cell, seed), runs / f"{cell}_seed{seed}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cell-types", nargs="+", default=list(CELL_TYPES), choices=CELL_TYPES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", type=Path, default=Path("runs/importance_celltypes"))
    args = parser.parse_args()
    for cell in args.cell_types:
        for record in run(cell, args.seed, args.runs):
            shown = {k: round(v, 4) if isinstance(v, float) else v for k, v in record.items() if k in LOG_KEYS}
            print(json.dumps({"cell": cell, "iteration": record.get("iteration"), **shown}), flush=True)


if __name__ == "__main__":
    main()
