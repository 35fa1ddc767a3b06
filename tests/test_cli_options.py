"""Every option of ``dnadav pretrain``, ``dnadav oracle ...`` and ``dnadav data ...`` is documented, and
numbers no run can use are one-line errors (exit 2) before anything is trained."""

import argparse

import pytest

from dnadav.cli import build_parser, main


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[name]


@pytest.mark.parametrize(
    "path",
    [("pretrain",), ("oracle", "train"), ("oracle", "info"), ("oracle", "score"), ("data", "info"), ("data", "import-gosai")],
)
def test_every_option_has_a_help_text(path):
    parser = build_parser()
    for name in path:
        parser = _subparser(parser, name)
    undocumented = [a.dest for a in parser._actions if not isinstance(a, argparse._HelpAction) and not (a.help or "").strip()]
    assert undocumented == [], f"dnadav {' '.join(path)}: options without help: {undocumented}"
    if any(a.dest == "seed" for a in parser._actions):
        assert "(default: 0)" in parser.format_help()  # shown although 0 is falsy


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--steps", "0"], "--steps must be ≥ 1"),
        (["--batch-size", "0"], "--batch-size must be ≥ 1"),
        (["--lr", "inf"], "--lr must be a finite number > 0"),
        (["--max-minutes", "-1"], "--max-minutes must be a finite number > 0"),
        (["--cell-type", "liver"], "--cell-type must be one of HepG2, K562, GM12878, hESC"),
        (["--data", "gosai", "--cell-type", "HepG2"], "--cell-type applies to --data dhs only"),
    ],
)
def test_pretrain_refuses_unusable_options_in_one_line(tmp_path, capsys, argv, expected):
    assert main(["pretrain", "--out", str(tmp_path / "p"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("dnadav pretrain: error: ") and expected in err
