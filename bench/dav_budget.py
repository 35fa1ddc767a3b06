"""DAV at the cpu profile's one training budget, spent in other ways: what its plain model reaches.

The cpu table (bench/bench_methods.py --cpu) trains DAV with 4,096 reward calls as one iteration of
64 sequences × M = 4 × T = 16 and two passes of the transition M-step: 25 % ATAC-Acc. Reward calls are
the E-step's (every child's x̂0 scored once per step; measured, ``estep/oracle_calls`` in history.json);
M-step passes cost none. Each allocation below spends at most the same 4,096 calls (fixed α = 0.5, no
trust-region pilot), from ``dhs_prior`` with the ``hepg2`` reward oracle, and its last iteration's plain
model is judged on ``--eval`` plain samples (T = 16, the cpu profile's sampler): evaluation-oracle
accessibility, 3-mer correlation to the top-500 held-out chr1 HepG2 reference, Levenshtein diversity.
Nothing is selected: the last iteration is the model.

    python bench/dav_budget.py [--seeds 0 1 2] [--allocations NAME ...] [--eval 256] [--no-write]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmarks_md import machine, mean_sd, write_section  # noqa: E402

from dnadav.core.distill import DistillConfig  # noqa: E402
from dnadav.core.search import SearchConfig  # noqa: E402
from dnadav.dna.config import AlignConfig  # noqa: E402

BUDGET = 4096
STEPS = 16


def allocation(iterations: int, sequences: int, children: int, objective: str, passes: int, holdout: float) -> AlignConfig:
    return AlignConfig(
        iterations=iterations,
        sequences_per_iteration=sequences,
        search=SearchConfig(
            num_children=children, reward_temperature=0.5, num_steps=STEPS, record_children=objective == "children"
        ),
        distill=DistillConfig(objective=objective),
        inner_epochs=passes,
        holdout_fraction=holdout,
        patience=2,
        gradient_clip=1.0 if objective == "children" else None,
        eval_steps=STEPS,
    )


ALLOCATIONS = {  # name -> (K iterations, B sequences, M children, M-step loss, passes, held-out fraction)
    "table": (1, 64, 4, "transitions", 2, 0.0),  # the cpu table's DAV row
    "k1_children": (1, 64, 4, "children", 8, 0.125),
    "k2_b32_m4": (2, 32, 4, "children", 8, 0.125),
    "k4_b16_m4": (4, 16, 4, "children", 8, 0.125),
    "k2_b64_m2": (2, 64, 2, "children", 8, 0.125),
    "k4_b32_m2": (4, 32, 2, "children", 8, 0.125),
}


def run(name: str, seed: int, eval_n: int, runs: Path) -> dict:
    from dnadav.jobs.align import align

    config = dataclasses.replace(allocation(*ALLOCATIONS[name]), seed=seed, eval_sequences=eval_n)
    calls = config.iterations * config.sequences_per_iteration * config.search.num_children * STEPS
    assert calls <= BUDGET, (name, calls)
    folder = runs / f"{name}_seed{seed}"
    if not (folder / "history.json").is_file():
        started = time.time()
        align(config, folder, progress=False, max_batch=None)
        (folder / "wall_seconds.txt").write_text(f"{time.time() - started:.1f}\n")
    history = json.loads((folder / "history.json").read_text())
    last, spent = history[-1], sum(r["estep/oracle_calls"] for r in history)
    return {
        "allocation": name,
        "seed": seed,
        "reward_calls": spent,
        "atac_acc": last["plain/eval_accessibility_accuracy"],
        "kmer3": last["plain/kmer3_correlation"],
        "levenshtein": last["plain/levenshtein_diversity"],
        "seconds": float((folder / "wall_seconds.txt").read_text()) if (folder / "wall_seconds.txt").is_file() else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--allocations", nargs="+", default=list(ALLOCATIONS), choices=list(ALLOCATIONS))
    parser.add_argument("--eval", type=int, default=256)
    parser.add_argument("--runs", type=Path, default=Path("runs/dav_budget"))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    rows = [run(name, seed, args.eval, args.runs) for name in args.allocations for seed in args.seeds]
    for row in rows:
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
    lines = ["| allocation | K × B × M × T | M-step | reward calls | ATAC-Acc | 3-mer | Levenshtein | s per run |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for name in args.allocations:
        mine = [r for r in rows if r["allocation"] == name]
        k, b, m, objective, passes, holdout = ALLOCATIONS[name]

        def cell(key: str, digits: int = 3) -> str:
            return mean_sd([float(r[key]) for r in mine], digits)

        mstep = f"{objective}, {passes} passes" + (f", held-out {holdout:g}" if holdout else "")
        lines.append(f"| {name} | {k} × {b} × {m} × {STEPS} | {mstep} | {cell('reward_calls', 0)} | {cell('atac_acc')} | "
                     f"{cell('kmer3')} | {cell('levenshtein', 1)} | {cell('seconds', 0)} |")  # fmt: skip
    table = "\n".join(lines)
    print(table)
    if not args.no_write:
        seeds = " ".join(map(str, args.seeds))
        about = __doc__.split("\n\n")[1]
        body = (f"Command: `python bench/dav_budget.py --seeds {seeds} --eval {args.eval}`. Machine: {machine()}.\n"
                f"{about}\n\nMean ± sd over seeds {seeds}; {args.eval} plain samples per model.\n\n{table}\n")  # fmt: skip
        write_section("DAV at one training budget, spent other ways (issue 20)", body)


if __name__ == "__main__":
    main()
