"""The ``dnadav`` command line: one module per subcommand in ``dnadav.commands``.

Each command module exposes ``add_parser(subparsers)`` (which calls ``set_defaults(run=run)``) and
``run(args) -> int``. User errors (``InputError``, missing files) print one line and exit with 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# OpenMP threads sleep instead of spinning while they wait: on a CPU shared with other processes
# a spinning torch thread pool ran the denoiser 4-5x slower (bench/bench_speed.py, "speed" section).
# Set before torch is imported (the commands import it lazily); an explicit user setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from dnadav import __version__
from dnadav.errors import InputError

__all__ = ["COMMANDS", "build_parser", "main"]

# Subcommand modules, in the order `dnadav --help` lists them.
COMMANDS: tuple[str, ...] = ("design", "evaluate", "align", "pretrain", "oracle", "data", "bench")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dnadav",
        description="Design regulatory DNA with masked discrete diffusion aligned by DAV, and evaluate designs honestly.",
    )
    parser.add_argument("--version", action="version", version=f"dnadav {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"dnadav.commands.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"dnadav.commands.{name}":
                raise
            continue  # a command that is not built yet is simply not offered
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "run", None) is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.run(args) or 0)
    except (InputError, FileNotFoundError, IsADirectoryError) as error:
        print(f"dnadav {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"dnadav {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
