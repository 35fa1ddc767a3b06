"""Pilot (issue 22): which positions a fixed-step call unmasks, and the grid's spacing, at fewer steps.

    OMP_NUM_THREADS=1 python bench/pilot_unmask_order.py [--n 640] [--seeds 0 1 2]
        [--runs random:50 random:20 stratified:20 dilated:20 power2:20]

Today's sampler (``random``) unmasks each masked position independently with the schedule's probability, so
a call unmasks L/T positions on average, anywhere — neighbours included. At fewer steps T more positions are
drawn together from the product of their marginals, and the error term of that draw (the total correlation
of the co-drawn positions, docs/concepts.md "Adaptive-step sampling and the law it samples") grows fastest
for neighbours. The pilot's alternatives spend the same T network calls:

* ``stratified:T`` — cut the sequence into blocks of T positions; each call unmasks exactly one masked
  position per block, in a per-sequence random order inside each block (co-drawn positions lie in
  different blocks; every position still gets one random call);
* ``dilated:T`` — each call unmasks one residue class mod T (per-sequence random class order): co-drawn
  positions are exactly T apart (after arXiv 2506.19037's dilated scheduling);
* ``powerG:T`` — today's random positions on the warped grid t_k = 1 − (k/T)^G (G > 1: fewer positions
  early, more late).

It is a pilot, not a sampler option: it swaps ``dnadav.dna.adaptive.adaptive_step`` (the step rule that
``dnadav.design`` calls; at bound 0 it is the fixed-step sampler) and ``dnadav.dna.sampler.time_grid`` inside
this process. The network sees the grid's t, which equals the share still masked for ``stratified`` and
``dilated`` (T must divide the length 200). Quality figures as ``bench/bench_adaptive.py`` (shipped
``hepg2_aligned``, plain sampling): evaluation-oracle accessibility, 3-mer correlation with the top-500
held-out reference, mean pairwise Levenshtein, median App-Log-Lik under the prior. Rows per seed go to
``docs/runs/pilot_unmask_order.jsonl`` (appended; a (seed, run) already there is skipped), the table to the
section "unmask order at fewer steps (issue 22 pilot)" of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_adaptive import QUALITY, quality, quality_verdict  # noqa: E402
from benchmarks_md import append_jsonl, machine, mean_sd_cells, read_jsonl, write_section  # noqa: E402

ROWS = Path(__file__).resolve().parent.parent / "docs" / "runs" / "pilot_unmask_order.jsonl"
SECTION = "unmask order at fewer steps (issue 22 pilot)"
COLUMNS = [("rows", 0), ("accessible", 3), ("kmer3", 3), ("levenshtein", 1), ("app_log_lik", 1)]


class Rule:
    """The step rule and grid of one run (``mode``, ``steps``); ``install`` patches them into dnadav."""

    def __init__(self, mode: str, steps: int, generator: torch.Generator):
        self.mode, self.steps, self.generator = mode, steps, generator
        self.power = float(mode[len("power") :]) if mode.startswith("power") else 1.0
        self.call_of: torch.Tensor | None = None  # [N, L]: the call index at which each position unmasks

    def time_grid(self, num_steps: int, device="cpu") -> torch.Tensor:
        k = torch.arange(num_steps + 1, dtype=torch.float64) / num_steps
        return (1.0 - k**self.power).to(torch.float32).to(device)

    def new_order(self, n: int, length: int) -> torch.Tensor:
        """The call index of every position of ``n`` fresh all-MASK rows -> ``[n, L]``."""
        from dnadav.dna.stratified import stratified_calls

        t = self.steps
        if self.mode == "dilated":
            classes = torch.rand(n, t, generator=self.generator).argsort(dim=1).argsort(dim=1)  # class -> call
            return classes[:, torch.arange(length) % t]
        return stratified_calls(n, length, t, self.generator)

    def step(self, original, log_x0, x, tau, s, bound, schedule):
        from dnadav.dna.stratified import stratified_rows

        if self.mode == "random" or self.mode.startswith("power"):
            return original(log_x0, x, tau, s, bound, schedule)
        call = min(self.steps - 1, round((1.0 - float(tau[0])) * self.steps))
        if call == 0 or self.call_of is None or self.call_of.shape[0] != x.shape[0]:
            self.call_of = self.new_order(x.shape[0], x.shape[1])
        return stratified_rows(log_x0, x, self.call_of, call, last=float(s[0]) == 0.0), s

    def install(self) -> None:
        import dnadav.dna.adaptive as adaptive
        import dnadav.dna.sampler as sampler

        original = ORIGINAL["step"]
        adaptive.adaptive_step = lambda *args: self.step(original, *args)
        sampler.time_grid = self.time_grid if self.power != 1.0 else ORIGINAL["grid"]  # power 1: today's grid, bit for bit


ORIGINAL: dict = {}  # today's step rule and grid, kept before any run patches them


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=640)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--runs", nargs="+", default=["random:50", "random:20", "stratified:20", "dilated:20", "power2:20"])
    parser.add_argument("--dry-run", action="store_true", help="print, do not write docs/benchmarks.md")
    args = parser.parse_args()

    import dnadav
    import dnadav.dna.adaptive as adaptive
    import dnadav.dna.sampler as sampler
    from dnadav.dna.checkpoint import model_schedule
    from dnadav.dna.masked import sequence_elbo
    from dnadav.evaluate.reference import reference_sequences
    from dnadav.loaders import load_model, load_oracle

    ORIGINAL.update(step=adaptive.adaptive_step, grid=sampler.time_grid)
    reference = reference_sequences("HepG2", "eval", 500, load_oracle("hepg2", role="eval"))
    prior = load_model("dhs_prior")
    schedule = model_schedule(prior.config_dict)

    def log_likelihood(tokens: torch.Tensor) -> torch.Tensor:
        return sequence_elbo(prior, tokens, schedule, 4, torch.Generator().manual_seed(0), times="count")

    done = read_jsonl(ROWS)
    for seed in args.seeds:
        for run in args.runs:
            if any(r["seed"] == seed and r["run"] == run and r["n"] == args.n for r in done):
                continue
            mode, steps = run.split(":")
            Rule(mode, int(steps), torch.Generator().manual_seed(1000 + seed)).install()
            started = time.perf_counter()
            designs = dnadav.design("hepg2", n=args.n, seed=seed, steps=int(steps))
            row = {"seed": seed, "run": run, "n": args.n, "rows": designs.result.network_rows,
                   "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip
            row.update(quality(designs, reference, log_likelihood))
            print(json.dumps(row), flush=True)
            done.append(row)
            append_jsonl(ROWS, row)

    by_run = {run: [r for r in done if r["run"] == run and r["n"] == args.n and r["seed"] in args.seeds] for run in args.runs}
    lines = ["| run | network rows | eval-accessible | 3-mer | Levenshtein | App-Log-Lik | same quality as random:50? |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for run, rows in by_run.items():
        if run == "random:50" or len(rows) < 2 or len(by_run.get("random:50", [])) < 2:
            same = "—" if run == "random:50" else "(needs 2 seeds of both)"
        else:
            same = quality_verdict(by_run["random:50"], rows, QUALITY)[1]
        lines.append(f"| {run} | {mean_sd_cells(rows, COLUMNS)} | {same} |")
    text = (
        f"Command: `OMP_NUM_THREADS=1 python bench/pilot_unmask_order.py --n {args.n} --seeds {' '.join(map(str, args.seeds))} "
        f"--runs {' '.join(args.runs)}`.\nMachine: {machine()}. Rows per seed: `docs/runs/pilot_unmask_order.jsonl`.\n"
        'Mean ± sd over seeds; "same quality" as in "adaptive sampling" above (every quality mean within the larger '
        "seed sd). Script docstring: what each run does.\n\n" + "\n".join(lines) + "\n"
    )
    print(text)
    if not args.dry_run:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
