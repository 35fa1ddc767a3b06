"""The CLI's manners: help shows defaults, no dead commands, quiet when piped into head, normal file
modes, a directory given as --out is named as such."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dnadav.cli import COMMANDS, build_parser, main
from dnadav.io import atomic_write_text

ROOT = Path(__file__).resolve().parent.parent


def test_every_option_of_my_commands_shows_its_default():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name in ("design", "evaluate", "align"):
        text = sub.choices[name].format_help()
        for action in sub.choices[name]._actions:
            if action.option_strings and action.default not in (None, False) and action.dest != "help":
                assert f"(default: {action.default})" in " ".join(text.split()), (name, action.dest)


def test_top_level_help_names_only_real_commands():
    assert "bench" not in COMMANDS
    sub = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    assert set(sub.choices) == {*COMMANDS, "image"}  # the image plugin registers its own command


def test_no_broken_pipe_traceback_when_piped_into_head(tmp_path):
    fasta = tmp_path / "many.fa"
    fasta.write_text("".join(f">s{i}\n{'ACGT' * 50}\n" for i in range(3000)))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = f"{sys.executable} -m dnadav.cli oracle score {fasta} | head -n 2"
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=env, timeout=120)
    assert done.stdout.splitlines()[0] == "id\treward\tprobability"
    assert "BrokenPipe" not in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_outputs_respect_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        path = atomic_write_text(tmp_path / "a.txt", "x")
        assert (path.stat().st_mode & 0o777) == 0o644
        os.umask(0o077)
        assert (atomic_write_text(tmp_path / "b.txt", "x").stat().st_mode & 0o777) == 0o600
    finally:
        os.umask(old)


@pytest.mark.parametrize("command", ["design", "evaluate"])
def test_out_naming_a_directory_says_so(command, tmp_path, capsys):
    fasta = tmp_path / "in.fa"
    fasta.write_text(">a\n" + "ACGT" * 50 + "\n")
    (tmp_path / "report").write_text("a file")
    argv = (
        ["design", "--n", "2", "--out", str(tmp_path)]
        if command == "design"
        else ["evaluate", str(fasta), "--report", str(tmp_path / "report")]
    )
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert ("is a directory" if command == "design" else "is a file") in err


def test_evaluate_counts_wrong_lengths_as_invalid_and_never_scores_them(tmp_path):
    import json

    fasta = tmp_path / "lengths.fa"
    fasta.write_text(">ok\n" + "ACGT" * 50 + "\n>short\nACGT\n>huge\n" + "ACGT" * 250_000 + "\n")
    assert main(["evaluate", str(fasta), "--report", str(tmp_path / "r"), "--no-loglik", "--no-real", "--quiet"]) == 0
    row = json.loads((tmp_path / "r" / "metrics.json").read_text())["inputs"][0]
    assert row["n"] == 3 and row["n_valid"] == 1 and row["n_invalid"] == 2
    assert "not 200 bp" in (tmp_path / "r" / "report.html").read_text()


def test_python_dash_m_runs_the_same_command_line(tmp_path):
    """``python -m dnadav`` parses as the ``dnadav`` script: a bad option value exits 2 with one line."""
    command = [sys.executable, "-m", "dnadav", "design", "--n", "0", "--out", str(tmp_path / "x.fa")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "n must be an integer ≥ 1; got 0" in done.stderr
