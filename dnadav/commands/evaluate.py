"""``dnadav evaluate``: batch evaluation of FASTA/CSV/TSV/HDF5 files into a report folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dnadav.commands.options import add_arguments, from_namespace
from dnadav.errors import InputError
from dnadav.jobs.evaluate import EvaluateOptions

__all__ = ["add_parser", "run"]

_PRINTED = (
    "n",
    "n_valid",
    "pred_activity_median",
    "reward_median",
    "accessibility_accuracy",
    "above_threshold",
    "kmer3_correlation",
    "motif_correlation",
    "app_log_lik_median",
    "levenshtein_diversity",
    "novelty_median",
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate sequence files; write an HTML/JSON/CSV report",
        description="Evaluate designed sequences (one report row per file, beside rows of real held-out DHS of the "
        "target and an off-target cell type, or of your --reference FILE): validity, Pred-Activity on the held-out "
        "evaluation oracle, naturalness, motif enrichment, App-Log-Lik, diversity, novelty, and a one-sentence "
        "verdict per file. Definitions: docs/metrics.md.",
    )
    parser.add_argument("inputs", nargs="+", type=Path, help="FASTA/CSV/TSV/HDF5 files (one report row each)")
    parser.add_argument(
        "--report", required=True, type=Path, help="report folder (report.html, metrics.json/csv, per_sequence.csv)"
    )
    add_arguments(
        parser, EvaluateOptions, groups={"constraints": ("hard constraints (every sequence's violations are counted)",)}
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing report")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from dnadav.evaluate.report import REPORT_FILES
    from dnadav.io import check_writable
    from dnadav.jobs.evaluate import evaluate

    options = from_namespace(EvaluateOptions, args)  # bad constraint options fail before any work
    names = [p.name for p in args.inputs]
    if len(set(names)) != len(names):
        raise InputError("input files must have distinct names (they label the report rows); rename or copy one")
    if args.report.exists() and not args.report.is_dir():
        raise InputError(f"{args.report}: is a file; --report names a folder")
    for name in (*REPORT_FILES, "manifest.json"):  # refuse before the slow part, not after it
        check_writable(args.report / name, args.force)

    def dropped(name: str, count: int) -> None:
        if not args.quiet:
            print(f"dnadav evaluate: {name}: {count} invalid record(s) counted as invalid and left out", file=sys.stderr)

    report = evaluate({p.name: p for p in args.inputs}, options, on_dropped=dropped)
    page = report.to_html(args.report, force=args.force)
    if not args.quiet:
        for note in report.result.info.get("notes", []):
            print(f"dnadav evaluate: notice: {note}", file=sys.stderr)
        shown = [c for c in (*_PRINTED, "specificity", "margin_median", "objective_median", "violating_fraction")]
        shown = [c for c in shown if c in report.metrics.columns and report.metrics[c].notna().any()]
        print(report.metrics[shown].to_string(float_format=lambda v: f"{v:.3f}"))
        for sentence in report.verdicts.values():
            print(sentence)
        print(f"dnadav evaluate: report written to {page} ({report.result.info['seconds']:.1f} s)", file=sys.stderr)
    return 0
