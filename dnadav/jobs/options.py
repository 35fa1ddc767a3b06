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
from collections.abc import Callable
from typing import Any

__all__ = ["from_keywords", "option", "public_name"]


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
) -> Any:
    """A dataclass field with its CLI/API spelling (``name``: the flag without ``--`` and the API
    keyword; default the field's own name), argparse details, and ``flag`` where the command line
    spells it otherwise (a True default switched off by ``--no-…``)."""
    metadata = {"help": help, "name": name, "metavar": metavar, "choices": choices, "type": type, "group": group}
    metadata.update(flag=flag, cli=cli)
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
