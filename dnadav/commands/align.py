"""``dnadav align``: fine-tune the prior toward an oracle or objective with DAV (variational EM), resumably.
The options are ``dnadav.jobs.align_options.AlignOptions``'s fields."""

from __future__ import annotations

import argparse
import json

from dnadav.commands.options import add_arguments, from_namespace
from dnadav.jobs.align_options import AlignOptions

__all__ = ["add_parser", "config_from_args", "run"]

_CONSTRAINTS_TITLE = "hard constraints (enforced on every E-step path and logged sample)"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "align",
        help="align the diffusion prior to an oracle or objective with DAV (resumable)",
        description="Variational EM: each iteration searches with the current model (E-step) and distils the "
        "search's trajectories into it (M-step). Options marked 'preset' default to --preset's value.",
    )
    add_arguments(parser, AlignOptions, groups={"constraints": (_CONSTRAINTS_TITLE,)})
    parser.set_defaults(run=run)


def config_from_args(args: argparse.Namespace):
    """The ``AlignConfig`` of parsed ``dnadav align`` options (preset first, given options over it)."""
    from dnadav.jobs.align_options import align_config

    return align_config(from_namespace(AlignOptions, args))


def run(args: argparse.Namespace) -> int:
    from dnadav.jobs.align import run_align

    summary = run_align(from_namespace(AlignOptions, args))
    if summary:
        print(json.dumps(summary, indent=2))
    return 0
