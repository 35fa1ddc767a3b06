"""How much of the warm start's naturalness is its seed? (issue 20)

The default align recipe starts from a warm start (``dnadav.core.warm_start``): the prior fitted for 1600
AdamW steps to 4,096 of its training sequences resampled by exp(r/α). The data it fits are the same at every
seed (the reward and α are deterministic; only the systematic resampling's offset moves), so the seeds differ
only in the fit's noise: batch order, masking times and dropout. This script fits the warm start of the shipped
HepG2 recipe (``models/hepg2_aligned/config.json``, only the seed and ``warm_start_average`` changed) at each
``--seeds`` × ``--tail-average`` and reads its validation naturalness: the 3-mer correlation of 512 plain
samples (50 steps, sampling seeds 0 and 1) to the reward oracle's validation split (chr2), the figure the run's
floor (0.925) keeps iterations by. The evaluation oracle and the test split are not read.

Each fit is kept in ``--runs``/``seed<S>_tail<A>/warm_start`` (an align run's own warm-start folder, so a
run there, or a fit copied from one, is read back instead of refitted). Rows: docs/runs/warm_start_noise.csv.
About 17 min per fit on 2 threads.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmarks_md import merge_csv_rows  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "models" / "hepg2_aligned" / "config.json"
ROWS = ROOT / "docs" / "runs" / "warm_start_noise.csv"
FIELDS = ["seed", "tail_average", "validation_kmer3_sampling_seed0", "validation_kmer3_sampling_seed1", "fit_seconds"]


def measure(seed: int, tail_average: float, runs: Path) -> dict:
    """Fit (or read back) the warm start at ``seed`` with ``tail_average`` -> its row."""
    from dnadav.dna.config import AlignConfig
    from dnadav.evaluate.reference import validation_reference
    from dnadav.jobs.align_judge import run_judge
    from dnadav.jobs.align_metrics import validation_naturalness
    from dnadav.jobs.align_warm import warm_started_prior

    recorded = json.loads(CONFIG.read_text())["align_config"]
    config = AlignConfig.from_dict({**recorded, "seed": seed, "warm_start_average": tail_average})
    judge = run_judge(config)
    model, record = warm_started_prior(config, judge, runs / f"seed{seed}_tail{tail_average:g}")
    validation = validation_reference(judge.reward_oracle)
    scores = [
        validation_naturalness(model, validation, config, judge.schedule, torch.Generator().manual_seed(sampling))
        for sampling in (0, 1)
    ]
    return dict(zip(FIELDS, [seed, tail_average, *[round(v, 4) for v in scores], round(record["seconds"], 1)], strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--tail-average", type=float, nargs="+", default=[0.0, 0.5])
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "warm_start_noise")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/runs alone")
    args = parser.parse_args()
    measured = (measure(seed, tail, args.runs) for seed in args.seeds for tail in args.tail_average)
    key_of = lambda row: (int(row["seed"]), float(row["tail_average"]))  # noqa: E731
    merge_csv_rows(ROWS, FIELDS, key_of, measured, write=not args.no_write)


if __name__ == "__main__":
    main()
