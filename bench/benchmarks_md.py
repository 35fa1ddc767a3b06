"""Write one named section of docs/benchmarks.md, keeping the others (used by every bench script)."""

from __future__ import annotations

import platform
import re
import statistics
from pathlib import Path

import torch

BENCHMARKS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
HEADER = "# Benchmarks\n\nEvery figure here is written by a script in `bench/`; rerun it to reproduce.\n"


def machine() -> str:
    """A one-line description of where the numbers were taken."""
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{platform.machine()}, {torch.get_num_threads()} torch threads, {device}, torch {torch.__version__}"


def mean_sd(values, digits: int = 3) -> str:
    """``"mean ± sd"`` of ``values`` (sd with ddof 1, over seeds), ``"mean"`` alone for one value."""
    mean = statistics.mean(values)
    return f"{mean:.{digits}f} ± {statistics.stdev(values):.{digits}f}" if len(values) > 1 else f"{mean:.{digits}f}"


def mean_sd_cells(rows: list[dict], columns: list[tuple[str, int]]) -> str:
    """Markdown cells ``"a | b | …"``: ``mean_sd`` over ``rows`` of each ``(key, digits)`` column."""
    return " | ".join(mean_sd([r[key] for r in rows], digits) for key, digits in columns)


def section_rows(name: str) -> dict[str, str]:
    """The table rows of the section ``## name`` as written now, keyed by their first cell (empty if none)."""
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else ""
    found = re.search(rf"^## {re.escape(name)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    lines = found.group(1).splitlines() if found else []
    rows = [line for line in lines if line.startswith("| ") and not line.startswith("|---")]
    return {line.split("|")[1].strip(): line for line in rows[1:]}  # rows[0] is the header


def write_section(name: str, body: str) -> None:
    """Replace (or append) the section ``## name`` in docs/benchmarks.md."""
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else HEADER
    section = f"## {name}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(name)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(section + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    BENCHMARKS.parent.mkdir(parents=True, exist_ok=True)
    BENCHMARKS.write_text(text)
