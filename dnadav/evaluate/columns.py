"""The report's columns: the headline metrics and the optional ones, each with its label and one-line
definition (docs/metrics.md), in display order."""

from __future__ import annotations

import pandas as pd

__all__ = ["HEADLINE", "OPTIONAL", "class_columns", "optional_columns"]

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
    "specificity": ("specificity", "share with p(target) > 0.5 and every other cell type < 0.1 (evaluation oracle)"),
    "margin_median": ("margin", "median log-odds margin of the target over the strongest off-target (nats)"),
    "objective_median": ("objective", "median of the objective expression under the evaluation oracle (nats)"),
    "violating_fraction": ("violating", "share of sequences breaking at least one hard constraint"),
    "violations": ("violations", "constraint violations counted over all sequences (sites, runs, GC, fixed bases)"),
}


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
