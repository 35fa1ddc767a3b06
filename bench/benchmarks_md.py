"""Write one named section of docs/benchmarks.md, keeping the others (used by every bench script)."""

from __future__ import annotations

import csv
import io
import json
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


def read_jsonl(path: Path) -> list[dict]:
    """The rows of the JSON-lines file ``path`` (docs/runs/), ``[]`` when there is none."""
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def append_jsonl(path: Path, row: dict) -> None:
    """Append ``row`` to the JSON-lines file ``path``: each measurement is kept as soon as it is made."""
    with path.open("a") as handle:
        handle.write(json.dumps(row) + "\n")


def write_csv_rows(path: Path, fields: list[str], rows) -> None:
    """Write ``rows`` (dicts keyed by ``fields``, in order) to the CSV file ``path`` atomically (docs/runs/)."""
    from dnadav.io import atomic_write_text

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fields)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def merge_csv_rows(path: Path, fields: list[str], key_of, measured, write: bool = True) -> None:
    """Print each row of ``measured`` (an iterable of dicts, measured lazily) as it comes, then the
    machine; with ``write``, merge them into the CSV at ``path`` (a row replaces the one of the same
    ``key_of(row)``, which must read CSV strings and measured values alike) and write it sorted by key."""
    rows = {key_of(row): row for row in csv.DictReader(path.open())} if path.is_file() else {}
    for row in measured:
        rows[key_of(row)] = row
        print(", ".join(f"{k} {v}" for k, v in row.items()), flush=True)
    print(f"machine: {machine()}")
    if write:
        write_csv_rows(path, fields, [rows[key] for key in sorted(rows)])
