"""Try what torch offers for the shipped denoiser on this CPU and keep only what measurably wins.

    python bench/bench_backends.py [--rounds 5]

Variants of one 64-row forward of `hepg2_aligned` (the chunk size every call uses on a CPU):
eager under `no_grad`, eager under `inference_mode`, TorchScript (traced at 64 rows) frozen + `optimize_for_inference`
(oneDNN weight pre-packing and fusion), `torch.compile` (inductor; its compile time is reported
apart, since a cold `dnadav design` would pay it), and bf16 autocast. Channels-last does not apply:
the backbone is a 1-D CNN on [B, C, L] tensors, and channels-last is a 4-D (NCHW) memory format.
Rounds alternate the variants (the order rotates); the figure is the min over rounds of the mean ms per row of 10 calls,
and the largest deviation of each variant's logits from eager fp32. Writes the section "backends
(denoiser forward)" of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmarks_md import machine, write_section  # noqa: E402

from dnadav.dna.checkpoint import load_denoiser  # noqa: E402

ROWS, CALLS = 64, 10


def ms_per_row(fn, x: torch.Tensor, t: torch.Tensor) -> float:
    started = time.perf_counter()
    for _ in range(CALLS):
        fn(x, t)
    return (time.perf_counter() - started) / CALLS / len(x) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    model, _ = load_denoiser("hepg2_aligned")
    model.eval()
    generator = torch.Generator().manual_seed(0)
    x = torch.randint(0, 5, (ROWS, 200), generator=generator)
    t = torch.rand(ROWS, generator=generator)

    def eager(a, b):
        with torch.no_grad():
            return model(a, b)

    def inference(a, b):
        with torch.inference_mode():
            return model(a, b)

    def bf16(a, b):
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            return model(a, b).float()

    with torch.no_grad():
        frozen = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(model, (x, t), check_trace=False)))
    compiled_model = torch.compile(model)

    def compiled(a, b):
        with torch.no_grad():
            return compiled_model(a, b)

    started = time.perf_counter()
    compiled(x, t)
    compile_seconds = time.perf_counter() - started
    variants = {
        "eager, no_grad (today)": eager,
        "eager, inference_mode": inference,
        "TorchScript (traced) frozen + optimize_for_inference": lambda a, b: frozen(a, b),
        "torch.compile (inductor)": compiled,
        "bf16 autocast": bf16,
    }
    reference = eager(x, t)
    deviation = {name: float((fn(x, t).float() - reference).abs().max()) for name, fn in variants.items()}
    times: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for round_index in range(args.rounds):  # the order rotates each round: no variant always runs first
        for name in names[round_index % len(names) :] + names[: round_index % len(names)]:
            times[name].append(ms_per_row(variants[name], x, t))
    base = min(times["eager, no_grad (today)"])
    rows = ["| variant | ms per row (min) | vs today | max abs logit change |", "|---|---|---|---|"]
    for name, values in times.items():
        rows.append(f"| {name} | {min(values):.2f} | {base / min(values):.2f}× | {deviation[name]:.1e} |")
    body = f"""Denoiser `hepg2_aligned`, {ROWS}-row calls at random states and times, {args.rounds} alternating rounds of
{CALLS} calls. Machine: {machine()}. Reproduce: `python bench/bench_backends.py`.

{chr(10).join(rows)}

`torch.compile` took {compile_seconds:.1f} s to compile (first call) — paid by every cold process unless
cached, which rules it out for a cold `dnadav design` (6,400 rows, about 20 s of forwards). Channels-last
does not apply to this 1-D CNN. dnadav today runs eager float32 under `no_grad` (`--precision bf16` is the
opt-in for bf16 autocast). A variant with no logit change that wins by more than the machine's noise
(±25% between hours) is the candidate to adopt next, after checking that its outputs stay identical for
every batch size a chunked call produces (the last chunk is smaller) and that its start-up cost is small.
"""
    write_section("backends (denoiser forward)", body)
    print(body)


if __name__ == "__main__":
    main()
