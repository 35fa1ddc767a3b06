"""Options several commands share: the hard constraints (docs/constraints.md) and ``--max-batch``."""

from __future__ import annotations

import argparse
from pathlib import Path

from dnadav.errors import InputError

__all__ = ["add_constraint_options", "constraint_spec", "add_max_batch_option", "max_batch_value"]


def add_constraint_options(parser: argparse.ArgumentParser, title: str = "hard constraints (enforced while sampling)") -> None:
    """``--forbid/--gc/--max-homopolymer/--prefix/--suffix/--template/--constraints``."""
    group = parser.add_argument_group(title)
    group.add_argument("--forbid", action="append", default=None, help="enzyme names or IUPAC sites, comma-separated; repeatable")
    group.add_argument("--gc", default=None, help="GC-content bounds LO:HI (fractions), e.g. 0.40:0.60")
    group.add_argument("--max-homopolymer", default=None, help="longest allowed run of one base (bp)")
    group.add_argument("--prefix", default=None, help="fixed 5' bases (cloning adapter)")
    group.add_argument("--suffix", default=None, help="fixed 3' bases")
    group.add_argument("--template", default=None, help="masked template, N = free, e.g. NNNN...ACGT...NNNN")
    group.add_argument("--constraints", type=Path, default=None, help="JSON or YAML file with the same fields")


def constraint_spec(args: argparse.Namespace):
    """The ``ConstraintSpec`` of the parsed options (file first, options over it)."""
    from dnadav.constraints import spec_from_options

    forbid = None if args.forbid is None else ",".join(args.forbid)
    return spec_from_options(forbid, args.gc, args.max_homopolymer, args.prefix, args.suffix, args.template, args.constraints)


def add_max_batch_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-batch",
        default="auto",
        help="rows per network/oracle call: 'auto' (the measured default of the device: 64 on CPU, no limit on GPU), "
        "0 (no limit) or a positive number; results do not depend on it",
    )


def max_batch_value(text: str) -> int | str | None:
    """``--max-batch`` as ``dnadav.core.batching.resolve_max_batch`` takes it; InputError on anything else."""
    if text == "auto":
        return "auto"
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise InputError(f"--max-batch must be 'auto', 0 (no limit) or a positive whole number; got {text!r}")
    return value or None
