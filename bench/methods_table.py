"""The methods table, independent of any model: a row is a sampler with its budget; rows are run at
several seeds, judged by one evaluator, summarised as mean ± sd and printed grouped by budget.

Budgets are counted (the search's own counters, or exact formulas checked against them in
tests/test_bench_methods.py): reward-oracle calls (sequences scored) and rows through the denoiser, at
sampling time for all n designs and, separately, in training.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch

from dnadav.baselines.drakes import DrakesConfig
from dnadav.baselines.rollouts import PolicyGradientConfig
from dnadav.core.search import SearchConfig
from dnadav.dna import sample
from dnadav.dna.config import AlignConfig
from dnadav.dna.search import search
from dnadav.dna.tokens import tokens_to_onehot, tokens_to_strings

BUDGET = ("oracle_calls", "network_sequences", "train_oracle_calls", "train_network_sequences", "seconds")
METRICS = (
    "pred_activity_median",
    "accessibility_accuracy",
    "reward_eval_gap",
    "kmer3_correlation",
    "motif_correlation",
    "app_log_lik_median",
    "levenshtein_diversity",
    "novelty_median",
)
REAL = "real HepG2 DHS (chr1)"
NO_ORACLE = "no reward oracle"


@dataclass
class Method:
    """A row: ``run(count, generator) -> (tokens [count, L], {"oracle_calls", "network_sequences"})``."""

    name: str
    group: str
    run: Callable[[int, torch.Generator], tuple[torch.Tensor, dict[str, int]]]
    training: dict[str, float] = field(default_factory=lambda: {"train_oracle_calls": 0, "train_network_sequences": 0})


# ---- samplers ----------------------------------------------------------------------------------


def plain(model, length: int, steps: int, device, schedule=None):
    def run(count, generator):
        tokens = sample(model, count, length, steps, schedule, generator, device)
        return tokens, {"oracle_calls": 0, "network_sequences": count * steps}

    return run


def searched(model, reward_fn, length: int, config: SearchConfig, device, schedule=None, particles: int = 1):
    """The E-step as a sampler. ``particles > 1`` (SMC): a population of ``particles · count``, from
    which ``count`` of the equally weighted final particles are kept at random (budget ×particles)."""

    def run(count, generator):
        result = search(model, reward_fn, count * particles, length, config, schedule, generator, device)
        tokens = result.sequences
        if particles > 1:
            tokens = tokens[torch.randperm(len(tokens), generator=generator, device=tokens.device)[:count]]
        return tokens, {"oracle_calls": result.stats.oracle_calls, "network_sequences": result.stats.network_sequences}

    return run


def best_of_n(model, reward_fn, length: int, steps: int, n_draws: int, device, schedule=None):
    def run(count, generator):
        draws = sample(model, count * n_draws, length, steps, schedule, generator, device)
        scores = reward_fn(tokens_to_onehot(draws)).view(count, n_draws)
        chosen = draws.view(count, n_draws, length)[torch.arange(count, device=draws.device), scores.argmax(1)]
        return chosen, {"oracle_calls": count * n_draws, "network_sequences": count * n_draws * steps}

    return run


def generate(method: Method, n: int, batch: int, seed: int, device) -> tuple[list[str], dict[str, float]]:
    """``n`` designs of one method at one seed, in batches of ``batch``, and their summed budget."""
    generator = torch.Generator(device).manual_seed(seed)
    started = time.perf_counter()
    parts, totals = [], {"oracle_calls": 0, "network_sequences": 0}
    for first in range(0, n, batch):
        tokens, cost = method.run(min(batch, n - first), generator)
        parts.append(tokens.cpu())
        totals = {k: totals[k] + cost[k] for k in totals}
    return tokens_to_strings(torch.cat(parts)), {**totals, **method.training, "seconds": time.perf_counter() - started}


# ---- the table: seeds, mean ± sd, markdown -------------------------------------------------------


def run_table(
    build: Callable[[int], list[Method]],
    seeds: Sequence[int],
    n: int,
    batch: int,
    device,
    evaluate: Callable[[dict[str, list[str]]], pd.DataFrame],
    real: Callable[[int], list[str]] | None = None,
) -> pd.DataFrame:
    """One row per (method, seed): the evaluator's summary columns and the budget. ``build(seed)``
    gives that seed's methods (trained rows trained at that seed); ``real(seed)`` an optional set of
    real sequences evaluated alongside (group NO_ORACLE)."""
    rows = []
    for seed in seeds:
        methods = build(seed)
        designs, budget, groups = {}, {}, {}
        for method in methods:
            designs[method.name], budget[method.name] = generate(method, n, batch, seed, device)
            groups[method.name] = method.group
            print(f"seed {seed}", method.name, budget[method.name], flush=True)
        if real is not None:
            designs[REAL] = real(seed)
            budget[REAL] = {k: 0.0 for k in BUDGET}
            groups[REAL] = NO_ORACLE
        summary = evaluate(designs)
        for name in designs:
            rows.append({"method": name, "group": groups[name], "seed": seed, **summary.loc[name].to_dict(), **budget[name]})
    return pd.DataFrame(rows)


def summarise(per_seed: pd.DataFrame, columns: Sequence[str] = METRICS + BUDGET) -> pd.DataFrame:
    """Mean and sample sd (ddof = 1; nan at one seed) over seeds of every column, one row per method
    in first-seen order, with its group and seed count."""
    grouped = per_seed.groupby("method", sort=False)
    out = pd.DataFrame({"group": grouped["group"].first(), "seeds": grouped["seed"].nunique()})
    for column in columns:
        out[f"{column}_mean"] = grouped[column].mean()
        out[f"{column}_sd"] = grouped[column].std(ddof=1)
    return out


def mean_sd(mean: float, sd: float, digits: int = 3) -> str:
    """``"mean ± sd"`` (``"mean"`` where sd is nan: a single seed)."""
    if math.isnan(sd):
        return f"{mean:.{digits}g}"
    return f"{mean:.{digits}g} ± {sd:.2g}"


LABELS = {
    "pred_activity_median": "Pred-Activity",
    "accessibility_accuracy": "ATAC-Acc",
    "reward_eval_gap": "gap",
    "kmer3_correlation": "3-mer",
    "motif_correlation": "motif",
    "app_log_lik_median": "App-Log-Lik",
    "levenshtein_diversity": "Lev. div.",
    "novelty_median": "novelty",
    "oracle_calls": "oracle calls",
    "network_sequences": "net. seqs",
    "train_oracle_calls": "train oracle calls",
    "train_network_sequences": "train net. seqs",
    "seconds": "s",
}


def markdown_table(summary: pd.DataFrame, metrics: Sequence[str] = METRICS, budget: Sequence[str] = BUDGET) -> str:
    """Rows grouped by budget (a bold line per group, in first-seen order); metrics as mean ± sd,
    budgets as integers (they do not vary with the seed)."""
    columns = [*metrics, *budget]
    lines = ["| method | " + " | ".join(LABELS.get(c, c) for c in columns) + " |", "|" + "---|" * (len(columns) + 1)]
    for group in dict.fromkeys(summary["group"]):
        lines.append(f"| **{group}** |" + " |" * len(columns))
        for name, row in summary[summary["group"] == group].iterrows():
            cells = []
            for c in columns:
                m = row[f"{c}_mean"]
                if c == "seconds":
                    cells.append(f"{m:.3g}")
                elif c in budget:
                    cells.append("?" if math.isnan(m) else f"{m:,.0f}")
                else:
                    cells.append(mean_sd(m, row[f"{c}_sd"]))
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ---- training budgets ------------------------------------------------------------------------


def estep_oracle_calls(config: AlignConfig) -> int:
    """Reward calls of DAV's training: K iterations × B sequences × (M per step) × T (argmax value)."""
    s = config.search
    per_step = 1 if s.mode == "smc" else s.num_children
    value = s.num_value_samples if s.value == "sample" else 1
    guided = config.sequences_per_iteration * s.num_steps if s.guidance_scale > 0 else 0
    calls = config.sequences_per_iteration * per_step * ((s.num_steps - 1) * value + 1) + guided
    return config.iterations * calls


