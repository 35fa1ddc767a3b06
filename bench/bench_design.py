"""Time the main job from a cold start: `dnadav design --oracle hepg2 --n 128` in a fresh process,
float32 (the default) and bf16 autocast (`--precision bf16`) in alternating runs.

    python bench/bench_design.py [--repeats 3] [--precisions fp32 bf16]

Writes the section "design (cold start)" of docs/benchmarks.md: min and median wall time per
precision, the pairwise ratio, and the designs' quality (evaluation oracle) for each. Goal ≤ 12 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmarks_md import machine, write_section  # noqa: E402

GOAL_SECONDS = 12.0


def run_design(out: Path, n: int, precision: str) -> float:
    """Wall seconds of one cold `dnadav design` process (seed 0)."""
    command = [sys.executable, "-m", "dnadav.cli", "design", "--oracle", "hepg2", "--n", str(n), "--out", str(out)]
    started = time.perf_counter()
    subprocess.run([*command, "--seed", "0", "--precision", precision, "--quiet", "--force"], check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n", type=int, default=128)
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    args = parser.parse_args()
    walls: dict[str, list[float]] = {p: [] for p in args.precisions}
    manifests: dict[str, dict] = {}
    loads = []
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.repeats):
            for precision in args.precisions:  # alternating: both see the same machine state
                out = Path(folder) / f"designs_{precision}.fa"
                walls[precision].append(run_design(out, args.n, precision))
                manifests[precision] = json.loads(out.with_suffix(".fa.manifest.json").read_text())
                loads.append(os.getloadavg()[0])
    rows = []
    for precision, times in walls.items():
        m = manifests[precision]
        rows.append(
            f"| {precision} | {min(times):.1f} | {statistics.median(times):.1f} | {m['timings']['sampling_seconds']:.1f} "
            f"| {m['summary']['pred_activity_median']:.2f} | {m['summary']['accessibility_accuracy']:.1%} "
            f"| {'met' if min(times) <= GOAL_SECONDS else f'missed by {min(times) - GOAL_SECONDS:.1f} s'} |"
        )
    ratio = ""
    if len(walls) == 2:
        a, b = walls.values()
        pairs = sorted(x / y for x, y in zip(a, b))
        runs = ", ".join(f"{p:.2f}" for p in pairs)
        ratio = f"Pairwise {args.precisions[0]}/{args.precisions[1]} ratio: median {pairs[len(pairs) // 2]:.2f} (runs: {runs})."
    body = f"""Command: `dnadav design --oracle hepg2 --n {args.n} --out designs.fa [--precision bf16]` in a fresh Python
process (imports, model and oracle loading, 50 reverse steps, scoring, FASTA + manifest), seed 0,
{args.repeats} alternating rounds; 1-min load average {min(loads):.1f}–{max(loads):.1f}.
Machine: {machine()}. Reproduce: `python bench/bench_design.py`.

| precision | min s | median s | sampling s (last run) | eval median log-odds | eval-accessible | goal ≤ {GOAL_SECONDS:.0f} s |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}

{ratio} bf16 runs the denoiser under bf16 autocast (scores stay float32); it gives other sequences
than float32 for the same seed, so float32 stays the default.
"""
    write_section("design (cold start)", body)
    print(body)


if __name__ == "__main__":
    main()
