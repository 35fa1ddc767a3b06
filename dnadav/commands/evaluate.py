"""``dnadav evaluate``: batch evaluation of FASTA/CSV/TSV/HDF5 files into a report folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dnadav import defaults
from dnadav.commands.shared_options import add_constraint_options, constraint_spec
from dnadav.errors import InputError

__all__ = ["add_parser", "run"]

_PRINTED = (
    "n",
    "n_valid",
    "pred_activity_median",
    "reward_median",
    "accessibility_accuracy",
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
        "target and an off-target cell type): validity, Pred-Activity on the held-out evaluation oracle, naturalness, "
        "motif enrichment, App-Log-Lik, diversity, novelty, and a one-sentence verdict per file. Definitions: docs/metrics.md.",
    )
    parser.add_argument("inputs", nargs="+", type=Path, help="FASTA/CSV/TSV/HDF5 files (one report row each)")
    parser.add_argument(
        "--report", required=True, type=Path, help="report folder (report.html, metrics.json/csv, per_sequence.csv)"
    )
    parser.add_argument("--oracle", default=defaults.ORACLE, help="oracle name or folder (the shipped reward + eval pair)")
    parser.add_argument(
        "--reference",
        choices=["top-eval", "signal", "gosai"],
        default="top-eval",
        help="reference set: held-out (chr1) target-specific DHS ranked by the evaluation oracle, or by DHS total signal, "
        "or DRAKES's top 0.1%% of the imported Gosai MPRA table",
    )
    parser.add_argument(
        "--objective", default=None, help='also report this reward expression, e.g. "k562 - max(hepg2,gm12878,hesc)"'
    )
    add_constraint_options(parser, "hard constraints (every sequence's violations are counted)")
    parser.add_argument("--reference-size", type=int, default=500, help="reference sequences")
    parser.add_argument("--real-size", type=int, default=300, help="real held-out sequences per real row (target, off-target)")
    parser.add_argument("--no-real", action="store_true", help="leave out the rows of real held-out sequences")
    parser.add_argument("--no-loglik", action="store_true", help="skip App-Log-Lik (the slowest metric)")
    parser.add_argument("--loglik-samples", type=int, default=4, help="ELBO time samples per sequence")
    parser.add_argument(
        "--novelty",
        choices=["hamming", "levenshtein"],
        default="hamming",
        help="distance to the nearest training sequence (levenshtein is exact but ~2 min per 640 sequences)",
    )
    parser.add_argument("--kmer-js-k", type=int, default=3, choices=[3, 4, 5, 6], help="k of the k-mer JS divergence")
    parser.add_argument("--force", action="store_true", help="overwrite an existing report")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from dnadav.api import evaluate
    from dnadav.evaluate.report import REPORT_FILES
    from dnadav.io import check_writable

    constraints = constraint_spec(args)  # bad constraint options fail before any work
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

    report = evaluate(
        {p.name: p for p in args.inputs},
        oracle=args.oracle,
        reference=args.reference,
        reference_size=args.reference_size,
        real_rows=not args.no_real,
        real_size=args.real_size,
        loglik=not args.no_loglik,
        loglik_samples=args.loglik_samples,
        novelty=args.novelty,
        kmer_js_k=args.kmer_js_k,
        on_dropped=dropped,
        objective=args.objective,
        constraints=constraints,
    )
    page = report.to_html(args.report, force=args.force)
    if not args.quiet:
        shown = [c for c in (*_PRINTED, "specificity", "margin_median", "objective_median", "violating_fraction")]
        shown = [c for c in shown if c in report.metrics.columns and report.metrics[c].notna().any()]
        print(report.metrics[shown].to_string(float_format=lambda v: f"{v:.3f}"))
        for sentence in report.verdicts.values():
            print(sentence)
        print(f"dnadav evaluate: report written to {page} ({report.result.info['seconds']:.1f} s)", file=sys.stderr)
    return 0
