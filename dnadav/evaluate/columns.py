"""The report's columns: the headline metrics and the optional ones, each with its label and one-line
definition (docs/metrics.md), in display order."""

from __future__ import annotations

import pandas as pd

__all__ = ["HEADLINE", "OPTIONAL", "class_columns", "headline_labels", "optional_columns", "optional_labels"]

# Column name -> (label, one-line definition) of the headline table, in display order.
HEADLINE: dict[str, tuple[str, str]] = {
    "n": ("n", "records read"),
    "n_valid": ("valid", "records with only A/C/G/T and the expected length; the others are counted, never fixed"),
    "pred_activity_median": ("Pred-Activity", "median evaluation-oracle HepG2 log-odds (nats; the held-out oracle)"),
    "reward_median": ("reward", "median reward-oracle log-odds (nats; the oracle alignment optimised)"),
    "reward_eval_gap": ("gap", "reward − Pred-Activity: large values flag over-optimisation of the reward oracle"),
    "accessibility_accuracy": ("ATAC-Acc", "share the evaluation oracle calls HepG2-accessible (p > 0.5)"),
    "kmer3_correlation": ("3-mer corr", "Pearson correlation of the 64 3-mer counts vs the reference set"),
    "motif_correlation": ("motif corr", "Spearman correlation of per-motif JASPAR hit totals vs the reference set"),
    "app_log_lik_median": ("App-Log-Lik", "median ELBO under the pretrained prior (nats/sequence; uniform = −277.3 at 200 bp)"),
    "levenshtein_diversity": ("Lev. div.", "mean pairwise edit distance (bases)"),
    "identity_diversity": ("1−identity", "mean pairwise 1 − identity (ungapped, share of differing positions)"),
    "novelty_median": ("novelty", "median distance to the nearest training sequence (bases)"),
    "near_copy_fraction": ("near copies", "share within 10% of the length of a training sequence"),
    "gc_mean": ("GC", "mean GC fraction"),
    "kmer_js": ("k-mer JS", "Jensen–Shannon divergence of k-mer spectra vs reference (bits; k in the header)"),
}

# Columns present only when they apply (a cell-type classifier as evaluation oracle, an objective,
# constraints); ``p_<class>_median`` columns (``p(<class>)``) are added per class of that oracle.
OPTIONAL: dict[str, tuple[str, str]] = {
    "above_threshold": ("above threshold", "share whose evaluation-oracle prediction is above the threshold (regression oracle)"),
    "specificity": ("specificity", "share with p(target) > 0.5 and every other cell type < 0.1 (evaluation oracle)"),
    "margin_median": ("margin", "median log-odds margin of the target over the strongest off-target (nats)"),
    "objective_median": ("objective", "median of the objective expression under the evaluation oracle (nats)"),
    "violating_fraction": ("violating", "share of sequences breaking at least one hard constraint"),
    "violations": ("violations", "constraint violations counted over all sequences (sites, runs, GC, fixed bases)"),
}


def headline_labels(summary: pd.DataFrame, info: dict) -> dict[str, tuple[str, str]]:
    """The ``HEADLINE`` labels as this evaluation reads them: the scored output named (``info``:
    ``eval_oracle_target``, ``eval_oracle_kind``, ``kmer_js_k``, ``threshold``), a regressor's units
    instead of log-odds, and columns no input has a value for (a regressor's ATAC-Acc) left out."""
    target = info.get("eval_oracle_target") or "target"
    k = info.get("kmer_js_k", 3)
    labels = {c: v for c, v in HEADLINE.items() if c not in summary.columns or c == "n" or summary[c].notna().any()}
    labels["kmer_js"] = (f"{k}-mer JS", HEADLINE["kmer_js"][1].replace("k in the header", f"k = {k}"))
    if info.get("eval_oracle_kind") == "regression":
        held_out = f"median evaluation-oracle prediction of {target} (the held-out oracle)"
        labels["pred_activity_median"] = ("Pred-Activity", held_out)
        labels["reward_median"] = ("reward", f"median reward-oracle prediction of {target} (the oracle alignment optimised)")
    else:
        for column in ("pred_activity_median", "reward_median", "accessibility_accuracy"):
            if column in labels:
                labels[column] = (labels[column][0], labels[column][1].replace("HepG2", str(target)))
    return labels


def optional_labels(summary: pd.DataFrame, info: dict) -> dict[str, tuple[str, str]]:
    """``optional_columns`` with the threshold of ``above_threshold`` stated."""
    labels = optional_columns(summary)
    if "above_threshold" in labels and info.get("threshold") is not None:
        label, text = labels["above_threshold"]
        labels["above_threshold"] = (label, f"{text}: {info['threshold']:.4g}")
    return labels


def class_columns(summary: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """Labels of the ``p_<class>_median`` columns of ``summary`` (evaluation oracle, every class)."""
    return {
        c: (f"p({c[2:-7]})", f"median evaluation-oracle probability of class {c[2:-7]}")
        for c in summary.columns
        if c.startswith("p_") and c.endswith("_median")
    }


def optional_columns(summary: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """The ``OPTIONAL`` and per-class columns that ``summary`` holds, with labels, in display order."""
    present = {c: v for c, v in OPTIONAL.items() if c in summary.columns and summary[c].notna().any()}
    return {**present, **class_columns(summary)}
