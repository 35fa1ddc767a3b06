"""The ``dnadav`` command line: parse -> call the library (``dnadav.api`` and friends) -> print.

Each module in ``dnadav.commands`` exposes ``add_parser(subparsers)`` (which calls
``set_defaults(run=run)``) and ``run(args) -> int``. User errors (``InputError``, missing files)
print one line and exit with 2; a closed stdout (``dnadav ... | head``) ends quietly.
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

from dnadav._version import __version__
from dnadav.errors import InputError

__all__ = ["COMMANDS", "HelpFormatter", "Parser", "build_parser", "main"]

# Subcommand modules, in the order `dnadav --help` lists them.
COMMANDS: tuple[str, ...] = ("design", "evaluate", "align", "pretrain", "oracle", "data")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows every option's default (options without a help text get one that is just the default)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        quiet_default = action.default is None or action.default is argparse.SUPPRESS or action.default is False
        if "%(default)" in text or quiet_default or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)".strip()

    def _format_action(self, action: argparse.Action) -> str:
        if action.help is None and action.option_strings:
            action.help = ""
        return super()._format_action(action)


class Parser(argparse.ArgumentParser):
    """ArgumentParser whose subcommands (and theirs) all use ``HelpFormatter``."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="dnadav",
        description="Design regulatory DNA with masked discrete diffusion aligned by DAV, and evaluate designs honestly.",
        epilog="Run `dnadav COMMAND --help` for a command's options. Python API: docs/api.md.",
    )
    parser.add_argument("--version", action="version", version=f"dnadav {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"dnadav.commands.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"dnadav.commands.{name}":
                raise
            continue  # a command that is not built yet is simply not offered
        module.add_parser(subparsers)
    from dnadav.commands.image import add_image_parser  # the plugin's commands; diffusers loads only when they run

    add_image_parser(subparsers)
    return parser


def _stdout_closed() -> int:
    """stdout's reader went away (``| head``): point stdout at devnull so the exit flush is quiet."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 0


def main(argv: list[str] | None = None) -> int:
    from dnadav.io import set_command

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "run", None) is None:
        parser.print_help(sys.stderr)
        return 2
    set_command(argv)
    try:
        code = int(args.run(args) or 0)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        return _stdout_closed()
    except (InputError, FileNotFoundError, IsADirectoryError, NotADirectoryError) as error:
        print(f"dnadav {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"dnadav {args.command}: interrupted", file=sys.stderr)
        return 130
    finally:
        set_command(None)


if __name__ == "__main__":
    sys.exit(main())
