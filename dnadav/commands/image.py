"""``dnadav image sample`` and ``dnadav image align``: the image plugin's commands.

Register them with ``add_image_parser(subparsers)`` (it adds ``image`` with two subcommands, each
setting ``run``). Standalone: ``python -m dnadav.commands.image sample ...``. The options are the
jobs' dataclasses (``dnadav.jobs.image_sample``, ``dnadav.jobs.image_align``); M is ``--children``
as in ``dnadav design``, and ``--search`` its deprecated alias (one release, with a warning).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dnadav.commands.options import add_arguments, from_namespace
from dnadav.errors import InputError
from dnadav.jobs.image_align import ImageAlignOptions
from dnadav.jobs.image_sample import ImageSampleOptions, check_out

__all__ = ["add_image_parser", "run_sample", "run_align", "main"]


def _add(parser: argparse.ArgumentParser, options: type) -> None:
    add_arguments(parser, options)
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--force", action="store_true", help="overwrite --out")
    parser.add_argument("--search", type=int, default=None, metavar="M", help="deprecated: use --children")


def add_image_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add ``image`` with ``sample`` and ``align`` to a CLI's subparsers."""
    image = subparsers.add_parser("image", help="the image plugin: DDIM sampling, search and DAV over diffusers pipelines")
    sub = image.add_subparsers(dest="image_command", metavar="IMAGE_COMMAND", required=True)
    sample = sub.add_parser("sample", help="plain DDIM samples, or the E-step at test time with --children M")
    _add(sample, ImageSampleOptions)
    sample.set_defaults(run=run_sample)
    align = sub.add_parser("align", help="DAV over the image model (resumable)")
    _add(align, ImageAlignOptions)
    align.set_defaults(run=run_align)


def _options(options: type, args: argparse.Namespace):
    given = {"out": args.out, "search": args.search}
    if options is ImageSampleOptions:
        given["force"] = args.force
    return from_namespace(options, args, **given)


def run_sample(args: argparse.Namespace) -> int:
    """Plain DDIM samples, or the E-step (``--children M``), under ``--out``."""
    from dnadav.jobs.image_sample import sample_images

    print(json.dumps(sample_images(_options(ImageSampleOptions, args))))
    return 0


def run_align(args: argparse.Namespace) -> int:
    """DAV over the image model into ``--out`` (resumed from ``checkpoints/last.ckpt``)."""
    from dnadav.jobs.image_align import align_images

    options = _options(ImageAlignOptions, args)
    options.check()
    check_out(args.out, True, "aligned.json")  # --out a file, or under one: one line (a finished run: below)
    if (args.out / "aligned.json").exists() and not args.force:
        raise InputError(f"{args.out}: already holds a finished run (aligned.json); pass --force to start again")
    summary = align_images(options, resume=not args.force)
    print(json.dumps(summary, indent=2, default=str))
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m dnadav.commands.image sample|align ...`` (same as ``dnadav image ...``)."""
    parser = argparse.ArgumentParser(prog="dnadav")
    subparsers = parser.add_subparsers(dest="command")
    add_image_parser(subparsers)
    args = parser.parse_args(["image", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.run(args) or 0)
    except (InputError, FileNotFoundError) as error:
        print(f"dnadav image {args.image_command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
