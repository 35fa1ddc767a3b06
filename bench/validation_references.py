"""Which validation (chr2) reference tracks the judge's test (chr1) reference? (issue 20: the floor of
``dnadav align --min-naturalness``.)

    python bench/validation_references.py --cell-type gm12878 --models dhs_prior RUN/iterations/iteration-1 …
    python bench/validation_references.py --cell-type hepg2 --models dhs_prior --n 16   # smoke run

For each model: ``--n`` plain samples (``--steps`` reverse steps, seed 0), the evaluation oracle's
accessibility (probability > 0.5) and the 3-mer correlation of the samples to four references of the
cell type:

* ``val_signal``: the top 500 chr2 sequences by DHS total signal — what ``align`` selects on
  (``dnadav.evaluate.reference.validation_reference``);
* ``val_all``: every chr2 sequence of the cell type, unranked;
* ``val_reward``: the top 500 chr2 sequences by the *reward* oracle (the judge's construction with the
  run's own oracle);
* ``test_eval``: the judge's reference, the top 500 chr1 sequences by the evaluation oracle.

Prints one JSON line per model and appends it to ``--csv`` (default docs/runs/validation_references.csv).
The test split is read here to describe the proxies, never by a run.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import torch

from dnadav.data.dhs import load_dhs
from dnadav.dna.checkpoint import load_denoiser, model_length, model_schedule
from dnadav.dna.sampler import sample
from dnadav.dna.tokens import strings_to_onehot, tokens_to_strings
from dnadav.evaluate.metrics import accessibility_accuracy, kmer_correlation
from dnadav.evaluate.reference import rank_by_oracle, reference_for_oracle, validation_reference
from dnadav.loaders import load_oracle

ROOT = Path(__file__).resolve().parent.parent
FIELDS = ["cell_type", "model", "n", "steps", "eval_accessible", "val_signal", "val_all", "val_reward", "test_eval"]


def references(cell_type: str) -> tuple[object, dict[str, list[str]]]:
    """The evaluation oracle and the four references of ``cell_type`` (see the module docstring)."""
    reward_oracle = load_oracle(cell_type, role="reward").eval()
    eval_oracle = load_oracle(cell_type, role="eval").eval()
    table = load_dhs("valid", reward_oracle.target)
    by_reward = table["sequence"].to_numpy()[rank_by_oracle(table, reward_oracle)[:500]].tolist()
    return eval_oracle, {
        "val_signal": validation_reference(reward_oracle),
        "val_all": table["sequence"].tolist(),
        "val_reward": by_reward,
        "test_eval": reference_for_oracle(eval_oracle),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cell-type", required=True, choices=["hepg2", "k562", "gm12878", "hesc"])
    parser.add_argument("--models", nargs="+", required=True, help="shipped model names or model folders")
    parser.add_argument("--n", type=int, default=512, help="plain samples per model")
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--csv", type=Path, default=ROOT / "docs" / "runs" / "validation_references.csv")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    eval_oracle, refs = references(args.cell_type)
    new_file = not args.csv.exists()
    with args.csv.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, FIELDS)
        if new_file:
            writer.writeheader()
        for name in args.models:
            model, config = load_denoiser(name)  # each model's own length and schedule (its config)
            length, schedule = model_length(config) or 200, model_schedule(config)
            tokens = sample(model.eval(), args.n, length, args.steps, schedule, torch.Generator().manual_seed(0))
            strings = tokens_to_strings(tokens)
            row = {"cell_type": args.cell_type, "model": name, "n": args.n, "steps": args.steps}
            row["eval_accessible"] = round(accessibility_accuracy(eval_oracle.probability(strings_to_onehot(strings))), 4)
            row.update({key: round(kmer_correlation(strings, ref, k=3), 4) for key, ref in refs.items()})
            writer.writerow(row)
            handle.flush()
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
