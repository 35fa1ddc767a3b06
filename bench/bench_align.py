"""Time `dnadav align --preset quick --oracle hepg2` (the default until issue 20) from a cold start and
check that its result is the shipped model's.

    python bench/bench_align.py [--out runs/bench_align] [--keep]

One fresh process runs the defaults (3 EM iterations; E-step B = 64, M = 16, T = 25, α = 0.5; M-step 2
passes). The run's own history gives the E-step seconds per iteration; the rest of each iteration is the
M-step and the per-iteration evaluation. "Results unchanged" is checked against
`models/hepg2_aligned/`, which the same command made before the speed work: the model file's sha256
(bit-identical or not) and, when the files differ, the per-iteration log figures side by side.
Writes the section "align (default, 2 CPU cores)" of docs/benchmarks.md. Goal ≤ 5 min.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmarks_md import machine, write_section  # noqa: E402

from dnadav.io import sha256_file  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "models" / "hepg2_aligned"
GOAL_SECONDS = 300.0
LOGGED = (
    ("plain/eval_accessibility_accuracy", "eval-accessible", "{:.1%}"),
    ("plain/kmer3_correlation", "3-mer", "{:.3f}"),
    ("plain/levenshtein_diversity", "Levenshtein", "{:.1f}"),
    ("estep/reward_mean", "E-step reward mean", "{:.3f}"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "bench_align")
    parser.add_argument("--keep", action="store_true", help="keep the run folder")
    args = parser.parse_args()
    command = [sys.executable, "-m", "dnadav.cli", "align", "--preset", "quick", "--oracle", "hepg2", "--out", str(args.out)]
    command += ["--quiet", "--force"]
    started = time.perf_counter()
    subprocess.run(command, check=True)
    wall = time.perf_counter() - started
    load = os.getloadavg()[0]
    history = json.loads((args.out / "history.json").read_text())
    shipped = json.loads((SHIPPED / "history.json").read_text())
    same_file = sha256_file(args.out / "model.pt") == sha256_file(SHIPPED / "model.pt")
    estep = [h["estep/seconds"] for h in history]
    rows = [
        "| iteration | E-step s | " + " | ".join(f"{label} (now / shipped)" for _, label, _ in LOGGED) + " |",
        "|---" * (2 + len(LOGGED)) + "|",
    ]
    for i, (now, before) in enumerate(zip(history, shipped)):
        cells = [f"{fmt.format(now[key])} / {fmt.format(before[key])}" for key, _, fmt in LOGGED]
        rows.append(f"| {i + 1} | {now['estep/seconds']:.0f} | " + " | ".join(cells) + " |")
    minutes, seconds = divmod(wall, 60)
    verdict = "met" if wall <= GOAL_SECONDS else f"missed by {wall - GOAL_SECONDS:.0f} s"
    body = f"""Command: `dnadav align --preset quick --oracle hepg2 --out runs/hepg2` (the default before issue 20:
3 EM iterations, B = 64, M = 16, T = 25, α = 0.5) in a fresh process. Machine: {machine()};
1-min load average at the end {load:.1f}.
Reproduce: `python bench/bench_align.py`.

**{int(minutes)} min {seconds:.0f} s** wall-clock (goal ≤ 5 min: {verdict}; before the speed work 9 min 16 s).
E-step {sum(estep):.0f} s in all ({", ".join(f"{s:.0f}" for s in estep)} s per iteration); the rest
({wall - sum(estep):.0f} s) is start-up, the M-steps and the per-iteration evaluation (64 plain samples).

Result against the shipped `models/hepg2_aligned` (same command, made before the speed work):
model file {"bit-identical (same sha256)" if same_file else "not bit-identical"}.

{chr(10).join(rows)}
"""
    write_section("align (default, 2 CPU cores)", body)
    print(body)
    if not args.keep:
        shutil.rmtree(args.out, ignore_errors=True)


if __name__ == "__main__":
    main()
