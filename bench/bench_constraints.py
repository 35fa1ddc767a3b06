"""What hard constraints cost: n constrained designs against the same n unconstrained ones.

    python bench/bench_constraints.py [--n 1000] [--seed 0] [--threads 1] [--json out.json]

Both sets come from ``dnadav.design("hepg2", n, seed=...)`` (the shipped HepG2 aligned model, 50 plain
steps); the constrained one adds ``--forbid BsaI,BsmBI --gc 0.40:0.60 --prefix ACGTACGTACGTACGTACGT``.
Both are audited with ``dnadav.constraints.audit`` (the constrained set must show 0 violations) and
scored with the evaluation oracle, ``load_oracle("hepg2", role="eval")``: median log-odds and the share
with p > 0.5. Prints a Markdown table (the one in docs/constraints.md) and, with ``--json``, the figures.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

FORBID, GC, PREFIX = "BsaI,BsmBI", "0.40:0.60", "ACGTACGTACGTACGTACGT"


def measure(n: int, seed: int, constrained: bool) -> dict:
    import dnadav
    from dnadav.constraints import spec_from_options
    from dnadav.dna.tokens import strings_to_tokens, tokens_to_onehot
    from dnadav.loaders import load_oracle

    spec = spec_from_options(forbid=FORBID, gc=GC, prefix=PREFIX)
    started = time.perf_counter()
    designs = dnadav.design("hepg2", n, seed=seed, constraints=spec if constrained else None)
    seconds = time.perf_counter() - started
    tokens = strings_to_tokens(designs.sequences)
    audit = spec.compile(tokens.shape[1]).violations(tokens)
    oracle = load_oracle("hepg2", role="eval")
    with torch.no_grad():
        onehot = tokens_to_onehot(tokens)
        log_odds, probability = oracle.reward(onehot).double(), oracle.probability(onehot).double()
    gc = ((tokens == 1) | (tokens == 2)).double().mean(-1)
    return {
        "constrained": constrained,
        "n": n,
        "seed": seed,
        "seconds": seconds,
        "sampling_seconds": designs.result.timings.get("sampling_seconds"),
        "sequences_violating": int((audit["total"] > 0).sum()),
        "violations": {k: int(v.sum()) for k, v in audit.items()},
        "eval_log_odds_median": float(log_odds.median()),
        "eval_share_p_over_half": float((probability > 0.5).double().mean()),
        "gc_median": float(gc.median()),
    }


def table(rows: list[dict]) -> str:
    lines = [
        "| designs | n | seconds (sampling) | sequences violating | BsaI / BsmBI sites | GC outside 0.40–0.60 | "
        "prefix mismatches | median GC | eval median log-odds | eval share p > 0.5 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        v = r["violations"]
        lines.append(
            f"| {'constrained' if r['constrained'] else 'unconstrained'} | {r['n']} | {r['seconds']:.0f} "
            f"({r['sampling_seconds']:.0f}) | {r['sequences_violating']} | {v['site:BsaI']} / {v['site:BsmBI']} | "
            f"{v['gc']} | {v['fixed']} | {r['gc_median']:.3f} | {r['eval_log_odds_median']:.2f} | "
            f"{r['eval_share_p_over_half']:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 on a shared machine)")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for constrained in (False, True):
        rows.append(measure(args.n, args.seed, constrained))
        print(json.dumps(rows[-1]), flush=True)
    if rows[1]["sequences_violating"]:
        raise SystemExit(f"constrained designs violate the constraints: {rows[1]['violations']}")
    print(table(rows))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=2)


if __name__ == "__main__":
    main()
