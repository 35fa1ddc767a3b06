"""Run ``dnadav align`` for several recipes × cell types side by side and tabulate each run's per-iteration
log and its kept iteration (issue 20: one recipe for every cell type).

    python bench/align_recipes.py --recipes default kl4 b256 [--cell-types hepg2 k562 gm12878 hesc]
                                  [--parallel 10] [--accelerator gpu] [--runs runs/align_recipes] [--no-write]

Every run is the default recipe of ``dnadav align`` with the recipe's flags added and only
``--oracle``/``--objective`` changed between cell types (objective: the margin over the strongest other
cell type, or a recipe's wrapping of it). Runs go in parallel as separate processes (one torch thread
each), so a GPU with many CPU cores runs a whole grid in minutes; on 2 CPU cores each run takes about an
hour. A finished run (its ``history.json`` exists) is read back, not rerun. The table reads the runs'
own logs: 512 plain samples after every iteration, the kept iteration chosen by the validation floor
(chr2) alone. It is a screen: the shipped models are then judged by ``bench/align_celltypes.py``
(640 samples × 3 seeds). Writes ``docs/runs/align_recipes.csv`` and the section "align recipes" of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from align_celltypes import CELL_TYPES, NAMES, margin_objective  # noqa: E402
from benchmarks_md import write_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def distil_flags(alpha: str, sequences: str = "256", replay: str = "9", batch_size: str = "512") -> list[str]:
    """Distil the prior's own search at a fixed α: the prior proposes and scores every E-step (its law
    does not depend on the model), so each iteration adds independent draws of one target and the
    children M-step fits all of them (by default B = 256, replay 9); the selection rule as in the default recipe."""
    return [
        "--preset", "quick", "--tilt-base", "prior", "--proposal", "prior", "--m-step", "children",
        "--temperature", alpha, "--iterations", "10", "--sequences", sequences, "--replay", replay,
        "--children", "16", "--steps", "25", "--holdout", "0.125", "--patience", "2", "--inner-epochs", "8",
        "--batch-size", batch_size, "--gradient-clip", "1", "--min-naturalness", "0.92", "--stop-patience", "2",
        "--backtrack", "on", "--eval-sequences", "512", "--eval-steps", "50",
    ]  # fmt: skip


# name -> (extra `dnadav align` flags, objective template around the margin)
RECIPES: dict[str, tuple[list[str], str]] = {
    "default": ([], "{margin}"),
    "kl4": (["--target-kl", "4", "--iterations", "16"], "{margin}"),
    "b256": (["--sequences", "256"], "{margin}"),
    "kl4_b256": (["--target-kl", "4", "--iterations", "16", "--sequences", "256"], "{margin}"),
    "lr3e-4": (["--lr", "3e-4"], "{margin}"),
    "cap6": ([], "min({margin}, 6)"),
    "prior_proposal": (["--proposal", "prior"], "{margin}"),
    "replay3": (["--replay", "3"], "{margin}"),
    "replay9_b128": (["--replay", "9", "--sequences", "128"], "{margin}"),
    "replay3_mk1.5": (["--replay", "3", "--mstep-max-kl", "1.5"], "{margin}"),
    **{f"distil_a{alpha}": (distil_flags(alpha), "{margin}") for alpha in ("0.7", "1.0", "1.4")},
    # eight times the E-step's sequences per M-step (a GPU run): does the distillation gap close with data?
    "distil_a1.0_b2048": (distil_flags("1.0", "2048", "4", "2048"), "{margin}"),
}
LOGGED = {
    "alpha": "estep/reward_temperature",
    "drift_kl": "estep/drift_kl",
    "acc": "plain/eval_accessibility_accuracy",
    "spec": "plain/eval_specificity",
    "kmer3_valid": "select/kmer3_validation",
    "kmer3_test": "plain/kmer3_correlation",
    "levenshtein": "plain/levenshtein_diversity",
    "kept": "select/kept_iteration",
}


def align_command(recipe: str, cell: str, out: Path, accelerator: str, extra: list[str] = ()) -> list[str]:
    """The ``python -m dnadav align`` command line of one run (``extra`` flags before the recipe's)."""
    flags, template = RECIPES[recipe]
    objective = template.format(margin=margin_objective(cell))
    return [
        sys.executable,
        "-m",
        "dnadav",
        "align",
        "--oracle",
        cell,
        "--objective",
        objective,
        "--out",
        str(out),
        "--keep-iterations",
        "--quiet",
        "--accelerator",
        accelerator,
        *extra,
        *flags,
    ]


def run_one(command: list[str], out: Path) -> float:
    """Run (or resume) one align; returns its wall seconds (0 when it had finished before)."""
    if (out / "history.json").is_file():
        return 0.0
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")]))  # this checkout first
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": path}
    with open(f"{out}.log", "a") as log:
        subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env, check=False)
    return time.perf_counter() - started


def kept_row(history: list[dict]) -> tuple[int, dict | None]:
    """(kept iteration, its logged row) of a finished run's history; (0, None) when none was kept."""
    kept = int(history[-1].get(LOGGED["kept"], 0)) if history else 0
    return kept, (history[kept - 1] if kept >= 1 else None)


