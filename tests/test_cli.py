"""The command line: user errors are one line and exit 2; the main job writes scored FASTA."""

import json

import pytest

from dnadav import defaults
from dnadav.cli import main
from dnadav.data import read_sequences


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    return err


def test_design_writes_scored_reproducible_fasta_and_a_manifest(tmp_path, capsys):
    out = tmp_path / "designs.fa"
    assert main(["design", "--n", "6", "--steps", "4", "--out", str(out), "--seed", "3", "--quiet"]) == 0
    table = read_sequences(out, length=200)
    assert len(table) == 6 and table.ids[0] == "design_1"
    assert {"reward", "pred_activity", "eval_probability"} <= set(table.values)
    manifest = json.loads((tmp_path / "designs.fa.manifest.json").read_text())
    assert manifest["config"]["seed"] == 3 and manifest["config"]["reward_temperature"] is None  # no search ran
    assert set(manifest["checkpoints"]) == {"model", "reward_oracle", "eval_oracle"}
    assert all(len(c["sha256"]) == 64 and not c["path"].startswith("/") for c in manifest["checkpoints"].values())
    assert manifest["used_aligned_model"] is True and manifest["command"].startswith("dnadav design --n 6")
    again = tmp_path / "again.fa"
    assert main(["design", "--n", "6", "--steps", "4", "--out", str(again), "--seed", "3", "--quiet"]) == 0
    assert again.read_text() == out.read_text()  # bit-reproducible with --seed
    assert main(["design", "--n", "6", "--steps", "4", "--out", str(out), "--quiet"]) == 2
    assert "already exists; pass --force" in one_line_error(capsys)


def test_design_with_search_runs_the_e_step(tmp_path):
    out = tmp_path / "posterior.fa"
    assert main(["design", "--n", "3", "--steps", "3", "--children", "2", "--out", str(out), "--quiet"]) == 0
    manifest = json.loads((tmp_path / "posterior.fa.manifest.json").read_text())
    assert manifest["search_stats"]["oracle_calls"] == 3 * 2 * defaults.DESIGN_BLOCK  # whole blocks are searched
    assert manifest["config"]["num_children"] == 2 and manifest["config"]["reward_temperature"] == 0.5
    assert manifest["network_rows"] == defaults.DESIGN_BLOCK * (1 + 2 * 2)  # the start, then B·M children per step


def test_design_with_the_parent_lookahead_spends_one_network_row_per_sequence_and_step(tmp_path):
    out = tmp_path / "parent.fa"
    argv = ["design", "--n", "3", "--steps", "3", "--children", "2", "--lookahead", "parent", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    manifest = json.loads((tmp_path / "parent.fa.manifest.json").read_text())
    assert manifest["network_rows"] == defaults.DESIGN_BLOCK * 3 and manifest["config"]["lookahead"] == "parent"
    assert manifest["search_stats"]["oracle_calls"] == 3 * 2 * defaults.DESIGN_BLOCK  # every child still scored


@pytest.mark.parametrize(
    "argv",
    [
        ["design", "--n", "0", "--out", "x.fa"],
        ["design", "--oracle", "liver", "--n", "2", "--out", "{tmp}/y.fa"],
        ["design", "--temperature", "-1", "--out", "z.fa"],
        ["design", "--temperature", "nan", "--children", "2", "--out", "z.fa"],
        ["design", "--lookahead", "parent", "--out", "z.fa"],
        ["design", "--length", "5", "--n", "2", "--out", "{tmp}/short.fa"],
        ["design", "--n", "2", "--out", "{tmp}"],
        ["design", "--model", "{tmp}", "--n", "2", "--out", "{tmp}/m.fa"],
    ],
)
def test_design_rejects_bad_arguments_with_exit_2(argv, tmp_path, capsys):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    assert one_line_error(capsys).startswith("dnadav design: error:")


def test_evaluate_reports_and_rejects_bad_files(tmp_path, capsys):
    good = tmp_path / "good.fa"
    good.write_text(">a\n" + "ACGT" * 50 + "\n>b\n" + "GGCA" * 50 + "\n>c\n" + "ACGN" * 50 + "\n")
    assert main(["evaluate", str(good), "--report", str(tmp_path / "rep"), "--no-loglik", "--quiet"]) == 0
    data = json.loads((tmp_path / "rep" / "metrics.json").read_text())
    assert data["inputs"][0]["n"] == 3 and data["inputs"][0]["n_invalid"] == 1  # counted, not fixed
    bad = tmp_path / "bad.fa"
    bad.write_text("not fasta\n")
    assert main(["evaluate", str(bad), "--report", str(tmp_path / "rep2")]) == 2
    assert "bad.fa" in one_line_error(capsys)
    assert main(["evaluate", str(tmp_path / "missing.fa"), "--report", str(tmp_path / "rep3")]) == 2
    assert "no such file" in one_line_error(capsys)


def test_other_commands_refuse_to_clobber(tmp_path, capsys):
    (tmp_path / "model.pt").write_bytes(b"")
    assert main(["align", "--out", str(tmp_path)]) == 2
    assert "pass --force" in one_line_error(capsys)
    assert main(["oracle", "train", "--out", str(tmp_path), "--chromosomes", "chr1,chr3", "--force"]) == 2
    assert "chr1" in one_line_error(capsys)
