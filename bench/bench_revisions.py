"""Speed of two revisions of dnadav side by side: one E-step and a cold `dnadav design --n 128`,
in alternating rounds (this machine is noisy: compare by min and by pairwise ratio).

    python bench/bench_revisions.py BEFORE_REV AFTER_REV [--rounds 3] [--section NAME]

Each revision is checked out into a temporary git worktree and run with that worktree first on
PYTHONPATH, in a fresh process per measurement. E-step: the shipped aligned model and HepG2 reward
oracle, B = 32 sequences, M = 8 children, T = 16 steps, seed 0. Writes a section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmarks_md import machine, write_section  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
ESTEP = r"""
import time, torch
torch.set_num_threads(2)
from dnadav.core.search import SearchConfig
from dnadav.dna.search import search
from dnadav.dna import load_denoiser, LogLinearSchedule
from dnadav.oracles import load_oracle
model, _ = load_denoiser("hepg2_aligned")
oracle = load_oracle("hepg2", role="reward")
config = SearchConfig(num_children=8, num_steps=16, reward_temperature=0.5)
started = time.perf_counter()
result = search(model, oracle.reward, 32, 200, config, LogLinearSchedule(), torch.Generator().manual_seed(0))
print(time.perf_counter() - started, float(result.rewards.mean()))
"""


def run_in(root: Path, args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([sys.executable, *args], cwd=root, env=env, capture_output=True, text=True, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--section", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        roots = {}
        for label, rev in (("before", args.before), ("after", args.after)):
            roots[label] = Path(tmp) / label
            subprocess.run(["git", "worktree", "add", "-q", "--detach", str(roots[label]), rev], cwd=REPO, check=True)
        try:
            times = {label: {"estep": [], "design": [], "reward": []} for label in roots}
            for _ in range(args.rounds):
                for label, root in roots.items():
                    seconds, reward = run_in(root, ["-c", ESTEP]).stdout.split()
                    times[label]["estep"].append(float(seconds))
                    times[label]["reward"].append(float(reward))
                    out = Path(tmp) / f"{label}.fa"
                    started = time.perf_counter()
                    run_in(
                        root,
                        [
                            "-m",
                            "dnadav.cli",
                            "design",
                            "--oracle",
                            "hepg2",
                            "--n",
                            "128",
                            "--out",
                            str(out),
                            "--force",
                            "--quiet",
                        ],
                    )
                    times[label]["design"].append(time.perf_counter() - started)
            same_designs = (Path(tmp) / "before.fa").read_text() == (Path(tmp) / "after.fa").read_text()
        finally:
            for root in roots.values():
                subprocess.run(["git", "worktree", "remove", "--force", str(root)], cwd=REPO, check=False)
    rows = []
    for what in ("estep", "design"):
        b, a = times["before"][what], times["after"][what]
        ratios = [y / x for x, y in zip(b, a)]
        rows.append(
            f"| {what} | {min(b):.2f} | {min(a):.2f} | {min(a) / min(b):.2f} | {statistics.median(ratios):.2f} | "
            f"{', '.join(f'{x:.1f}' for x in b)} | {', '.join(f'{x:.1f}' for x in a)} |"
        )
    load = os.getloadavg()[0]
    body = f"""Before `{args.before}`, after `{args.after}`; {args.rounds} alternating rounds, fresh process each.
E-step: shipped aligned model + HepG2 reward oracle, B = 32, M = 8, T = 16, seed 0 (search time only).
design: `dnadav design --oracle hepg2 --n 128` cold (whole process).
Machine: {machine()}; 1-min load average at the end {load:.1f} (other work on the machine inflates every figure).
Reproduce: `python bench/bench_revisions.py {args.before} {args.after} --rounds {args.rounds}`.

| | min before (s) | min after (s) | min ratio | median pairwise ratio | before runs | after runs |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}

E-step mean reward, before / after: {statistics.mean(times["before"]["reward"]):.4f} / {statistics.mean(times["after"]["reward"]):.4f};
design FASTA identical: {same_designs}.
"""
    write_section(args.section or f"revisions {args.before} vs {args.after}", body)
    print(body)


if __name__ == "__main__":
    main()
