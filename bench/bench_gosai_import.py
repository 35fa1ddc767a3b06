"""Time and peak memory of `dnadav data import-gosai` on a synthetic table of the real size.

    python bench/bench_gosai_import.py [--rows 735156] [--work /tmp/gosai_bench]

Writes a synthetic ``dataset.csv`` in the DRAKES format (leading index column; made once and kept),
then runs, each in a fresh child process (so peak RSS is that step's alone):
1. ``dnadav data import-gosai dataset.csv --out WORK/out --force``;
2. ``load_gosai(gosai.h5)`` (the DataFrame with Python strings);
3. ``gosai_arrays(gosai.h5, "train")`` (tokens + activities, what training reads).
Prints wall seconds and peak resident memory (``ru_maxrss`` of the child) for each, as Markdown.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child(code: str) -> tuple[float, float]:
    """Run ``code`` in a fresh Python -> (wall seconds incl. start-up, that child's peak RSS in MiB)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "2"}
    wrapped = f"{code}\nimport resource, sys; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)"
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", wrapped], check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    return time.perf_counter() - started, int(done.stderr.split()[-1]) / 1024  # ru_maxrss: KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=735_156)
    parser.add_argument("--work", type=Path, default=Path("/tmp/gosai_bench"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    source = args.work / f"dataset_{args.rows}.csv"
    if not source.is_file():
        started = time.perf_counter()
        child(f"from dnadav.data.gosai import make_synthetic_gosai; make_synthetic_gosai({str(source)!r}, {args.rows})")
        print(
            f"made {source} ({source.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - started:.0f} s", file=sys.stderr
        )
    table = args.work / "out" / "gosai.h5"
    steps = [
        (
            "import-gosai",
            "from dnadav.cli import main; "
            f"main(['data', 'import-gosai', {str(source)!r}, '--out', {str(table.parent)!r}, '--force'])",
        ),
        ("load_gosai", f"from dnadav.data.gosai import load_gosai; print(len(load_gosai({str(table)!r})))"),
        (
            "gosai_arrays train",
            f"from dnadav.data.gosai import gosai_arrays; print(gosai_arrays({str(table)!r}, 'train')[0].shape)",
        ),
    ]
    rows = [(name, *child(code)) for name, code in steps]
    print(
        f"rows: {args.rows}; csv {source.stat().st_size / 2**20:.0f} MiB; h5 {table.stat().st_size / 2**20:.0f} MiB; "
        f"cpus: {os.cpu_count()}"
    )
    print("| step | wall s | peak RSS MiB |\n|---|---|---|")
    for name, wall, peak in rows:
        print(f"| {name} | {wall:.1f} | {peak:.0f} |")


if __name__ == "__main__":
    main()
