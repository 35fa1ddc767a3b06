"""DAV at the cpu profile's one training budget, spent in other ways: what its plain model reaches.

The cpu table (bench/bench_methods.py --cpu) trains DAV with 4,096 reward calls as one iteration of
64 sequences × M = 4 × T = 16 and two passes of the transition M-step: 25 % ATAC-Acc. Reward calls are
the E-step's (every child's x̂0 scored once per step; measured, ``estep/oracle_calls`` in history.json);
M-step passes cost none. Each allocation below spends at most the same 4,096 calls (fixed α, no
trust-region pilot), from ``dhs_prior`` with the ``hepg2`` reward oracle, and its last iteration's plain
model is judged on ``--eval`` plain samples (T = 16, the cpu profile's sampler): evaluation-oracle
accessibility, 3-mer correlation to the top-500 held-out chr1 HepG2 reference, Levenshtein diversity.
Nothing is selected: the last iteration is the model. The search allocations value every child's x̂0
(K·B·M·T calls) on the log-odds at α = 0.5; the ``is_`` ones are the importance-sampling E-step
(``--search-mode importance``: B·M whole plain paths per iteration, one call each, B resampled; K·B·M
calls) on the reward oracle's class log-probability ``softmin(hepg2, 0)`` (docs/concepts.md, "An
importance-sampling E-step"). The ``warm`` ones first spend part of the budget on a warm start (``dnadav align
--warm-start``): a random pool of training sequences (all four cell types) scored once each, 4,096 resampled by
exp(r/α) at α solved for a Kish ESS fraction of the pool, and the prior fitted to them with its NELBO; the
iterations then start from and anchor to that model (docs/concepts.md, "A warm start from the training data").

    python bench/dav_budget.py [--seeds 0 1 2] [--allocations NAME ...] [--eval 256] [--cached] [--no-write]

``--cached`` tabulates only the runs already in ``--runs`` (each row says which seeds it averages). Rows of
allocations not measured by the call are kept as docs/benchmarks.md last had them (runs are not committed).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmarks_md import machine, mean_sd, section_rows, write_section  # noqa: E402

from dnadav.core.distill import DistillConfig  # noqa: E402
from dnadav.core.search import SearchConfig  # noqa: E402
from dnadav.dna.config import AlignConfig  # noqa: E402

SECTION = "DAV at one training budget, spent other ways (issue 20)"
BUDGET = 4096
STEPS = 16


@dataclass(frozen=True)
class Allocation:
    """K iterations × B sequences × M children (search) or paths per kept sequence (importance)."""

    iterations: int
    sequences: int
    children: int
    mstep: str  # the M-step loss
    passes: int
    holdout: float = 0.0
    mode: str = "per_sequence"
    alpha: float = 0.5
    objective: str | None = None  # None: the reward oracle's log-odds
    batch_size: int = 128
    kl_weight: float = 0.0  # DAV-KL's λ: each fitted step pulled towards the prior's
    target_ess: float | None = None  # importance: α solved per iteration for this ESS fraction (alpha unused)
    mstep_floor: float | None = None  # the last of `passes` M-step passes whose validation 3-mer is ≥ this is kept
    warm_pool: int = 0  # warm start: this many training sequences scored (reward calls) and fitted first; 0: none
    warm_steps: int = 1600  # the warm start's optimiser steps (no reward call)
    warm_ess: float = 0.2  # the warm start's α solved for this Kish ESS fraction of the pool

    @property
    def calls(self) -> int:
        per_path = 1 if self.mode == "importance" else STEPS
        return self.iterations * self.sequences * self.children * per_path + self.warm_pool

    def config(self) -> AlignConfig:
        search = SearchConfig(
            num_children=self.children,
            reward_temperature=self.alpha,
            num_steps=STEPS,
            record_children=self.mstep == "children",
            mode=self.mode,
            target_ess=self.target_ess,
        )
        return AlignConfig(
            iterations=self.iterations,
            sequences_per_iteration=self.sequences,
            search=search,
            distill=DistillConfig(objective=self.mstep, kl_weight=self.kl_weight),
            inner_epochs=self.passes,
            holdout_fraction=self.holdout,
            patience=2,
            gradient_clip=None if self.mstep == "transitions" else 1.0,
            batch_size=self.batch_size,
            eval_steps=STEPS,
            objective=self.objective,
            mstep_min_naturalness=self.mstep_floor,
            warm_start_steps=self.warm_steps if self.warm_pool else 0,
            warm_start_pool=self.warm_pool or None,
            warm_start_ess=self.warm_ess,
        )


POSTERIOR = "softmin(hepg2, 0)"  # log σ(log-odds): the reward oracle's log p(HepG2 | x)
# the best allocation measured (session 13); the ones after it change one field of it
IS_K4_T3_KL = Allocation(
    4, 256, 4, "transitions", 3, mode="importance", alpha=0.2, objective=POSTERIOR, batch_size=64, kl_weight=0.25
)
ALLOCATIONS = {
    "table": Allocation(1, 64, 4, "transitions", 2),  # the cpu table's DAV row
    "k1_children": Allocation(1, 64, 4, "children", 8, 0.125),
    "k2_b32_m4": Allocation(2, 32, 4, "children", 8, 0.125),
    "k4_b16_m4": Allocation(4, 16, 4, "children", 8, 0.125),
    "k2_b64_m2": Allocation(2, 64, 2, "children", 8, 0.125),
    "k4_b32_m2": Allocation(4, 32, 2, "children", 8, 0.125),
    "is_k3_b341_m4": Allocation(3, 341, 4, "nelbo", 7, mode="importance", alpha=0.2, objective=POSTERIOR, batch_size=64),
    "is_k2_b512_m4": Allocation(2, 512, 4, "nelbo", 5, mode="importance", alpha=0.2, objective=POSTERIOR, batch_size=64),
    "is_k3_b341_m4_p3": Allocation(3, 341, 4, "nelbo", 3, mode="importance", alpha=0.2, objective=POSTERIOR, batch_size=64),
    "is_k4_b256_m4_p3": Allocation(4, 256, 4, "nelbo", 3, mode="importance", alpha=0.2, objective=POSTERIOR, batch_size=64),
    "is_k4_t3": Allocation(4, 256, 4, "transitions", 3, mode="importance", alpha=0.2, objective=POSTERIOR, batch_size=64),
    "is_k4_t3_kl": IS_K4_T3_KL,
    "is_k5_t3_kl": dataclasses.replace(IS_K4_T3_KL, iterations=5, sequences=204),
    "is_k4_t3_kl015": dataclasses.replace(IS_K4_T3_KL, kl_weight=0.15),
    "is_k4_t3_kl04": dataclasses.replace(IS_K4_T3_KL, kl_weight=0.4),
    "is_k4_t6_kl": dataclasses.replace(IS_K4_T3_KL, passes=6),
    "is_k4_t3_kl_ess10": dataclasses.replace(IS_K4_T3_KL, target_ess=0.1),
    "is_k4_t3_kl_a015": dataclasses.replace(IS_K4_T3_KL, alpha=0.15),
    # up to 6 passes, the last whose plain samples' 3-mer to the validation split (chr2) is ≥ 0.92 kept (no reward call)
    "is_k4_g6_kl": dataclasses.replace(IS_K4_T3_KL, passes=6, mstep_floor=0.92),
    "is_k4_g6": dataclasses.replace(IS_K4_T3_KL, passes=6, mstep_floor=0.92, kl_weight=0.0),  # the guard without the anchor
    "is_k4_g3_kl": dataclasses.replace(IS_K4_T3_KL, mstep_floor=0.92),  # the guard on the best allocation's own 3 passes
    # twice the kept paths (512 of the same 1,024 per iteration, same reward calls), fitted in twice the batch: the same
    # optimiser steps over up to twice the distinct sequences once the model is near its target (ESS > 256)
    "is_k4_b512_m2_t3_kl": dataclasses.replace(IS_K4_T3_KL, sequences=512, children=2, batch_size=128),
    # a warm start first (issue 20, session 18): 2,048 random training sequences scored, 4,096 resampled at ESS 0.2 and
    # fitted for 1,600 steps with the prior's NELBO; then two importance iterations of 1,024 paths anchored to it
    "warm2048_is_k2_t3_kl": dataclasses.replace(IS_K4_T3_KL, iterations=2, warm_pool=2048),
    "warm1024_is_k3_t3_kl": dataclasses.replace(IS_K4_T3_KL, iterations=3, warm_pool=1024),
}


def aligned_history(config: AlignConfig, folder: Path, **options) -> list[dict]:
    """``dnadav.jobs.align.align(config, folder, **options)`` unless ``folder`` already holds a finished run
    (a cut one resumes), its wall seconds in ``folder/wall_seconds.txt``; -> the run's history."""
    from dnadav.jobs.align import align

    if not (folder / "history.json").is_file():
        started = time.time()
        align(config, folder, progress=False, **options)
        (folder / "wall_seconds.txt").write_text(f"{time.time() - started:.1f}\n")
    return json.loads((folder / "history.json").read_text())


