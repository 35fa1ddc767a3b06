"""Does the default digits align meet issue 20's digits targets at every seed? (issue 20)

Runs the default command, ``dnadav image align --pipeline digits --reward digit=3`` (only ``--seed`` and
``--mstep-average`` changed), at each ``--seeds`` × ``--mstep-average`` into ``--runs``/avg<A>_seed<S>
(a finished run is read back; an unfinished one resumes), then judges the aligned model as the card does:
``dnadav image sample --pipeline RUN --n 256 --seed K`` at sampling seeds 0 1 2, read by the five
evaluation classifiers (``bench/image_digits_report.py``'s measures, which no run saw). The iteration a
run keeps is chosen on the validation classifiers' realism alone (``--min-realism reference``).

Targets: ≥ 0.85 read as 3, realism ≥ the reference model's own (``digits``, judged the same way at the same
sampling seeds: 0.766), nearest training digit ≥ real 3s' (1.48, models/digits_aligned_3/card.md).
Rows: docs/runs/digits_seeds.csv. About 7 min per run alone on 2 cores.
"""

from __future__ import annotations

import argparse
import functools
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmarks_md import merge_csv_rows  # noqa: E402
from image_digits_report import read_pngs  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ROWS = ROOT / "docs" / "runs" / "digits_seeds.csv"
REAL_THREES_NEAREST = 1.48  # nearest training digit of real 3s (models/digits_aligned_3/card.md)
FIELDS = ["mstep_average", "seed", "kept_iteration", "of_iterations", "align_minutes", "read_as_3", "read_as_3_by_seed",
          "realism", "realism_by_seed", "reference_realism", "nearest_train_l2", "diversity_l2", "meets_targets"]  # fmt: skip


def dnadav(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "dnadav", *args], check=True, cwd=ROOT)


@functools.cache
def judges() -> tuple:
    """The training digits and the five evaluation classifiers, loaded once per call of the script."""
    from dnadav.image.digits import load_digit_images
    from dnadav.image.rewards import load_digit_ensemble

    return load_digit_images()[0], load_digit_ensemble("eval")


def judge(pipeline: str, folder: Path, samples: int) -> list[dict]:
    """``samples`` plain samples of ``pipeline`` at sampling seeds 0 1 2 (kept in ``folder``/judge_K) -> the
    five evaluation classifiers' reports, one per sampling seed."""
    from dnadav.image.metrics import digit_report

    train, ensemble = judges()
    reports = []
    for sampling_seed in (0, 1, 2):
        out = folder / f"judge_{sampling_seed}"
        if not (out / "images").is_dir():
            dnadav("image", "sample", "--pipeline", pipeline, "--n", str(samples), "--seed", str(sampling_seed),
                   "--out", str(out), "--reward", "digit=3")  # fmt: skip
        reports.append(digit_report(read_pngs(out), 3, ensemble[0], train, None, ensemble))
    return reports


def measure(seed: int, average: float, runs: Path, samples: int, reference: float) -> dict:
    """Run (or read back) the default digits align at ``seed`` with ``--mstep-average average`` -> its row;
    ``reference``: the reference model's realism, judged alike."""
    run = runs / f"avg{average:g}_seed{seed}"
    if not (run / "aligned.json").is_file():
        dnadav("image", "align", "--pipeline", "digits", "--reward", "digit=3", "--seed", str(seed),
               "--mstep-average", str(average), "--out", str(run), "--quiet")  # fmt: skip
    minutes = json.loads((run / "manifest.json").read_text())["wall_minutes_this_session"]  # the align's wall-clock
    selection = json.loads((run / "aligned.json").read_text())["selection"]
    reports = judge(str(run), run, samples)
    mean = lambda key: sum(r[key] for r in reports) / len(reports)  # noqa: E731
    row = {
        "mstep_average": average, "seed": seed, "kept_iteration": selection["kept_iteration"],
        "of_iterations": selection["of_iterations"], "align_minutes": round(minutes, 1),
        "read_as_3": round(mean("eval_ensemble_share_digit"), 3),
        "read_as_3_by_seed": " ".join(f"{r['eval_ensemble_share_digit']:.3f}" for r in reports),
        "realism": round(mean("eval_realism"), 3), "realism_by_seed": " ".join(f"{r['eval_realism']:.3f}" for r in reports),
        "reference_realism": round(reference, 3), "nearest_train_l2": round(mean("nearest_train_l2"), 2),
        "diversity_l2": round(mean("diversity_l2"), 2),
    }  # fmt: skip
    row["meets_targets"] = (
        row["read_as_3"] >= 0.85 and row["realism"] >= reference and row["nearest_train_l2"] >= REAL_THREES_NEAREST
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--mstep-average", type=float, nargs="+", default=[0.0, 0.5])
    parser.add_argument("--samples", type=int, default=256, help="plain samples per sampling seed")
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "digits_seeds")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/runs alone")
    args = parser.parse_args()
    reports = judge("digits", args.runs / "reference", args.samples)
    reference = sum(r["eval_realism"] for r in reports) / len(reports)
    print(f"reference (digits) realism {reference:.3f}, read as 3 {sum(r['eval_ensemble_share_digit'] for r in reports) / 3:.3f}")
    measured = (measure(s, a, args.runs, args.samples, reference) for a in args.mstep_average for s in args.seeds)
    key_of = lambda row: (float(row["mstep_average"]), int(row["seed"]))  # noqa: E731
    merge_csv_rows(ROWS, FIELDS, key_of, measured, write=not args.no_write)


if __name__ == "__main__":
    main()