def table(results: dict[tuple[str, str], list[dict]], wall_minutes: dict[tuple[str, str], float]) -> str:
    """Markdown: one row per run, the kept iteration's logged figures (512 plain samples)."""
    lines = [
        "| recipe | cell type | iterations | kept | ATAC-Acc | specificity | 3-mer valid. (chr2) | 3-mer test (chr1) "
        "| Lev. div. | meets (512 samples) | wall min |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (recipe, cell), history in results.items():
        kept, row = kept_row(history)
        wall = f"{wall_minutes[(recipe, cell)]:.1f}"
        if row is None:
            lines.append(f"| {recipe} | {NAMES[cell]} | {len(history)} | none | | | | | | no | {wall} |")
            continue
        got = {k: float(row.get(v, float("nan"))) for k, v in LOGGED.items()}
        meets = got["acc"] >= 0.95 and got["spec"] >= 0.85 and got["kmer3_test"] >= 0.92
        lines.append(
            f"| {recipe} | {NAMES[cell]} | {len(history)} | {kept} | {got['acc']:.3f} | {got['spec']:.3f} | "
            f"{got['kmer3_valid']:.3f} | {got['kmer3_test']:.3f} | {got['levenshtein']:.1f} | "
            f"{'yes' if meets else 'no'} | {wall} |"
        )
    return "\n".join(lines)


def write_csv(results: dict[tuple[str, str], list[dict]], path: Path) -> None:
    """Every logged iteration of every run, one row each."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["recipe", "cell_type", "iteration", *LOGGED])
        for (recipe, cell), history in results.items():
            for i, row in enumerate(history, start=1):
                writer.writerow(
                    [recipe, cell, i, *(("" if row.get(v) is None else round(float(row[v]), 4)) for v in LOGGED.values())]
                )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipes", nargs="+", choices=sorted(RECIPES), default=["default", "kl4"])
    parser.add_argument("--cell-types", nargs="+", choices=CELL_TYPES, default=list(CELL_TYPES))
    parser.add_argument(
        "--only", nargs="+", default=None, metavar="RECIPE/CELL", help="only these runs of the grid, e.g. kl4/hesc"
    )
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "align_recipes", help="run folders (resumed)")
    parser.add_argument("--parallel", type=int, default=2, help="runs at once (one torch thread each)")
    parser.add_argument("--accelerator", default="auto", help="cpu, gpu or auto")
    parser.add_argument("--extra", default="", help="flags added to every run, e.g. '--sequences 8 --steps 5' for a smoke test")
    parser.add_argument("--note", default="", help="a sentence added to the section (where and how the runs ran)")
    parser.add_argument("--csv", type=Path, default=ROOT / "docs" / "runs" / "align_recipes.csv")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/ alone")
    args = parser.parse_args(argv)
    if args.parallel < 1:
        parser.error(f"--parallel must be ≥ 1; got {args.parallel}")
    grid = [(recipe, cell) for recipe in args.recipes for cell in args.cell_types]
    if args.only is not None:
        wanted = {tuple(item.split("/", 1)) for item in args.only}
        unknown = wanted - set(grid)
        if unknown:
            parser.error(f"--only names runs outside --recipes × --cell-types: {sorted('/'.join(u) for u in unknown)}")
        grid = [key for key in grid if key in wanted]
    outs = {key: args.runs / f"{key[0]}_{key[1]}" for key in grid}
    started = time.perf_counter()
    with ThreadPoolExecutor(args.parallel) as pool:
        seconds = dict(
            zip(
                grid,
                pool.map(
                    lambda key: run_one(align_command(*key, outs[key], args.accelerator, args.extra.split()), outs[key]), grid
                ),
            )
        )
    results, wall_minutes = {}, {}
    for key in grid:
        history_file = outs[key] / "history.json"
        if not history_file.is_file():
            raise SystemExit(f"{outs[key]}: the run did not finish; see {outs[key]}.log")
        results[key] = json.loads(history_file.read_text())
        manifest = json.loads((outs[key] / "manifest.json").read_text())
        wall_minutes[key] = float(manifest.get("wall_minutes_this_session", float("nan")))
    body = table(results, wall_minutes)
    wall = (time.perf_counter() - started) / 60
    print(body)
    print(
        f"{len(grid)} runs, {args.parallel} at a time, {wall:.1f} min wall; per run (min): "
        + ", ".join(f"{r}/{c} {s / 60:.1f}" for (r, c), s in seconds.items())
    )
    if args.no_write:
        return
    write_csv(results, args.csv)
    command = "python bench/align_recipes.py --recipes " + " ".join(args.recipes) + " --parallel " + str(args.parallel)
    command += "" if args.accelerator == "auto" else f" --accelerator {args.accelerator}"
    command += "" if args.only is None else " --only " + " ".join(args.only)
    took = f"{wall:.1f} min wall" if any(seconds.values()) else "every run read back from its folder"
    write_section(
        "align recipes",
        f"Reproduce: `{command}` ({took}). {args.note} Per-iteration log: "
        f"`{args.csv.relative_to(ROOT) if args.csv.is_relative_to(ROOT) else args.csv}`. Figures: the run's own "
        "log of 512 plain samples at its kept iteration (chosen on the validation floor alone); a screen, not "
        "the shipped models' evaluation (`bench/align_celltypes.py`).\n\n" + body,
    )


if __name__ == "__main__":
    main()
