"""Designs from a model with and without the E-step search, judged as the align log judges plain samples
(issue 20: what search adds where the fitted model stops).

    python bench/search_vs_plain.py --cell-type gm12878 --alpha 1.0 \\
        --runs dhs_prior:2 dhs_prior:4 dhs_prior:16 gm12878_aligned:0 gm12878_aligned:2 gm12878_aligned:4
    python bench/search_vs_plain.py --n 8 --steps 4 --runs dhs_prior:2    # smoke run

Each ``MODEL:M`` is ``dnadav.design`` of ``--n`` sequences (``--steps`` reverse steps, seed ``--seed``) with M
children per step at reward temperature ``--alpha`` (M = 0: plain sampling), for the margin objective of
``bench/align_celltypes.py``. Scored by the evaluation oracle (accessibility: probability > 0.5; specificity),
3-mer correlation to the validation (chr2) and test (chr1) references, mean pairwise Levenshtein. Prints one
JSON line per run; nothing is written.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from align_celltypes import CELL_TYPES, margin_objective  # noqa: E402


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
    from dnadav.dna.tokens import strings_to_onehot
    from dnadav.evaluate.metrics import kmer_correlation, mean_pairwise_levenshtein
    from dnadav.evaluate.reference import reference_for_oracle, validation_reference
    from dnadav.loaders import load_oracle
    from dnadav.objectives import class_logits, specificity_report

    eval_oracle = load_oracle(args.cell_type, role="eval").eval()
    test_reference = reference_for_oracle(eval_oracle)
    valid_reference = validation_reference(load_oracle(args.cell_type, role="reward"))
    for run in args.runs:
        model, _, children = run.rpartition(":")
        started = time.perf_counter()
        designs = api.design(
            oracle=args.cell_type, n=args.n, model=model, seed=args.seed, steps=args.steps,
            children=int(children), temperature=args.alpha, objective=margin_objective(args.cell_type),
        ).sequences  # fmt: skip
        onehot = strings_to_onehot(designs)
        with torch.no_grad():
            accessible = float((eval_oracle.probability(onehot) > 0.5).float().mean())
            report = specificity_report(class_logits(eval_oracle, onehot), tuple(eval_oracle.class_names), eval_oracle.target)
        row = {
            "model": model, "children": int(children), "alpha": args.alpha, "n": args.n,
            "accessibility": round(accessible, 3), "specificity": round(float(report.specificity), 3),
            "kmer3_valid": round(kmer_correlation(designs, valid_reference), 3),
            "kmer3_test": round(kmer_correlation(designs, test_reference), 3),
            "levenshtein": round(mean_pairwise_levenshtein(designs), 1),
            "seconds": round(time.perf_counter() - started),
        }  # fmt: skip
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
