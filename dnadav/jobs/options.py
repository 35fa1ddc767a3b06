"""One options dataclass per job, read by both front ends: each field says its default once, and its
metadata how the command line spells it (``--children``), its help, and the keyword the Python API
takes (``children=``).

    @dataclass
    class DesignOptions:
        num_children: int = option(0, "DAV posterior: ...", name="children", metavar="M")

``dnadav.commands.options.add_arguments(parser, DesignOptions)`` adds ``--children`` with the field's
default and help, and ``from_namespace`` builds the options back from the parsed line;
``from_keywords(DesignOptions, children=8)`` builds them from the API's keywords. ``group`` names a
field that several flags make (``constraints``: the hard-constraint flags; ``max_batch``); fields
with ``cli=False`` are the API's only (objects a command line cannot carry).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

from dnadav.errors import InputError

__all__ = ["check_number", "fit_devices", "from_keywords", "option", "public_name"]


def option(
    default: Any,
    help: str = "",
    *,
    name: str | None = None,
    metavar: str | None = None,
    choices: list | None = None,
    type: Callable | None = None,
    group: str | None = None,
    flag: str | None = None,
    cli: bool = True,
    required: bool = False,
) -> Any:
    """A dataclass field with its CLI/API spelling (``name``: the flag without ``--`` and the API
    keyword; default the field's own name), argparse details, and ``flag`` where the command line
    spells it otherwise (a True default switched off by ``--no-…``); ``required``: the command line
    must give it (the API's callers may set it as a keyword instead)."""
    metadata = {"help": help, "name": name, "metavar": metavar, "choices": choices, "type": type, "group": group}
    metadata.update(flag=flag, cli=cli, required=required)
    return dataclasses.field(default=default, metadata=metadata)


def public_name(field: dataclasses.Field) -> str:
    """The keyword (and, with dashes, the flag) a field is given by."""
    return field.metadata.get("name") or field.name


def from_keywords(options: type, **keywords: Any) -> Any:
    """The options of the API's keywords (each field's public name); TypeError names an unknown one."""
    by_name = {public_name(f): f.name for f in dataclasses.fields(options)}
    unknown = sorted(set(keywords) - set(by_name))
    if unknown:
        raise TypeError(f"unexpected keyword(s) {', '.join(unknown)}; expected some of {', '.join(by_name)}")
    return options(**{by_name[k]: v for k, v in keywords.items()})


def check_number(option: str, value: float | None, low: float, *, strict: bool = False, allow_inf: bool = False) -> None:
    """One-line InputError unless ``value`` is ≥ ``low`` (``strict``: a finite number > ``low``;
    ``allow_inf``: +inf passes too). None (an option not given) passes. ``option`` as on the line."""
    if value is None:
        return
    finite = math.isfinite(value) or (allow_inf and value == math.inf)
    if strict and not (finite and value > low):
        raise InputError(f"{option} must be a {'' if allow_inf else 'finite '}number > {low:g}; got {value}")
    if not strict and not (finite and value >= low):
        raise InputError(f"{option} must be ≥ {low:g}; got {value}")


def fit_devices(devices: str | int) -> str | int:
    """``--devices`` as Lightning takes it: a positive whole number, or 'auto'; InputError otherwise."""
    text = str(devices)
    if text != "auto" and not (text.isdigit() and int(text) > 0):
        raise InputError(f"--devices must be a positive whole number or 'auto'; got {devices!r}")
    return text if text == "auto" else int(text)
