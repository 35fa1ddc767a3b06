"""Speed: chunk-size sweep for the shipped denoiser and reward oracle, and E-step efficiency.

    python bench/bench_speed.py [--repeats 3] [--quick]

(a) ms per row of the shipped aligned denoiser and the HepG2 reward oracle at chunk sizes 16..512
    (sizes alternate within each round; the min over rounds is reported) -> dnadav.core.batching.CPU_MAX_BATCH.
(b) E-step efficiency = search() wall time / time spent inside its network and oracle calls
    (same calls, same chunking), B = 64, M = 8, T = 32. Goal ≤ 1.10.
(c) dnadav's E-step against a re-implementation of the published loop structure (bench/published_loop.py:
    per step one call on the B current states plus one batch-B call per candidate, no x̂0 reuse), same
    (B, M, T), shipped aligned model and reward oracle, alternating runs; min/min and pairwise ratios.
    Goal: ≥ 1.5× faster.
Writes the section "speed" of docs/benchmarks.md with the 1-min load average beside each figure.
The cold design / evaluate / align timings are bench_design.py, bench_evaluate.py and the align card.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the CLI does (dnadav/cli.py); before torch loads
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmarks_md import machine, write_section  # noqa: E402

SIZES = (16, 32, 64, 128, 256, 512)


class Timed:
    """Wrap a callable and add its wall time to ``seconds``."""

    def __init__(self, fn):
        self.fn, self.seconds = fn, 0.0

    def __call__(self, *args):
        started = time.perf_counter()
        out = self.fn(*args)
        self.seconds += time.perf_counter() - started
        return out


def sweep(net, oracle, rows: int, repeats: int) -> dict[int, tuple[float, float]]:
    """ms per row (denoiser, oracle) at each chunk size, min over ``repeats`` alternating rounds."""
    g = torch.Generator().manual_seed(0)
    x, t = torch.randint(0, 5, (rows, 200), generator=g), torch.rand(rows, generator=g)
    onehot = torch.nn.functional.one_hot(torch.randint(0, 4, (rows, 200), generator=g), 4).float().transpose(1, 2).contiguous()
    best: dict[int, list[float]] = {size: [float("inf"), float("inf")] for size in SIZES}
    with torch.inference_mode():
        for _ in range(repeats):
            for size in SIZES:
                for k, call in enumerate((lambda a, b: net(x[a:b], t[a:b]), lambda a, b: oracle.reward(onehot[a:b]))):
                    started = time.perf_counter()
                    for i in range(0, rows, size):
                        call(i, i + size)
                    best[size][k] = min(best[size][k], (time.perf_counter() - started) / rows * 1e3)
    return {size: tuple(v) for size, v in best.items()}


def estep_efficiency(net, oracle, b: int, m: int, steps: int, repeats: int) -> tuple[float, float]:
    """(min wall seconds, min wall / time inside network+oracle calls) of search() over ``repeats`` runs."""
    from dnadav.core.search import SearchConfig
    from dnadav.dna.search import search

    walls, ratios = [], []
    for repeat in range(repeats):
        timed_net, timed_reward = Timed(net), Timed(oracle.reward)
        started = time.perf_counter()
        search(
            timed_net,
            timed_reward,
            b,
            200,
            SearchConfig(num_children=m, num_steps=steps),
            generator=torch.Generator().manual_seed(repeat),
        )
        wall = time.perf_counter() - started
        walls.append(wall)
        ratios.append(wall / (timed_net.seconds + timed_reward.seconds))
    return min(walls), min(ratios)


def against_published(net, oracle, b: int, m: int, steps: int, repeats: int) -> dict[str, float]:
    """Alternating runs of dnadav's search and the published loop structure (bench/published_loop.py)."""
    from published_loop import published_loop_search

    from dnadav.core.search import SearchConfig
    from dnadav.dna.search import search

    ours, theirs, calls = [], [], {}
    with torch.inference_mode():
        for repeat in range(repeats):
            started = time.perf_counter()
            result = search(
                net,
                oracle.reward,
                b,
                200,
                SearchConfig(num_children=m, num_steps=steps, reward_temperature=0.5),
                generator=torch.Generator().manual_seed(repeat),
            )
            ours.append(time.perf_counter() - started)
            calls["ours"] = result.stats.network_sequences
            started = time.perf_counter()
            _, published_calls = published_loop_search(
                net, oracle.reward, b, 200, m, steps, 0.5, torch.Generator().manual_seed(repeat)
            )
            theirs.append(time.perf_counter() - started)
            calls["published"] = published_calls * b
    pairwise = sorted(t / o for o, t in zip(ours, theirs))
    return {
        "ours_min": min(ours),
        "published_min": min(theirs),
        "speedup_min": min(theirs) / min(ours),
        "speedup_pairwise_median": pairwise[len(pairwise) // 2],
        "rows_ours": calls["ours"],
        "rows_published": calls["published"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the script runs, writes nothing")
    args = parser.parse_args()
    from dnadav.dna.checkpoint import load_denoiser
    from dnadav.oracles import load_oracle

    net, _ = load_denoiser("hepg2_aligned")
    oracle = load_oracle("hepg2", role="reward").eval()
    rows = 64 if args.quick else 512
    repeats = 1 if args.quick else args.repeats
    table = sweep(net, oracle, rows, repeats)
    load_sweep = os.getloadavg()[0]
    b, m, steps = (4, 2, 3) if args.quick else (64, 8, 32)
    wall, efficiency = estep_efficiency(net, oracle, b, m, steps, repeats)
    load_estep = os.getloadavg()[0]
    published = against_published(net, oracle, b, m, steps, repeats)
    load_published = os.getloadavg()[0]
    lines = "\n".join(f"| {size} | {d:.2f} | {o:.3f} |" for size, (d, o) in table.items())
    body = f"""Machine: {machine()}. Reproduce: `python bench/bench_speed.py`.

(a) Chunk size sweep, {rows} rows, min of {repeats} alternating rounds (1-min load average {load_sweep:.1f}):

| rows per call | denoiser ms/row | oracle ms/row |
|---|---|---|
{lines}

(b) E-step (search, B = {b}, M = {m}, T = {steps}, shipped aligned model, HepG2 reward oracle, default chunking):
min wall {wall:.1f} s over {repeats} runs (1-min load average {load_estep:.1f}).

E-step efficiency: {efficiency:.2f} (wall time / time inside its network and oracle calls; goal ≤ 1.10)

(c) Against the published loop structure (`bench/published_loop.py`), same B = {b}, M = {m}, T = {steps}, {repeats}
alternating rounds (1-min load average {load_published:.1f}): dnadav {published["ours_min"]:.1f} s, published loop
{published["published_min"]:.1f} s (min/min speed-up {published["speedup_min"]:.2f}×, pairwise median
{published["speedup_pairwise_median"]:.2f}×; goal ≥ 1.5×). Denoiser rows per E-step: dnadav {published["rows_ours"]:,},
published loop {published["rows_published"]:,}.
"""
    print(body)
    if not args.quick:
        write_section("speed", body)


if __name__ == "__main__":
    main()
