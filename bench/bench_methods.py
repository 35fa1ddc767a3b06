"""One table, one oracle, every method: pretrained sampling, best-of-N, guidance, SVDD-style search,
SMC, DAV (aligned model) and the DAV posterior (aligned model + search), with budget accounting.

    python bench/bench_methods.py [--n 640] [--device cuda]

Every method designs n sequences of 200 bp for the HepG2 reward oracle; all are judged by the same
evaluator (held-out evaluation oracle, naturalness, diversity, App-Log-Lik). Writes the section
"methods (HepG2, one table)" of docs/benchmarks.md and the raw table to docs/runs/methods.csv.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmarks_md import machine, write_section  # noqa: E402

from dnadav.align.search import SearchConfig, search  # noqa: E402
from dnadav.data import load_dhs  # noqa: E402
from dnadav.diffusion import load_denoiser, sample  # noqa: E402
from dnadav.evaluate.evaluator import evaluate_sets  # noqa: E402
from dnadav.evaluate.reference import reference_sequences, training_sequences  # noqa: E402
from dnadav.oracles import load_oracle  # noqa: E402
from dnadav.seq import tokens_to_onehot, tokens_to_strings  # noqa: E402

LENGTH, STEPS = 200, 50


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=640)
    parser.add_argument("--children", type=int, default=16)
    parser.add_argument("--temperature", type=float, default=0.5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.set_grad_enabled(False)
    prior = load_denoiser("dhs_prior", device)[0]
    aligned = load_denoiser("hepg2_aligned", device)[0]
    reward_oracle = load_oracle("hepg2", "reward").to(device).eval()
    eval_oracle, cpu_reward = load_oracle("hepg2", "eval"), load_oracle("hepg2", "reward")
    m, alpha = args.children, args.temperature

    def plain(model):
        def run(count, generator):
            return sample(model, count, LENGTH, STEPS, generator=generator, device=device), {
                "network_sequences": count * STEPS,
                "oracle_calls": 0,
            }

        return run

    def searched(model, config):
        def run(count, generator):
            result = search(model, reward_oracle.reward, count, LENGTH, config, generator=generator, device=device)
            return result.sequences, {
                "network_sequences": result.stats.network_sequences,
                "oracle_calls": result.stats.oracle_calls,
            }

        return run

    def best_of_n(count, generator):
        draws = sample(prior, count * m, LENGTH, STEPS, generator=generator, device=device)
        scores = reward_oracle.reward(tokens_to_onehot(draws)).view(count, m)
        chosen = draws.view(count, m, LENGTH)[torch.arange(count, device=device), scores.argmax(1)]
        return chosen, {"network_sequences": count * m * STEPS, "oracle_calls": count * m}

    methods = {
        "pretrained": plain(prior),
        f"best-of-{m}": best_of_n,
        # one child per step: plain sampling from the reward-gradient-tilted proposal (no correction)
        "guidance (scale 2)": searched(prior, SearchConfig(num_children=1, num_steps=STEPS, guidance_scale=2.0)),
        f"SVDD search (M={m})": searched(prior, SearchConfig(num_children=m, reward_temperature=alpha, num_steps=STEPS)),
        "SMC / TDS (ESS 0.5)": searched(prior, SearchConfig(reward_temperature=alpha, num_steps=STEPS, mode="smc")),
        "DAV (aligned, plain)": plain(aligned),
        f"DAV posterior (M={m})": searched(aligned, SearchConfig(num_children=m, reward_temperature=alpha, num_steps=STEPS)),
    }
    designs, budget = {}, {}
    for name, run in methods.items():
        generator = torch.Generator(device).manual_seed(0)
        started = time.perf_counter()
        parts, totals = [], {"network_sequences": 0, "oracle_calls": 0}
        for first in range(0, args.n, args.batch):
            tokens, cost = run(min(args.batch, args.n - first), generator)
            parts.append(tokens.cpu())
            totals = {k: totals[k] + cost[k] for k in totals}
        budget[name] = {**totals, "seconds": time.perf_counter() - started}
        designs[name] = tokens_to_strings(torch.cat(parts))
        print(name, budget[name], flush=True)
    real = load_dhs("test", "HepG2")["sequence"].sample(min(args.n, 958), random_state=0).tolist()
    designs["real HepG2 DHS (chr1)"] = real
    budget["real HepG2 DHS (chr1)"] = {"network_sequences": 0, "oracle_calls": 0, "seconds": 0.0}
    result = evaluate_sets(
        designs,
        reward_oracle=cpu_reward,
        eval_oracle=eval_oracle,
        reference=reference_sequences(),
        training=training_sequences(),
        prior=prior,
    )
    table = result.summary
    for column in ("oracle_calls", "network_sequences", "seconds"):
        table[column] = [budget[name][column] for name in table.index]
    out = Path(__file__).resolve().parent.parent / "docs" / "runs" / "methods.csv"
    table.to_csv(out)
    columns = [
        "pred_activity_median",
        "accessibility_accuracy",
        "reward_eval_gap",
        "kmer3_correlation",
        "motif_correlation",
        "app_log_lik_median",
        "levenshtein_diversity",
        "novelty_median",
        "oracle_calls",
        "network_sequences",
        "seconds",
    ]
    header = (
        "| method | Pred-Activity | ATAC-Acc | gap | 3-mer | motif | App-Log-Lik | Lev. div. | novelty "
        "| oracle calls | net. seqs | s |"
    )
    rows = [header, "|" + "---|" * (len(columns) + 1)]
    for name, row in table.iterrows():
        rows.append(
            f"| {name} | "
            + " | ".join(f"{row[c]:.0f}" if c in ("oracle_calls", "network_sequences") else f"{row[c]:.3g}" for c in columns)
            + " |"
        )
    body = f"""n = {args.n} designs per method, 200 bp, {STEPS} reverse steps, reward temperature α = {alpha}, M = {m}.
Judged by the evaluation oracle (trained on other chromosomes than the reward oracle); naturalness vs the
top-500 held-out HepG2 reference (docs/metrics.md). Budget: reward-oracle calls (sequences scored) and
sequences through the denoiser, summed over steps. Machine: {machine()}, device {device}.
Reproduce: `python bench/bench_methods.py --n {args.n}`; raw table in `docs/runs/methods.csv`.

{chr(10).join(rows)}
"""
    write_section("methods (HepG2, one table)", body)
    print(body)


if __name__ == "__main__":
    main()
