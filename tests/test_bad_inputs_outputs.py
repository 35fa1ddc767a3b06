"""After odd-but-legal and bad inputs, the CLI's outputs hold no ``nan`` / ``inf`` in any numeric field
(issue 23, docs/input-errors.md): design, evaluate and image sample run in-process on inputs the fuzz
suite exercises, bad ones exit 2 leaving nothing behind, and every file written is read back field by
field (FASTA header values, CSV cells, JSON numbers, HTML and Markdown table cells)."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path

import pytest

from dnadav.cli import main

NON_FINITE = {"nan", "-nan", "+nan", "inf", "-inf", "+inf", "infinity", "-infinity", "+infinity"}
_HEADER_PAIR = re.compile(r"(?:^|\s)[A-Za-z_][\w.\-]*=(\S+)")
_HTML_CELL = re.compile(r"<td[^>]*>(.*?)</td>", re.S)


def _json_constant(name: str) -> float:
    raise AssertionError(f"JSON holds {name}")


def non_finite_fields(path: Path) -> list[str]:
    """The numeric fields of ``path`` that read as nan or ±inf (empty: the file is clean; PNGs and
    other binary files hold no text fields)."""
    if path.suffix not in (".json", ".csv", ".tsv", ".fa", ".fasta", ".html", ".md"):
        return []
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        try:
            json.loads(text, parse_constant=_json_constant)
        except AssertionError as error:
            return [str(error)]
        return []
    if path.suffix in (".csv", ".tsv"):
        cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    elif path.suffix in (".fa", ".fasta"):
        cells = [v for line in text.splitlines() if line.startswith(">") for v in _HEADER_PAIR.findall(line)]
    elif path.suffix == ".html":
        cells = _HTML_CELL.findall(text)
    elif path.suffix == ".md":
        cells = [cell for line in text.splitlines() if line.startswith("|") for cell in line.split("|")]
    else:
        return []
    return [cell for cell in cells if cell.strip().lower() in NON_FINITE]


def _written(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def _run(argv: list[str], capsys) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


def test_the_output_check_itself_finds_nan_and_inf(tmp_path):
    (tmp_path / "a.fa").write_text(">d1 reward=nan\nACGT\n")
    (tmp_path / "b.csv").write_text("file,reward\nx.png,inf\n")
    (tmp_path / "c.json").write_text('{"reward_mean": NaN}')
    (tmp_path / "d.html").write_text("<table><tr><td>-inf</td></tr></table>")
    (tmp_path / "e.md").write_text("| split | mean |\n| train | inf |\n")
    assert all(non_finite_fields(p) for p in _written(tmp_path))
    (tmp_path / "f.csv").write_text("file,reward,info\nx.png,,informative\n")
    assert non_finite_fields(tmp_path / "f.csv") == []


def test_design_and_evaluate_outputs_after_odd_inputs_hold_no_nan_or_inf(tmp_path, capsys):
    out = tmp_path / "out"
    objective = "softmax(hepg2, k562; tau=0.001) - 1e6*(hesc - hesc)"
    common = ["design", "--n", "2", "--steps", "2"]
    code, err = _run([*common, "--max-homopolymer", "1000000000", "--objective", objective, "--out", str(out / "d.fa")], capsys)
    assert code == 0, err
    fasta = tmp_path / "odd.fa"  # invalid, short and duplicate-looking records among valid ones
    fasta.write_text(">a\n" + "A" * 200 + "\n>b\n" + "A" * 200 + "\n>c\nACGN\n>d\n" + "ACGT" * 50 + "\n")
    report = out / "report"
    code, err = _run(
        [
            "evaluate",
            str(fasta),
            "--no-loglik",
            "--no-real",
            "--reference",
            "signal",
            "--reference-size",
            "4",
            "--report",
            str(report),
        ],
        capsys,
    )
    assert code == 0, err
    files = _written(out)
    assert {p.name for p in files} >= {"d.fa", "d.fa.manifest.json", "metrics.csv", "metrics.json", "report.html"}
    assert {str(p): non_finite_fields(p) for p in files if non_finite_fields(p)} == {}


@pytest.mark.parametrize(
    "argv, problem",
    [
        (["--objective", "1e39*hepg2 - 1e39*hepg2"], "'1e39' is not a finite float32 number"),
        (["--children", "2", "--objective", "softmax(hepg2,k562; tau=1e-300)"], "'1e-300' is outside"),
    ],
)
def test_design_refuses_a_nan_objective_with_exit_2_and_writes_nothing(tmp_path, capsys, argv, problem):
    code, err = _run(["design", "--n", "2", "--steps", "2", *argv, "--out", str(tmp_path / "out" / "d.fa")], capsys)
    assert code == 2 and problem in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out" / "d.fa").exists()


def test_image_outputs_hold_no_nan_without_a_reward_and_a_bad_folder_writes_nothing(tmp_path, capsys):
    pytest.importorskip("diffusers")
    out = tmp_path / "images"
    code, err = _run(["image", "sample", "--n", "2", "--steps", "2", "--device", "cpu", "--out", str(out)], capsys)
    assert code == 0, err
    rows = list(csv.DictReader((out / "rewards.csv").open()))
    assert [row["reward"] for row in rows] == ["", ""]
    assert {str(p): non_finite_fields(p) for p in _written(out) if non_finite_fields(p)} == {}
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model_index.json").write_text("{")
    code, err = _run(["image", "sample", "--pipeline", str(broken), "--out", str(tmp_path / "never")], capsys)
    assert code == 2 and "model_index.json: not valid JSON" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "never").exists()


def test_json_writers_and_report_tables_turn_nan_and_inf_into_null_or_empty(tmp_path):
    import numpy as np
    import pandas as pd

    from dnadav.evaluate.report import _finite_table
    from dnadav.io import finite_or_none, write_manifest

    manifest = write_manifest(
        tmp_path / "m.json", command="x", config={"t": (1.5, float("inf"))}, extra={"s": {"m": float("nan")}}
    )
    assert non_finite_fields(manifest) == []
    assert json.loads(manifest.read_text())["s"] == {"m": None}
    assert finite_or_none([np.float32("nan"), np.float32(2.0), {"a": -math.inf}]) == [None, np.float32(2.0), {"a": None}]
    frame = pd.DataFrame({"ratio": [1.0, np.inf, -np.inf, np.nan]})
    (tmp_path / "t.csv").write_text(_finite_table(frame).to_csv())
    assert non_finite_fields(tmp_path / "t.csv") == []
