"""Time the main job from a cold start: `dnadav design --oracle hepg2 --n 128` in a fresh process.

    python bench/bench_design.py [--repeats 3]

Writes the section "design (cold start)" of docs/benchmarks.md. Target: ≤ 60 s on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmarks_md import machine, write_section  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n", type=int, default=128)
    args = parser.parse_args()
    walls, summaries = [], []
    with tempfile.TemporaryDirectory() as folder:
        for repeat in range(args.repeats):
            out = Path(folder) / f"designs{repeat}.fa"
            started = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "dnadav.cli",
                    "design",
                    "--oracle",
                    "hepg2",
                    "--n",
                    str(args.n),
                    "--out",
                    str(out),
                    "--seed",
                    str(repeat),
                    "--quiet",
                ],
                check=True,
            )
            walls.append(time.perf_counter() - started)
            summaries.append(json.loads(out.with_suffix(".fa.manifest.json").read_text()))
    last = summaries[-1]
    body = f"""Command: `dnadav design --oracle hepg2 --n {args.n} --out designs.fa` in a fresh Python process
(imports, model and oracle loading, 50 reverse steps, scoring, FASTA + manifest),
{args.repeats} runs, seeds 0..{args.repeats - 1}.
Machine: {machine()}. Reproduce: `python bench/bench_design.py`.

| | seconds |
|---|---|
| wall time, median of {args.repeats} (whole process) | {statistics.median(walls):.1f} |
| wall time, max | {max(walls):.1f} |
| of which sampling (last run) | {last["timings"]["sampling_seconds"]:.1f} |

Model used: {"shipped aligned model" if last["used_aligned_model"] else "pretrained prior (no aligned model shipped)"};
last run's designs: median reward {last["summary"]["reward_median"]:.2f}, median eval {last["summary"]["eval_median"]:.2f},
eval-accessible {last["summary"]["eval_accessible_fraction"]:.0%}. Target ≤ 60 s: {"met" if max(walls) <= 60 else "NOT met"}.
"""
    write_section("design (cold start)", body)
    print(body)


if __name__ == "__main__":
    main()
