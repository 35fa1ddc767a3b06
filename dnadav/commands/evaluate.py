"""``dnadav evaluate``: batch evaluation of FASTA/CSV/TSV/HDF5 files into a report folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dnadav.errors import InputError

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("evaluate", help="evaluate sequence files; write an HTML/JSON/CSV report")
    parser.add_argument("inputs", nargs="+", type=Path, help="FASTA/CSV/TSV/HDF5 files (one report row each)")
    parser.add_argument("--report", required=True, type=Path, help="report folder")
    parser.add_argument("--oracle", default="hepg2", help="oracle name or folder (default hepg2)")
    parser.add_argument(
        "--reference",
        choices=["eval", "signal"],
        default="eval",
        help="rank held-out HepG2 DHS by the evaluation oracle (default) or by DHS signal",
    )
    parser.add_argument("--reference-size", type=int, default=500)
    parser.add_argument("--no-loglik", action="store_true", help="skip App-Log-Lik (the slowest metric)")
    parser.add_argument("--loglik-samples", type=int, default=4, help="ELBO time samples per sequence (default 4)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing report")
    parser.add_argument("--quiet", action="store_true")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from dnadav.data import read_sequences

    names = [p.name for p in args.inputs]
    if len(set(names)) != len(names):
        raise InputError("input files must have distinct names (they label the report rows)")
    tables = {p.name: read_sequences(p, on_invalid="drop") for p in args.inputs}
    for name, table in tables.items():
        if table.dropped and not args.quiet:
            print(f"dnadav evaluate: {name}: {table.dropped} invalid record(s) counted as invalid and left out", file=sys.stderr)

    from dnadav.diffusion import load_prior
    from dnadav.evaluate.evaluator import evaluate_sets
    from dnadav.evaluate.reference import reference_sequences, training_sequences
    from dnadav.evaluate.report import write_report
    from dnadav.oracles import load_oracle

    reward_oracle, eval_oracle = load_oracle(args.oracle, "reward"), load_oracle(args.oracle, "eval")
    target = eval_oracle.target
    reference = reference_sequences(target, args.reference, args.reference_size, args.oracle)
    result = evaluate_sets(
        tables,
        reward_oracle=reward_oracle,
        eval_oracle=eval_oracle,
        reference=reference,
        training=training_sequences(),
        prior=None if args.no_loglik else load_prior(),
        loglik_time_samples=args.loglik_samples,
    )
    ranking = "the evaluation oracle's reward" if args.reference == "eval" else "DHS total signal"
    description = (
        f"top {len(reference)} {target}-specific DHS sequences of the held-out test chromosome (chr1), ranked by {ranking}"
    )
    command = (
        "dnadav " + " ".join(sys.argv[1:])
        if sys.argv and sys.argv[0].endswith("dnadav")
        else "dnadav evaluate " + " ".join(map(str, args.inputs))
    )
    page = write_report(
        result,
        args.report,
        command=command,
        oracle_names={"reward": f"{args.oracle} (reward)", "eval": f"{args.oracle} (eval)"},
        reference_description=description,
        force=args.force,
    )
    if not args.quiet:
        columns = [
            "n",
            "n_invalid",
            "pred_activity_median",
            "accessibility_accuracy",
            "kmer3_correlation",
            "levenshtein_diversity",
            "app_log_lik_median",
        ]
        print(result.summary[columns].to_string(float_format=lambda v: f"{v:.3f}"))
        print(f"dnadav evaluate: report written to {page} ({result.info['seconds']:.1f} s)", file=sys.stderr)
    return 0
