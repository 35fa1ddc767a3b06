"""How noisy is the figure an align run selects on? A finished run's model judged on fresh draws (issue 20).

    python bench/selection_noise.py RUN [--seeds 101 102 103] [--reference FILE]

``dnadav align`` keeps the best iteration (or back-off point) whose plain samples, one draw of
``eval_sequences`` on a fixed seed, clear the validation 3-mer floor. This script draws the same number of
plain samples from ``RUN``'s model (``model.pt``, or any folder with its config) on other seeds, through the
run's own judge (``dnadav.jobs.align_judge.run_judge``: reward oracle, validation split, the judged test
reference), and prints one JSON line per seed and one with the mean and sd (ddof 1) of each figure: the
spread of the selection's figure, and whether the kept model meets its floor on draws the selection never saw.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch

SHOWN = ("select/kmer3_validation", "plain/kmer3_correlation", "plain/eval_accessibility_accuracy", "plain/eval_specificity",
         "plain/reward_median")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a finished align run (or a folder written by bench/back_off_run.py --save)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[101, 102, 103], help="one per draw (sd from two or more)")
    parser.add_argument("--reference", type=Path, help="the run's --reference file, when it was given one")
    args = parser.parse_args()

    from dnadav.checkpoint_format import read_config
    from dnadav.dna.checkpoint import load_denoiser
    from dnadav.dna.config import AlignConfig
    from dnadav.jobs.align_judge import run_judge

    torch.set_grad_enabled(False)
    saved = read_config(args.run)
    config = AlignConfig.from_dict(saved["align_config"])
    judge = run_judge(config, args.reference)
    model, _ = load_denoiser(args.run)
    rows = []
    for seed in args.seeds:
        record = judge.metrics_of(model, torch.Generator("cpu").manual_seed(seed))
        rows.append({k: record[k] for k in SHOWN})
        print(json.dumps({"run": str(args.run), "seed": seed, **{k: round(v, 4) for k, v in rows[-1].items()}}), flush=True)
    columns = {k: [r[k] for r in rows] for k in SHOWN}
    spread = {k: [round(statistics.mean(v), 4), round(statistics.stdev(v), 4) if len(v) > 1 else None]
              for k, v in columns.items()}  # fmt: skip
    print(json.dumps({"run": str(args.run), "n": config.eval_sequences, "floor": config.min_naturalness, "mean_sd": spread}))


if __name__ == "__main__":
    main()
