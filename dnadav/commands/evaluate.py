"""``dnadav evaluate``: batch evaluation of FASTA/CSV/TSV/HDF5 files into a report folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

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
        description="Evaluate designed sequences (one report row per file): validity, Pred-Activity on the held-out "
        "evaluation oracle, naturalness, motifs, App-Log-Lik, diversity, novelty. Definitions: docs/metrics.md.",
    )
    parser.add_argument("inputs", nargs="+", type=Path, help="FASTA/CSV/TSV/HDF5 files (one report row each)")
    parser.add_argument(
        "--report", required=True, type=Path, help="report folder (report.html, metrics.json/csv, per_sequence.csv)"
    )
    parser.add_argument("--oracle", default="hepg2", help="oracle name or folder (default hepg2: shipped reward + eval pair)")
    parser.add_argument(
        "--reference",
        choices=["top-eval", "eval", "signal"],
        default="top-eval",
        help="reference set: held-out (chr1) target-specific DHS ranked by the evaluation oracle (top-eval, default; "
        "'eval' is the same) or by DHS total signal",
    )
    parser.add_argument("--reference-size", type=int, default=500, help="reference sequences (default 500)")
    parser.add_argument("--no-loglik", action="store_true", help="skip App-Log-Lik (the slowest metric)")
    parser.add_argument("--loglik-samples", type=int, default=4, help="ELBO time samples per sequence (default 4)")
    parser.add_argument(
        "--novelty",
        choices=["hamming", "levenshtein"],
        default="hamming",
        help="distance to the nearest training sequence (levenshtein is exact but ~2 min per 640 sequences)",
    )
    parser.add_argument("--kmer-js-k", type=int, default=3, choices=[3, 4, 5, 6], help="k of the k-mer JS divergence (default 3)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing report")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from dnadav.data import read_sequences
    from dnadav.evaluate.report import REPORT_FILES
    from dnadav.io import check_writable

    names = [p.name for p in args.inputs]
    if len(set(names)) != len(names):
        raise InputError("input files must have distinct names (they label the report rows); rename or copy one")
    if args.reference_size < 1 or args.loglik_samples < 1:
        raise InputError("--reference-size and --loglik-samples must be at least 1")
    for name in (*REPORT_FILES, "manifest.json"):  # refuse before the slow part, not after it
        check_writable(args.report / name, args.force)
    tables = {p.name: read_sequences(p, on_invalid="drop") for p in args.inputs}
    for name, table in tables.items():
        if table.dropped and not args.quiet:
            print(f"dnadav evaluate: {name}: {table.dropped} invalid record(s) counted as invalid and left out", file=sys.stderr)
        if not len(table):
            raise InputError(f"{name}: no valid sequence to evaluate")

    from dnadav.evaluate.evaluator import evaluate_sets
    from dnadav.evaluate.reference import reference_sequences, training_sequences
    from dnadav.evaluate.report import write_report
    from dnadav.io import write_manifest
    from dnadav.oracles import load_oracle
    from dnadav.oracles.registry import oracle_folder

    reward_oracle, eval_oracle = load_oracle(args.oracle, "reward"), load_oracle(args.oracle, "eval")
    target = getattr(eval_oracle, "target", "HepG2")
    ranking = "signal" if args.reference == "signal" else "eval"
    reference = reference_sequences(target, ranking, args.reference_size, args.oracle)
    result = evaluate_sets(
        tables,
        reward_oracle=reward_oracle,
        eval_oracle=eval_oracle,
        reference=reference,
        training=training_sequences(),
        log_likelihood="skip" if args.no_loglik else "prior",
        loglik_time_samples=args.loglik_samples,
        novelty_metric=args.novelty,
        kmer_js_k=args.kmer_js_k,
    )
    by = "the evaluation oracle's reward" if ranking == "eval" else "DHS total signal"
    description = f"top {len(reference)} {target}-specific DHS sequences of the held-out test chromosome (chr1), ranked by {by}"
    command = (
        "dnadav " + " ".join(sys.argv[1:])
        if sys.argv[1:2] == ["evaluate"]
        else "dnadav evaluate " + " ".join(map(str, args.inputs))
    )
    page = write_report(
        result,
        args.report,
        command=command,
        oracle_names={"reward": f"{args.oracle} (reward role)", "eval": f"{args.oracle} (eval role)"},
        reference_description=description,
        force=args.force,
    )
    checkpoints = [oracle_folder(args.oracle, role) / "model.pt" for role in ("reward", "eval")]
    write_manifest(
        args.report / "manifest.json",
        config={
            k: (str(v) if isinstance(v, Path) else [str(p) for p in v] if k == "inputs" else v)
            for k, v in vars(args).items()
            if k != "run"
        },
        checkpoints=[p for p in checkpoints if p.is_file()],
        extra={"seconds": result.info["seconds"], "reference": description},
    )
    if not args.quiet:
        print(result.summary[list(_PRINTED)].to_string(float_format=lambda v: f"{v:.3f}"))
        print(f"dnadav evaluate: report written to {page} ({result.info['seconds']:.1f} s)", file=sys.stderr)
    return 0
