"""The Lightning options every training command shares (--devices, --accelerator, --strategy)."""

from __future__ import annotations

import argparse

__all__ = ["add_lightning_arguments", "lightning_options"]


def add_lightning_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--devices", default="1", help="devices per node, e.g. 1, 4 or 'auto' (use with --strategy ddp)")
    parser.add_argument("--accelerator", default="auto", help="cpu, gpu or auto")
    parser.add_argument("--strategy", default="auto", help="Lightning strategy, e.g. ddp")


def lightning_options(args: argparse.Namespace) -> dict:
    """``{"devices", "accelerator", "strategy"}`` from parsed arguments (devices as int unless 'auto')."""
    from dnadav.jobs.options import fit_devices

    return {"devices": fit_devices(args.devices), "accelerator": args.accelerator, "strategy": args.strategy}
