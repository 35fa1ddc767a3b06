"""A job's options dataclass as argparse arguments (``dnadav.jobs.options`` describes the fields):
defaults and help come from the dataclass, so the CLI restates no option list."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from typing import Any

from dnadav.commands.shared_options import add_constraint_options, add_max_batch_option, constraint_spec, max_batch_value
from dnadav.jobs.options import public_name

__all__ = ["add_arguments", "from_namespace"]

# group -> (add the flags, build the field's value from the parsed line)
_GROUPS: dict[str, tuple[Callable[..., None], Callable[[argparse.Namespace], Any]]] = {
    "constraints": (add_constraint_options, lambda args: None if (spec := constraint_spec(args)).empty else spec),
    "max_batch": (add_max_batch_option, lambda args: max_batch_value(args.max_batch)),
}


def _argument_type(field: dataclasses.Field) -> Callable | None:
    if field.metadata.get("type") is not None:
        return field.metadata["type"]
    default = field.default
    return type(default) if isinstance(default, (int, float, str)) and not isinstance(default, bool) else None


def add_arguments(
    parser: argparse.ArgumentParser, options: type, skip: tuple[str, ...] = (), groups: dict[str, tuple] | None = None
) -> None:
    """One argument per field of ``options`` (in field order); ``groups`` gives a group's
    ``add_*`` function its extra arguments (e.g. the constraint group's title)."""
    for field in dataclasses.fields(options):
        meta = field.metadata
        if field.name in skip or not meta.get("cli", True):
            continue
        if meta.get("group"):
            _GROUPS[meta["group"]][0](parser, *(groups or {}).get(meta["group"], ()))
            continue
        flag = "--" + (meta.get("flag") or public_name(field).replace("_", "-"))
        if isinstance(field.default, bool):  # a flag that switches the default over
            action = "store_false" if field.default else "store_true"
            parser.add_argument(flag, dest=field.name, action=action, help=meta.get("help"))
            continue
        extra = {k: meta[k] for k in ("metavar", "choices", "required") if meta.get(k)}
        if "metavar" not in extra and "choices" not in extra:
            extra["metavar"] = public_name(field).upper()
        kind = _argument_type(field)
        parser.add_argument(flag, dest=field.name, type=kind, default=field.default, help=meta.get("help"), **extra)


def from_namespace(options: type, args: argparse.Namespace, **given: Any) -> Any:
    """The options of a parsed command line (``given`` sets fields the line does not carry)."""
    values = dict(given)
    for field in dataclasses.fields(options):
        meta = field.metadata
        if field.name in values or not meta.get("cli", True):
            continue
        values[field.name] = _GROUPS[meta["group"]][1](args) if meta.get("group") else getattr(args, field.name)
    return options(**values)
