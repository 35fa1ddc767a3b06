"""One sentence of verdict per input, by fixed rules against the real held-out rows.

With ``t`` / ``o`` the Pred-Activity medians of the real target / off-target rows and ``m`` the
input's: *beyond real {target} DHS* if m > t + 1 nat; *accessible like real {target} DHS* if
m ≥ (t + o) / 2; otherwise *not {target}-like*. *Natural* if the 3-mer correlation with the
reference is at least the real off-target row's (i.e. within the range of real DHS); *diverse* if
the mean pairwise Levenshtein is at least 80% of the real
target row's; *near copies of training sequences* if more than 5% are near copies; the
*reward-hacking alarm* rings when the reward − Pred-Activity gap exceeds the real row's by > 1 nat.

Without real DHS rows (a user's oracle and data) the reference row (``evaluate --reference FILE``)
is the yardstick, with ``r`` its Pred-Activity median and ``s`` the standard deviation of its
per-sequence scores: *above the reference* if m > r, else *below the reference*; *diverse* if the
mean pairwise Levenshtein is at least 80% of the reference row's; the alarm rings when the gap is
positive and exceeds the reference row's by more than s (the oracle's own units, so a regressor's
scale counts).
"""

from __future__ import annotations

import math

import numpy as np

from dnadav.evaluate.evaluator import EvaluationResult

__all__ = ["DHS_RULES", "REFERENCE_RULES", "RULES", "verdicts"]

RULES = __doc__.split("\n\n", 1)[1].strip().replace("``", "").replace("*", "")
DHS_RULES, REFERENCE_RULES = RULES.split("\n\n")


def _fmt(value: float) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.2f}"


def _diversity_and_copies(row, real) -> list[str]:
    """The diversity clause (≥ 80% of the ``real`` row's pairwise Levenshtein) and, when more than 5%
    of the input are near copies of training sequences, the memorisation clause."""
    diverse = row["levenshtein_diversity"] >= 0.8 * real["levenshtein_diversity"]
    parts = [
        f"{'diverse' if diverse else 'low diversity'} (pairwise Levenshtein {_fmt(row['levenshtein_diversity'])} "
        f"vs {_fmt(real['levenshtein_diversity'])} bases)"
    ]
    near = row.get("near_copy_fraction", float("nan"))
    if isinstance(near, float) and near > 0.05:
        parts.append(f"{near:.0%} near copies of training sequences")
    return parts


def _against_reference(result: EvaluationResult, name: str, row, reference_row: str) -> str:
    """The verdict of one input measured against the reference row (the module docstring's last rules)."""
    ref = result.summary.loc[reference_row]
    m, r = row["pred_activity_median"], ref["pred_activity_median"]
    scores = result.per_sequence
    spread = float(np.std(scores.loc[scores["input"] == reference_row, "pred_activity"])) if len(scores) else float("nan")
    activity = f"{'above' if m > r else 'below'} the reference set (Pred-Activity {_fmt(m)} vs {_fmt(r)})"
    naturalness = f"3-mer r {_fmt(row['kmer3_correlation'])} to the reference"
    parts = [activity, naturalness, *_diversity_and_copies(row, ref)]
    gap, real_gap = row["reward_eval_gap"], ref["reward_eval_gap"]
    if gap > 0 and gap > real_gap + spread:
        alarm = f"reward-hacking alarm: reward exceeds the held-out score by {_fmt(gap)} (reference: {_fmt(real_gap)})"
    else:
        alarm = f"no reward-hacking alarm (gap {_fmt(gap)} vs {_fmt(real_gap)})"
    return f"{name}: {', '.join(parts)}; {alarm}."


def verdicts(
    result: EvaluationResult, *, target: str = "HepG2", controls: list[str] | None = None, reference_row: str | None = None
) -> dict[str, str]:
    """``{input: sentence}`` for every non-control row of ``result.summary``, against the real DHS
    rows or, without them, the ``reference_row``; with neither, a sentence that says no verdict can
    be given."""
    summary = result.summary
    controls = list(controls if controls is not None else result.controls)
    real_target = next((c for c in controls if c.startswith(f"real {target} ")), None)
    real_off = next((c for c in controls if c not in (real_target, reference_row)), None)
    out = {}
    for name, row in summary.iterrows():
        if name in controls:
            continue
        if (real_target is None or real_off is None) and reference_row in summary.index and row.get("n_valid", 0) > 0:
            out[name] = _against_reference(result, name, row, reference_row)
            continue
        if real_target is None or real_off is None or row.get("n_valid", 0) == 0:
            out[name] = f"{name}: no verdict (no real held-out rows to compare with, or no valid sequence)."
            continue
        t, o = summary.loc[real_target], summary.loc[real_off]
        m = row["pred_activity_median"]
        if m > t["pred_activity_median"] + 1.0:
            activity = f"scored beyond real {target} DHS"
        elif m >= 0.5 * (t["pred_activity_median"] + o["pred_activity_median"]):
            activity = f"accessible like real {target} DHS"
        else:
            activity = f"not {target}-like (closer to the off-target {real_off.split()[1]} DHS)"
        activity += f" (Pred-Activity {_fmt(m)} vs {_fmt(t['pred_activity_median'])} nats)"
        natural = row["kmer3_correlation"] >= o["kmer3_correlation"]
        naturalness = (
            f"{'natural composition' if natural else 'composition less natural than real DHS'} "
            f"(3-mer r {_fmt(row['kmer3_correlation'])}; "
            f"real: {_fmt(t['kmer3_correlation'])} {target}, {_fmt(o['kmer3_correlation'])} {real_off.split()[1]})"
        )
        parts = [activity, naturalness, *_diversity_and_copies(row, t)]
        gap, real_gap = row["reward_eval_gap"], t["reward_eval_gap"]
        if gap > real_gap + 1.0:
            alarm = f"reward-hacking alarm: reward exceeds the held-out score by {_fmt(gap)} nats (real: {_fmt(real_gap)})"
        else:
            alarm = f"no reward-hacking alarm (gap {_fmt(gap)} vs {_fmt(real_gap)} nats)"
        out[name] = f"{name}: {', '.join(parts)}; {alarm}."
    return out
