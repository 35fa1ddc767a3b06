"""Does the cpu profile's DRAKES-style run learn at every seed? Reward per step, averaged over blocks
of 16 steps, for each seed (the profile's config from ``bench_methods.drakes_config``).

    python bench/drakes_seeds.py [--seeds 0 1 2] [--steps 96]

Prints one line per seed; ``--steps`` cuts the run short of the profile's budget (256 steps), which is
enough to see whether the reward rises.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_methods import QUICK, drakes_config  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=96)
    args = parser.parse_args()
    from dnadav.baselines.drakes import finetune
    from dnadav.dna.checkpoint import load_denoiser, model_schedule
    from dnadav.oracles import load_oracle

    prior, prior_config = load_denoiser("dhs_prior", "cpu")
    oracle = load_oracle("hepg2", "reward").eval()
    for seed in args.seeds:
        config = dataclasses.replace(drakes_config(QUICK, seed), iterations=args.steps)
        with torch.enable_grad():
            history = finetune(prior, oracle.reward, 200, config, model_schedule(prior_config), "cpu")[1]
        blocks = [statistics.mean(h["reward"] for h in history[i : i + 16]) for i in range(0, len(history), 16)]
        print(f"seed {seed}: reward per 16 steps " + " ".join(f"{r:.2f}" for r in blocks), flush=True)


if __name__ == "__main__":
    main()