def run(name: str, seed: int, eval_n: int, runs: Path) -> dict:
    spend = ALLOCATIONS[name]
    config = dataclasses.replace(spend.config(), seed=seed, eval_sequences=eval_n)
    assert spend.calls <= BUDGET, (name, spend.calls)
    folder = runs / f"{name}_seed{seed}"
    history = aligned_history(config, folder, max_batch=None)
    last, spent = history[-1], sum(r["estep/oracle_calls"] for r in history) + spend.warm_pool
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
    parser.add_argument("--cached", action="store_true", help="only the runs already in --runs; start none")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    done = lambda name, seed: (args.runs / f"{name}_seed{seed}" / "history.json").is_file()  # noqa: E731
    jobs = [(name, seed) for name in args.allocations for seed in args.seeds if not args.cached or done(name, seed)]
    rows = [run(name, seed, args.eval, args.runs) for name, seed in jobs]
    for row in rows:
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
    lines = ["| allocation | E-step | K × B × M × T | M-step | seeds | reward calls | ATAC-Acc | 3-mer | Levenshtein "
             "| s per run |", "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    earlier = section_rows(SECTION)  # rows of allocations not measured now stay as last written
    for name in ALLOCATIONS:
        mine = [r for r in rows if r["allocation"] == name]
        if not mine:
            lines += [earlier[name]] if name in earlier and not args.no_write else []
            continue
        a = ALLOCATIONS[name]

        def cell(key: str, digits: int = 3) -> str:
            return mean_sd([float(r[key]) for r in mine], digits)

        tilt = f"ESS {a.target_ess:g} · N" if a.target_ess else f"α {a.alpha:g}"
        estep = f"{'importance' if a.mode == 'importance' else 'search'}, {a.objective or 'log-odds'}, {tilt}"
        if a.warm_pool:  # the warm start's E-step over data comes first (its calls are in the reward calls)
            estep = f"warm start ({a.warm_pool:,} training sequences, ESS {a.warm_ess:g}, {a.warm_steps} steps), then {estep}"
        mstep = f"{a.mstep}, {a.passes} passes" + (f", held-out {a.holdout:g}" if a.holdout else "") + f", batch {a.batch_size}"
        mstep += f", DAV-KL λ {a.kl_weight:g}" if a.kl_weight else ""
        mstep += f", last pass at validation 3-mer ≥ {a.mstep_floor:g} kept" if a.mstep_floor is not None else ""
        seeds_of = ", ".join(str(r["seed"]) for r in mine)
        shape = f"{a.iterations} × {a.sequences} × {a.children} × {STEPS}"
        lines.append(f"| {name} | {estep} | {shape} | {mstep} | {seeds_of} | {cell('reward_calls', 0)} | {cell('atac_acc')} | "
                     f"{cell('kmer3')} | {cell('levenshtein', 1)} | {cell('seconds', 0)} |")  # fmt: skip
    table = "\n".join(lines)
    print(table)
    if not args.no_write:
        seeds = " ".join(map(str, args.seeds))
        about = __doc__.split("\n\n")[1]
        cached = " --cached" if args.cached else ""
        chosen = "" if args.allocations == list(ALLOCATIONS) else " --allocations " + " ".join(args.allocations)
        body = (f"Command: `python bench/dav_budget.py --seeds {seeds}{chosen} --eval {args.eval}{cached}`; rows of "
                f"allocations it did not name are kept as an earlier call wrote them. Machine: {machine()}.\n"
                f"{about}\n\nMean ± sd over the seeds each row names; {args.eval} plain samples per model.\n\n"
                f"{table}\n")  # fmt: skip
        write_section(SECTION, body)


if __name__ == "__main__":
    main()
