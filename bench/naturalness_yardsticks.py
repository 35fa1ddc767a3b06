"""How far does each naturalness yardstick track the test one? For the prior and every saved iteration
of an align run (``--keep-iterations``): plain samples (``--n`` per set, 50 steps, one set per seed)
and their 3-mer correlation to five references of the target cell type — the test reference (chr1,
top 500 by the evaluation oracle: what the benchmarks judge with), chr1 ranked by DHS signal instead
(the test chromosome ranked as validation is: test minus this is the ranking's share of a gap, this
minus validation the chromosome's), the validation reference a run selects on (chr2, top 500 by DHS
signal), chr2 ranked by the *reward* oracle instead, and all of chr2.

    python bench/naturalness_yardsticks.py RUN_DIR --oracle hesc [--seeds 0 1 2 3 4] [--n 256]
    python bench/naturalness_yardsticks.py --models models/hesc_aligned models/dhs_prior --oracle hesc

Prints one JSON line per (model, seed) and, with several seeds, the pooled correlation. No output
file: the figures quoted in docs/concepts.md ("Fourth round") came from this script.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from dnadav.data.dhs import CELL_TYPES, load_dhs
from dnadav.dna.checkpoint import load_denoiser, model_schedule
from dnadav.dna.sampler import sample
from dnadav.dna.tokens import tokens_to_strings
from dnadav.evaluate.metrics import kmer_correlation
from dnadav.evaluate.reference import rank_by_oracle, reference_sequences, validation_reference
from dnadav.jobs.align import kept_iterations
from dnadav.oracles import load_oracle

ROOT = Path(__file__).resolve().parent.parent


def references(oracle_name: str, size: int = 500) -> dict[str, list[str]]:
    reward = load_oracle(oracle_name, role="reward")
    cell = reward.target
    table = load_dhs("valid", cell)
    by_reward = table["sequence"].to_numpy()[rank_by_oracle(table, reward)[:size]].tolist()
    return {
        "test": reference_sequences(cell, "eval", size, oracle_name),
        "test_signal": reference_sequences(cell, "signal", size),
        "valid_signal": validation_reference(reward, size),
        "valid_reward": by_reward,
        "valid_all": table["sequence"].tolist(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, nargs="?", help="an align run folder with iterations/iteration-K")
    parser.add_argument("--oracle", required=True, choices=sorted(c.lower() for c in CELL_TYPES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--n", type=int, default=256, help="plain samples per set")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--models", nargs="+", type=Path, default=None, help="model folders instead of RUN's iterations")
    args = parser.parse_args()
    if (args.run is None) == (args.models is None):
        parser.error("give a run folder or --models, not both")
    refs = references(args.oracle)
    iterations = [] if args.run is None else [folder for _, folder in kept_iterations(args.run)]
    for folder in args.models or [ROOT / "models" / "dhs_prior", *iterations]:
        network, config = load_denoiser(folder)
        length, pooled = int(config.get("length", 200)), []
        for seed in args.seeds:
            generator = torch.Generator().manual_seed(seed)
            tokens = sample(network, args.n, length, args.steps, model_schedule(config), generator, "cpu")
            strings = tokens_to_strings(tokens)
            pooled += strings
            row = {name: round(kmer_correlation(strings, ref), 4) for name, ref in refs.items()}
            print(json.dumps({"model": folder.name, "seed": seed, **row}), flush=True)
        if len(args.seeds) > 1:
            row = {name: round(kmer_correlation(pooled, ref), 4) for name, ref in refs.items()}
            print(json.dumps({"model": folder.name, "seed": "pooled", **row}), flush=True)


if __name__ == "__main__":
    main()
