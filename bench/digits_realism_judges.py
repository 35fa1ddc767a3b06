"""How much the digits world's realism depends on which classifier reads it, and which measure an align
run may select on: for `dnadav image sample` output folders, the share read as any digit with confidence
> 0.9 under each evaluation classifier (eval half, seeds 0-4), each validation classifier (reward half,
seeds 1-4) and the reward classifier itself (reward half, seed 0), and the correlations of each with the
five-member evaluation mean over the folders and over the runs they come from.

    python bench/digits_realism_judges.py FOLDER... [--run-pattern '_s\\d$'] [--csv rows.csv]

A folder's run is its name with ``--run-pattern`` removed (default: a trailing ``_s<K>``, the sampling seed).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from image_digits_report import read_pngs  # noqa: E402

from dnadav.image.metrics import class_probabilities, reading  # noqa: E402
from dnadav.image.rewards import load_digit_classifier, load_digit_ensemble  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folders", type=Path, nargs="+")
    parser.add_argument("--digit", type=int, default=3)
    parser.add_argument("--run-pattern", default=r"_s\d$")
    parser.add_argument("--csv", type=Path)
    args = parser.parse_args()
    judges = {f"eval{s}": m for s, m in enumerate(load_digit_ensemble("eval"))}
    validators = {f"valid{s}": m for s, m in enumerate(load_digit_ensemble("valid"), start=1)}
    readers = {**judges, **validators, "reward": load_digit_classifier("reward")}
    rows = []
    for folder in args.folders:
        images = read_pngs(folder)
        row = {"folder": folder.name, "run": re.sub(args.run_pattern, "", folder.name), "n": len(images)}
        probabilities = class_probabilities(images, list(readers.values()))  # [readers, N, classes], judges first
        for index, name in enumerate(readers):
            row[name] = reading(probabilities[index : index + 1], args.digit)[1]
        row["eval_share_digit"] = reading(probabilities[: len(judges)], args.digit)[0]
        rows.append(row)
    table = pd.DataFrame(rows)
    table["eval_mean"] = table[list(judges)].mean(axis=1)
    table["eval_sd"] = table[list(judges)].std(axis=1)
    table["valid_mean"] = table[list(validators)].mean(axis=1)
    pd.set_option("display.width", 250)
    print(table.round(3).to_string(index=False))
    runs = table.groupby("run").mean(numeric_only=True)
    print("\nper run (mean over its folders):")
    print(runs[["eval0", "eval_mean", "eval_sd", "valid_mean", "reward", "eval_share_digit"]].round(3).to_string())
    measures = ["eval0", "valid_mean", "reward"]
    for label, frame, method in (("folders", table, "pearson"), ("runs", runs, "pearson"), ("runs", runs, "spearman")):
        if len(frame) > 2:
            corr = frame[["eval_mean", *measures]].corr(method=method).loc["eval_mean", measures]
            print(f"{method} with the five-member evaluation mean over {len(frame)} {label}: " + ", ".join(
                f"{m} {corr[m]:.3f}" for m in measures))  # fmt: skip
    if args.csv:
        table.to_csv(args.csv, index=False)


if __name__ == "__main__":
    main()