def dav_training_budget(run: Path, iterations: int | None = None) -> dict[str, float]:
    """Reward calls (measured, history.json) and denoiser rows (E-step + M-step, from the config; the
    per-iteration logging samples left out) of an align run folder, over its first ``iterations``
    (None: all), the warm start's (every data sequence scored once, steps × batch training rows) included
    when the run made one; nan where they cannot be read."""
    saved = json.loads((run / "config.json").read_text())
    config, warm = saved.get("align_config"), saved.get("warm_start") or {}
    history_file = run / "history.json"
    if config is None or not history_file.is_file():
        return {"train_oracle_calls": math.nan, "train_network_sequences": math.nan}
    k = config["iterations"] if iterations is None else iterations
    history = json.loads(history_file.read_text())[:k]
    s, b = config["search"], config["sequences_per_iteration"]
    per_step = 1 if s["mode"] == "smc" else s["num_children"]
    estep = b * (1 + (s["num_steps"] - 1) * per_step)
    mstep = config["inner_epochs"] * b * s["num_steps"] * (2 if config["distill"]["kl_weight"] > 0 else 1)
    return {
        "train_oracle_calls": float(sum(r.get("estep/oracle_calls", 0.0) for r in history) + warm.get("scored", 0)),
        "train_network_sequences": float(k * (estep + mstep) + warm.get("steps", 0) * warm.get("batch_size", 0)),
    }


def drakes_budget(config: DrakesConfig) -> dict[str, float]:
    """Reward calls (each with its gradient) and denoiser rows (T steps + the reference at the last k)."""
    rows = config.num_steps + (config.truncate_steps if config.kl_weight > 0 else 0)
    return {
        "train_oracle_calls": float(config.iterations * config.batch_size),
        "train_network_sequences": float(config.iterations * config.batch_size * rows),
    }


def policy_budget(config: PolicyGradientConfig) -> dict[str, float]:
    """DDPO's / VMPO's reward calls (1 per path, or T + 1 with VMPO's value potential) and denoiser
    rows (sampling, then the tuned model and the reference at every step of every inner epoch)."""
    return config.budget()


def model_budget(folder: Path) -> dict[str, float]:
    """Training budget of a model folder: an align run, a DRAKES / DDPO / VMPO run written here, or unknown (nan)."""
    config = json.loads((Path(folder) / "config.json").read_text())
    if "budget" in config:
        return {k: config["budget"][k] for k in ("train_oracle_calls", "train_network_sequences")}
    return dav_training_budget(Path(folder))
