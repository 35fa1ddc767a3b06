"""The warm start's E-step over real data, and the warm models of align runs (issue 20).

Part 1, the data E-step alone (no fit): every train-split DHS sequence (39,254, all four cell types) scored
once by the reward oracle's margin objective ``<cell> - max(<others>)``, 4,096 resampled by exp(r/α) —
α solved for a Kish ESS of ρ·N (``dnadav.core.warm_start.tilt_data``, what ``dnadav align --warm-start``
does), or at a fixed α = 0.2 on the bounded ``softmin(<margin>, 0)`` — or the cell type's own label alone
(no reward call). 512 of the kept sequences are judged as an align run's log judges plain samples:
evaluation-oracle accessibility and specificity, 3-mer correlation to the validation reference (chr2, what
a run selects on) and to the judge's (chr1), Levenshtein diversity.

Part 2 (``--runs RUN ...``): the warm model each run fitted (``RUN/warm_start/``), judged by the run's own
per-iteration judge (its config's plain samples and seed): what the run started its iterations from.

    python bench/warm_start_data.py [--cell-types gm12878 k562] [--runs runs/.../prod_gm12878 ...] [--no-write]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from align_celltypes import CELL_TYPES, margin_objective  # noqa: E402
from benchmarks_md import machine, write_section  # noqa: E402

from dnadav.core.importance import effective_sample_size, resample_counts  # noqa: E402
from dnadav.core.warm_start import tilt_data  # noqa: E402
from dnadav.data.dhs import load_dhs  # noqa: E402
from dnadav.dna.config import AlignConfig  # noqa: E402
from dnadav.dna.presets import preset  # noqa: E402
from dnadav.dna.tokens import strings_to_tokens, tokens_to_onehot  # noqa: E402
from dnadav.evaluate.reference import validation_reference  # noqa: E402
from dnadav.jobs.align_judge import run_judge  # noqa: E402
from dnadav.jobs.align_metrics import metrics_of_tokens  # noqa: E402

SECTION = "warm start from the training data (issue 20)"
KEPT = 4096
COLUMNS = (
    ("plain/eval_accessibility_accuracy", "accessible"), ("plain/eval_specificity", "specific"),
    ("select/kmer3_validation", "3-mer valid."), ("plain/kmer3_correlation", "3-mer test"),
    ("plain/levenshtein_diversity", "Levenshtein"),
)  # fmt: skip


def kept_set_rows(cell: str) -> list[dict]:
    """Part 1 for one cell type: one row per resampling rule."""
    judge = run_judge(dataclasses.replace(preset("default"), oracle=cell, objective=margin_objective(cell)))
    validation = validation_reference(judge.reward_oracle)
    train = load_dhs("train")
    tokens = strings_to_tokens(train["sequence"].tolist())
    with torch.no_grad():
        margin = torch.cat([judge.reward_fn(tokens_to_onehot(chunk)).double() for chunk in tokens.split(1024)])
    bounded = -torch.logaddexp(-margin, torch.zeros_like(margin))  # softmin(margin, 0) = log σ(margin)
    own = torch.tensor((train["cell_type"].str.lower() == cell).to_numpy())
    rules = [(f"margin, ESS {rho}", rho) for rho in (0.2, 0.1, 0.05)]
    rules += [("softmin(margin, 0), α = 0.2", bounded / 0.2), ("the cell type's label only", torch.where(own, 0.0, -1e9))]
    rows = []
    for name, rule in rules:
        generator = torch.Generator().manual_seed(0)
        if isinstance(rule, float):
            kept, _, _ = tilt_data(margin, rule, KEPT, generator)
            ess = rule
        else:
            kept, ess = resample_counts(rule, KEPT, generator), effective_sample_size(rule) / len(rule)
        judged = kept[torch.randperm(KEPT, generator=generator)[:512]]
        metrics = metrics_of_tokens(tokens[judged], judge.prior, judge.reward_fn, judge.eval_oracle, judge.reference_set,
                                    judge.schedule, validation_reference=validation)  # fmt: skip
        row = {"cell_type": cell, "rule": name, "ess": ess, "distinct": int(kept.unique().numel()),
               "own_label": float(own[kept].double().mean()), **{k: metrics[k] for k, _ in COLUMNS}}  # fmt: skip
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def warm_model_row(run: Path) -> dict:
    """Part 2 for one run: its warm model judged by its own per-iteration judge."""
    from dnadav.dna.checkpoint import load_denoiser

    saved = json.loads((run / "warm_start" / "config.json").read_text())
    config = AlignConfig.from_dict(json.loads((run / "config.json").read_text())["align_config"])  # a finished run's
    judge = run_judge(config)
    model, _ = load_denoiser(run / "warm_start")
    metrics = judge.metrics_of(model, torch.Generator().manual_seed(config.seed))
    row = {"run": run.name, "cell_type": config.oracle, **{k: metrics[k] for k, _ in COLUMNS}}
    row["reward_median"] = metrics["plain/reward_median"]
    row["temperature"], row["steps"] = saved["warm_start"]["temperature"], saved["warm_start"]["steps"]
    print(json.dumps(row), flush=True)
    return row


def table(lead: list[str], rows: list[list[str]]) -> list[str]:
    """A markdown table: the ``lead`` columns, then ``COLUMNS``; each row its lead cells then its metrics."""
    names = [*lead, *(name for _, name in COLUMNS)]
    return ["| " + " | ".join(names) + " |", "|" + "---|" * len(names), *("| " + " | ".join(r) + " |" for r in rows)]


def metric_cells(row: dict) -> list[str]:
    return [f"{row[k]:.1f}" if "levenshtein" in k else f"{row[k]:.3f}" for k, _ in COLUMNS]


def markdown(kept: list[dict], warm: list[dict]) -> str:
    lines = [
        "Command: `python bench/warm_start_data.py" + (" --runs …" if warm else "") + "`. Machine: " + machine() + ".",
        "",
        "**The data E-step alone.** All 39,254 train-split DHS sequences scored once by the reward oracle's margin "
        "objective, 4,096 resampled (systematic) by each rule; 512 of them judged as an align run's log judges plain "
        "samples (evaluation oracle; 3-mer to the chr2 validation reference and to the chr1 judge's). ESS: the "
        "weights' Kish ESS / N; own label: the share of kept sequences labelled with the target cell type.",
        "",
        *table(
            ["cell type", "rule", "ESS", "distinct", "own label"],
            [
                [r["cell_type"], r["rule"], f"{r['ess']:.3f}", str(r["distinct"]), f"{r['own_label']:.2f}", *metric_cells(r)]
                for r in kept
            ],
        ),  # fmt: skip
    ]
    if warm:
        lines += [
            "",
            "**The warm models of align runs** (`RUN/warm_start/`, judged by the run's own per-iteration judge: its "
            "plain samples, steps and seed).",
            "",
            *table(
                ["run", "cell type", "steps", "α", "reward median"],
                [
                    [
                        r["run"],
                        r["cell_type"],
                        str(r["steps"]),
                        f"{r['temperature']:.2f}",
                        f"{r['reward_median']:.2f}",
                        *metric_cells(r),
                    ]
                    for r in warm
                ],
            ),  # fmt: skip
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cell-types", nargs="*", default=list(CELL_TYPES), choices=CELL_TYPES)
    parser.add_argument("--runs", nargs="*", type=Path, default=[])
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    kept = [row for cell in args.cell_types for row in kept_set_rows(cell)]
    warm = [warm_model_row(run) for run in args.runs]
    if not args.no_write:
        write_section(SECTION, markdown(kept, warm))


if __name__ == "__main__":
    main()
