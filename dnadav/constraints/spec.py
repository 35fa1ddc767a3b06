"""Constraint options as the user writes them, and the ``--constraints FILE`` loader.

``ConstraintSpec`` holds the CLI's fields: ``forbid`` (enzyme names / IUPAC strings), ``gc``
("0.40:0.60"), ``max_homopolymer``, ``prefix``, ``suffix``, ``template`` (IUPAC, ``N`` = free).
``compile(length)`` turns it into a ``SequenceConstraint``. Every parse error is one ``InputError``
line naming the option (or the file and field).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from dnadav.constraints.sites import IUPAC, Site, resolve_site
from dnadav.errors import InputError, shown
from dnadav.io import read_text_file

__all__ = ["ConstraintSpec", "parse_forbid", "parse_gc", "load_constraints", "spec_from_options"]

FIELDS = ("forbid", "gc", "max_homopolymer", "prefix", "suffix", "template")


def parse_forbid(values: str | list[str] | tuple[str, ...] | None, where: str = "--forbid") -> tuple[Site, ...]:
    """``"BsaI,BsmBI,GAATTC"`` (or a list of such strings, as a repeatable option gives) -> sites."""
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, (list, tuple)):
        raise InputError(f"{where}: expected enzyme names or IUPAC strings; got {shown(values)}")
    sites: list[Site] = []
    for value in values:
        if not isinstance(value, str):
            raise InputError(f"{where}: expected enzyme names or IUPAC strings; got {shown(value)}")
        for word in value.split(","):
            if not word.strip():
                raise InputError(f"{where}: empty entry in {shown(value)}")
            try:
                site = resolve_site(word)
            except InputError as error:
                raise InputError(str(error).replace("--forbid", where, 1)) from None
            if site not in sites:
                sites.append(site)
    return tuple(sites)


def parse_gc(value: str | list | tuple | None, where: str = "--gc") -> tuple[float, float] | None:
    """``"0.40:0.60"`` or ``[0.4, 0.6]`` -> (lo, hi), 0 ≤ lo ≤ hi ≤ 1 (fractions of the length)."""
    if value is None:
        return None
    if isinstance(value, str):
        parts = value.split(":")
    elif isinstance(value, (list, tuple)):
        parts = list(value)
    else:
        parts = [value]
    try:
        if len(parts) != 2:
            raise ValueError
        lo, hi = float(parts[0]), float(parts[1])
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{where}: expected LO:HI fractions such as 0.40:0.60; got {shown(value)}") from None
    if not (0.0 <= lo <= hi <= 1.0) or math.isnan(lo) or math.isnan(hi):
        raise InputError(f"{where}: need 0 ≤ LO ≤ HI ≤ 1; got {shown(value)}")
    return lo, hi


def _bases(value: Any, where: str, *, allow_free: bool) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InputError(f"{where}: expected a DNA string; got {shown(value)}")
    text = value.strip().upper()
    letters = IUPAC if allow_free else {c: v for c, v in IUPAC.items()}
    for position, char in enumerate(text, start=1):
        if char not in letters:
            raise InputError(
                f"{where}: character {char!r} at position {position} is not IUPAC DNA (A C G T R Y S W K M B D H V N)"
            )
    return text


def _homopolymer(value: Any, where: str) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
        if isinstance(value, bool) or float(value) != number:
            raise ValueError
    except (TypeError, ValueError, OverflowError):  # OverflowError: 1e999 (inf) from a JSON/YAML file
        raise InputError(f"{where}: expected a whole number ≥ 1; got {shown(value)}") from None
    if number < 1:
        raise InputError(f"{where}: expected a whole number ≥ 1; got {shown(value)}")
    return number


@dataclass(frozen=True)
class ConstraintSpec:
    """Hard constraints as given (validated); ``compile(length)`` makes the sampler object."""

    forbid: tuple[Site, ...] = ()
    gc: tuple[float, float] | None = None
    max_homopolymer: int | None = None
    prefix: str = ""
    suffix: str = ""
    template: str = ""
    source: str = field(default="options", compare=False)

    @property
    def empty(self) -> bool:
        return not (self.forbid or self.gc or self.max_homopolymer or self.prefix or self.suffix or self.template)

    def merged(self, other: ConstraintSpec) -> ConstraintSpec:
        """``other``'s fields where set override this one's; forbidden sites are united."""
        sites = tuple(dict.fromkeys(self.forbid + other.forbid))
        values = {
            f.name: getattr(other, f.name) or getattr(self, f.name) for f in fields(self) if f.name not in ("forbid", "source")
        }
        return replace(self, forbid=sites, **values)

    def as_dict(self) -> dict[str, Any]:
        """The fields in the file format (round-trips through ``load_constraints``)."""
        out: dict[str, Any] = {}
        if self.forbid:
            out["forbid"] = [s.name for s in self.forbid]
        if self.gc:
            out["gc"] = f"{self.gc[0]:g}:{self.gc[1]:g}"
        if self.max_homopolymer:
            out["max_homopolymer"] = self.max_homopolymer
        for name in ("prefix", "suffix", "template"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        return out

    def compile(self, length: int):
        """The ``SequenceConstraint`` for sequences of ``length``; raises InputError when unsatisfiable."""
        from dnadav.constraints.constraint import SequenceConstraint

        return SequenceConstraint(self, length)


def spec_from_options(
    forbid: str | list[str] | None = None,
    gc: str | None = None,
    max_homopolymer: int | str | None = None,
    prefix: str | None = None,
    suffix: str | None = None,
    template: str | None = None,
    constraints_file: str | Path | None = None,
) -> ConstraintSpec:
    """The CLI's options (``--forbid`` repeatable -> list) merged over ``--constraints FILE`` when given
    (options win; forbidden sites are united)."""
    spec = ConstraintSpec(
        forbid=parse_forbid(forbid),
        gc=parse_gc(gc),
        max_homopolymer=_homopolymer(max_homopolymer, "--max-homopolymer"),
        prefix=_bases(prefix, "--prefix", allow_free=True),
        suffix=_bases(suffix, "--suffix", allow_free=True),
        template=_bases(template, "--template", allow_free=True),
    )
    if constraints_file is not None:
        return load_constraints(constraints_file).merged(spec)
    return spec


def load_constraints(path: str | Path) -> ConstraintSpec:
    """Read a JSON (``.json``) or YAML (``.yaml``/``.yml``, or anything else that parses as YAML) file
    with the fields ``forbid`` (string or list), ``gc`` ("LO:HI" or [LO, HI]), ``max_homopolymer``,
    ``prefix``, ``suffix``, ``template``. Errors name the file and the field."""
    path = Path(path)
    text = read_text_file(path, "constraints file")
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as error:  # json.JSONDecodeError / yaml.YAMLError: one line
        first = str(error).splitlines()[0][:160] if str(error).strip() else type(error).__name__
        raise InputError(f"{path}: not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'}: {first}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping of fields ({', '.join(FIELDS)}); got {type(data).__name__}")
    for key in data:
        if key not in FIELDS and str(key).replace("-", "_") not in FIELDS:
            raise InputError(f"{path}: unknown field {shown(key)}; expected some of {', '.join(FIELDS)}")
    values = {str(k).replace("-", "_"): v for k, v in data.items()}
    where = lambda name: f"{path}: field {name}"  # noqa: E731
    return ConstraintSpec(
        forbid=parse_forbid(values.get("forbid"), where("forbid")),
        gc=parse_gc(values.get("gc"), where("gc")),
        max_homopolymer=_homopolymer(values.get("max_homopolymer"), where("max_homopolymer")),
        prefix=_bases(values.get("prefix"), where("prefix"), allow_free=True),
        suffix=_bases(values.get("suffix"), where("suffix"), allow_free=True),
        template=_bases(values.get("template"), where("template"), allow_free=True),
        source=str(path),
    )
