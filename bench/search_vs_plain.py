"""Designs from a model with and without the E-step search, judged as the align log judges plain samples
(issue 20: what search adds where the fitted model stops).

    python bench/search_vs_plain.py --cell-type gm12878 --alpha 1.0 \\
        --runs dhs_prior:2 dhs_prior:4 dhs_prior:16 gm12878_aligned:0 gm12878_aligned:2 gm12878_aligned:4
    python bench/search_vs_plain.py --n 8 --steps 4 --runs dhs_prior:2    # smoke run

Each ``MODEL:M`` is ``dnadav.design`` of ``--n`` sequences (``--steps`` reverse steps, seed ``--seed``) with M
children per step at reward temperature ``--alpha`` (M = 0: plain sampling), for the margin objective of
``bench/align_celltypes.py``. Scored by ``dnadav.jobs.align_metrics.metrics_of_tokens`` (the align log's
figures): evaluation-oracle accessibility (probability > 0.5) and specificity, reward-oracle median, 3-mer
correlation to the validation (chr2) and test (chr1) references, mean pairwise Levenshtein; the columns of
``bench/mstep_passes.py``. Prints one JSON line per run; nothing is written.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from align_celltypes import CELL_TYPES, margin_objective  # noqa: E402
from mstep_passes import SHOWN, judging  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cell-type", choices=CELL_TYPES, default="gm12878")
    parser.add_argument("--alpha", type=float, default=1.0, help="reward temperature of the search (nats)")
    parser.add_argument("--runs", nargs="+", required=True, help="MODEL:M pairs (M = 0: plain sampling)")
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from dnadav import api
    from dnadav.dna.tokens import strings_to_tokens
    from dnadav.jobs.align_metrics import metrics_of_tokens

    prior, schedule, eval_oracle, reward_fn, eval_reward_fn, test_reference, valid_reference = judging(args.cell_type)
    for run in args.runs:
        model, _, children = run.rpartition(":")
        started = time.perf_counter()
        designs = api.design(
            oracle=args.cell_type, n=args.n, model=model, seed=args.seed, steps=args.steps,
            children=int(children), temperature=args.alpha, objective=margin_objective(args.cell_type),
        ).sequences  # fmt: skip
        got = metrics_of_tokens(
            strings_to_tokens(designs), prior, reward_fn, eval_oracle, test_reference, schedule,
            eval_reward_fn, valid_reference,
        )  # fmt: skip
        row = {"model": model, "children": int(children), "alpha": args.alpha, "n": args.n}
        row |= {label: round(float(got[key]), 3) for key, label in SHOWN.items() if key in got}
        print(json.dumps({**row, "seconds": round(time.perf_counter() - started)}), flush=True)


if __name__ == "__main__":
    main()
