"""The E-step with the parent's lookahead against the published loop structure (issue 22).

    python bench/bench_lookahead.py [--seeds 0 1 2 3 4] [--dry-run]

Per seed, in alternating order, one E-step of B = 64 sequences, M = 8 children, T = 32 steps on the
shipped aligned HepG2 model with the HepG2 reward oracle, run four ways:

* the published loop structure (``bench/published_loop.py``: per step one call on the B states and one
  batch-B call per candidate) at α = 0.5;
* dnadav's search, ``lookahead="child"`` (every child through the denoiser, its x̂0 reused), α = 0.5;
* dnadav's search, ``lookahead="parent"`` (each child valued by its parent's x̂0 with the child's new
  bases written in; only the kept child goes through the denoiser), α = 0.5 and α = 0.25.

Per run: wall seconds, denoiser rows, reward-oracle rows, and the E-step's output quality on its 64
sequences: reward-oracle mean (the E-step reward), evaluation-oracle accessibility, 3-mer correlation to
the top-500 held-out HepG2 reference, mean pairwise Levenshtein distance. Mean ± sd over seeds. A way
"keeps quality" when each quality mean is within the larger of the two seed sds of the published loop's
mean (``bench_adaptive.quality_verdict``). Speed-up against the published loop: min/min and the median of
the per-seed ratios. Writes the section "E-step lookahead (issue 22)" of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the CLI does (dnadav/cli.py); before torch loads
import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_adaptive import quality_verdict  # noqa: E402
from benchmarks_md import machine, mean_sd_cells, write_section  # noqa: E402

SECTION = "E-step lookahead (issue 22)"
QUALITY = ("reward", "accessible", "kmer3", "levenshtein")
B, M, T = 64, 8, 32
WAYS = (("published loop", "published", 0.5), ("dnadav, child lookahead", "child", 0.5),
        ("dnadav, parent lookahead", "parent", 0.5), ("dnadav, parent lookahead, α/2", "parent", 0.25))  # fmt: skip


def quality(tokens: torch.Tensor, reward_oracle, eval_oracle, reference: list[str]) -> dict[str, float]:
    """The four quality figures of one E-step's sequences ``tokens [B, L]``."""
    from dnadav.dna.tokens import tokens_to_onehot, tokens_to_strings
    from dnadav.evaluate import metrics

    onehot = tokens_to_onehot(tokens)
    strings = tokens_to_strings(tokens)
    with torch.inference_mode():
        reward, eval_probability = reward_oracle.reward(onehot), eval_oracle.probability(onehot)
    distances = metrics.pairwise_levenshtein(strings)
    return {
        "reward": float(reward.mean()),
        "accessible": metrics.accessibility_accuracy(eval_probability.double().numpy()),
        "kmer3": metrics.kmer_correlation(strings, reference),
        "levenshtein": float(distances[np.triu_indices(len(strings), k=1)].mean()),
    }


def run(seeds: list[int]) -> dict[str, list[dict]]:
    """{way: one dict per seed (seconds, rows, oracle rows, quality)}."""
    from published_loop import published_loop_search

    from dnadav.core.search import SearchConfig
    from dnadav.dna.checkpoint import load_denoiser
    from dnadav.dna.search import search
    from dnadav.evaluate.reference import reference_sequences
    from dnadav.loaders import load_oracle

    net, _ = load_denoiser("hepg2_aligned")
    reward_oracle, eval_oracle = load_oracle("hepg2", role="reward").eval(), load_oracle("hepg2", role="eval").eval()
    reference = reference_sequences("HepG2", "eval", 500, eval_oracle)
    runs: dict[str, list[dict]] = {label: [] for label, _, _ in WAYS}
    for seed in seeds:
        for label, way, alpha in WAYS if seed % 2 == 0 else WAYS[::-1]:  # alternate who runs first
            generator = torch.Generator().manual_seed(seed)
            started = time.perf_counter()
            with torch.inference_mode():
                if way == "published":
                    tokens, calls = published_loop_search(net, reward_oracle.reward, B, 200, M, T, alpha, generator)
                    rows, oracle_rows = calls * B, B * M * T
                else:
                    config = SearchConfig(num_children=M, num_steps=T, reward_temperature=alpha, lookahead=way)
                    result = search(net, reward_oracle.reward, B, 200, config, generator=generator)
                    tokens, rows, oracle_rows = result.sequences, result.stats.network_sequences, result.stats.oracle_calls
            row = {"seconds": time.perf_counter() - started, "rows": rows, "oracle_rows": oracle_rows}
            row.update(quality(tokens, reward_oracle, eval_oracle, reference))
            runs[label].append(row)
            print(f"seed {seed} {label}: {row}", flush=True)
    return runs


def table(runs: dict[str, list[dict]]) -> tuple[str, list[str]]:
    base = runs[WAYS[0][0]]
    lines = [
        "| E-step | α | denoiser rows | oracle rows | s | speed-up (min/min, median) | E-step reward | eval-accessible "
        "| 3-mer | Levenshtein | same quality? |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    verdicts = []
    for label, _, alpha in WAYS:
        rows = runs[label]
        speed, same = "—", "—"
        if rows is not base:
            ratios = sorted(b["seconds"] / r["seconds"] for b, r in zip(base, rows))
            minmin = min(b["seconds"] for b in base) / min(r["seconds"] for r in rows)
            speed = f"{minmin:.2f}×, {statistics.median(ratios):.2f}×"
            ok, same = quality_verdict(base, rows, QUALITY)
            verdicts.append(f"{label} at α = {alpha:g}: {speed}, {'keeps' if ok else 'loses'} quality")
        lines.append(
            f"| {label} | {alpha:g} | {rows[0]['rows']:,} | {rows[0]['oracle_rows']:,} | {mean_sd_cells(rows, [('seconds', 1)])} "
            f"| {speed} | {mean_sd_cells(rows, [('reward', 2), ('accessible', 3), ('kmer3', 3), ('levenshtein', 1)])} | {same} |"
        )
    return "\n".join(lines), verdicts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--dry-run", action="store_true", help="print, do not write docs/benchmarks.md")
    args = parser.parse_args()
    started = time.perf_counter()
    runs = run(args.seeds)
    body_table, verdicts = table(runs)
    command = " ".join(["python bench/bench_lookahead.py", *sys.argv[1:]])
    body = f"""Command: `{command}` ({(time.perf_counter() - started) / 60:.0f} min). Machine: {machine()}; 1-min load
average at the end {os.getloadavg()[0]:.1f}.

One E-step (B = {B} sequences, M = {M} children, T = {T} steps; the published loop structure's setting) on the
shipped `hepg2_aligned` with the `hepg2` reward oracle, seeds {", ".join(map(str, args.seeds))}, the four ways
alternating; mean ± sd over seeds. Rows are exact. Quality of the E-step's own {B} sequences: reward-oracle mean
(the E-step reward), evaluation-oracle accessibility, 3-mer correlation to the top-500 held-out HepG2 reference,
mean pairwise Levenshtein. "Same quality" = every quality mean within the larger seed sd of the published loop's.
The parent lookahead values each child by its parent's x̂0 with the child's new bases written in, so only the
kept child goes through the denoiser (docs/concepts.md, "The parent's lookahead").

{body_table}

{"; ".join(verdicts)}.
"""
    print(body)
    if not args.dry_run:
        write_section(SECTION, body)


if __name__ == "__main__":
    main()
