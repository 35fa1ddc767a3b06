"""Is DAV's curve on or above every other method's point? Read from the trade-off curves' table.

    python bench/curve_dominance.py [--table docs/runs/tradeoff.csv] [--methods docs/runs/methods_cpu.csv]

Every point of ``bench/tradeoff_curves.py`` (mean over seeds, Pred-Activity median of the evaluation
oracle and 3-mer correlation to the held-out reference) whose curve is not DAV's, plus the guidance row of
the cpu methods table (guidance has no curve), is set against DAV's points: its iterations, the shipped
model plain and with search, the shipped model backed off toward the prior and DAV-KL. A competitor point
c is **covered** by a DAV point d when d's reward ≥ c's − s_r and d's 3-mer ≥ c's − s_k, where s is the
larger of the two points' seed sds (ddof 1) of that figure: DAV is on or above it within the seeds'
spread. **Dominated** drops the spread: d's reward ≥ c's and d's 3-mer ≥ c's. Prints a markdown table (the
best covering DAV point per competitor, the one with the highest 3-mer) and writes it as CSV to
docs/runs/tradeoff_dominance.csv.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
REWARD, KMER = "pred_activity_median", "kmer3_correlation"
REAL = "real HepG2 DHS (chr1)"


def is_dav(curve: str) -> bool:
    return curve.startswith("DAV")


def guidance_points(methods: Path) -> pd.DataFrame:
    """The guidance rows of the cpu methods table, in the curves' column names."""
    table = pd.read_csv(methods)
    rows = table[table["method"].str.startswith("guidance")]
    return pd.DataFrame(
        {
            "curve": "guidance",
            "name": rows["method"],
            REWARD: rows[f"{REWARD}_mean"],
            f"{REWARD}_sd": rows[f"{REWARD}_sd"],
            KMER: rows[f"{KMER}_mean"],
            f"{KMER}_sd": rows[f"{KMER}_sd"],
        }
    )


def covering(competitor: pd.Series, dav: pd.DataFrame, slack: bool) -> pd.DataFrame:
    """DAV's points on or above ``competitor`` (within the larger seed sd of each figure when ``slack``)."""
    sd_r = dav[f"{REWARD}_sd"].fillna(0).clip(lower=float(competitor.get(f"{REWARD}_sd", 0) or 0)) if slack else 0.0
    sd_k = dav[f"{KMER}_sd"].fillna(0).clip(lower=float(competitor.get(f"{KMER}_sd", 0) or 0)) if slack else 0.0
    return dav[(dav[REWARD] >= competitor[REWARD] - sd_r) & (dav[KMER] >= competitor[KMER] - sd_k)]


def dominance(points: pd.DataFrame) -> pd.DataFrame:
    dav = points[points["curve"].map(is_dav)]
    rows = []
    for _, c in points[~points["curve"].map(is_dav) & (points["curve"] != REAL)].iterrows():
        within, strictly = covering(c, dav, slack=True), covering(c, dav, slack=False)
        best = (strictly if len(strictly) else within).sort_values(KMER, ascending=False).head(1)
        rows.append(
            {
                "point": c["name"],
                "reward": c[REWARD],
                "kmer3": c[KMER],
                "covered": bool(len(within)),
                "dominated": bool(len(strictly)),
                "by": best["name"].iloc[0] if len(best) else "",
                "by_reward": best[REWARD].iloc[0] if len(best) else float("nan"),
                "by_kmer3": best[KMER].iloc[0] if len(best) else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def markdown(table: pd.DataFrame) -> str:
    lines = [
        "| point | Pred-Activity | 3-mer | DAV on or above (seeds' sd) | strictly | DAV point | its Pred-Activity | its 3-mer |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for _, r in table.iterrows():
        lines.append(
            f"| {r['point']} | {r['reward']:.2f} | {r['kmer3']:.3f} | {'yes' if r['covered'] else '**no**'} "
            f"| {'yes' if r['dominated'] else 'no'} | {r['by'] or '—'} | {r['by_reward']:.2f} | {r['by_kmer3']:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--table", type=Path, default=ROOT / "docs" / "runs" / "tradeoff.csv")
    parser.add_argument("--methods", type=Path, default=ROOT / "docs" / "runs" / "methods_cpu.csv")
    args = parser.parse_args()
    points = pd.concat([pd.read_csv(args.table), guidance_points(args.methods)], ignore_index=True)
    table = dominance(points)
    table.to_csv(ROOT / "docs" / "runs" / "tradeoff_dominance.csv", index=False)
    print(markdown(table))
    uncovered = table[~table["covered"]]
    missing = ", ".join(uncovered["point"]) or "none"
    print(f"\n{len(table) - len(uncovered)} of {len(table)} points covered; not covered: {missing}")


if __name__ == "__main__":
    main()
