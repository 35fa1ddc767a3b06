"""``dnadav oracle info`` / ``score``: one way to name an oracle, one role default, one loader, one-line errors."""

import pytest
import torch

from dnadav.cli import build_parser, main
from dnadav.errors import InputError
from dnadav.oracles import DHS_CLASSES, ConvClassifier, ConvClassifierConfig, save_oracle

TINY = ConvClassifierConfig(channels=8, first_kernel=5, kernels=(3,), pool=2, length=16)


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("dnadav oracle: error: "), err
    return err


@pytest.fixture
def tiny_oracle(tmp_path):
    torch.manual_seed(0)  # initialisation only
    return save_oracle(tmp_path / "tiny", ConvClassifier(TINY), "classifier", DHS_CLASSES)


def test_info_and_score_share_the_oracle_option_and_the_role_default():
    parser = build_parser()
    info, score = parser.parse_args(["oracle", "info"]), parser.parse_args(["oracle", "score", "x.fa"])
    assert info.role == score.role == "eval"  # as dnadav.load_oracle
    assert info.oracle is None and score.oracle is None  # both resolve to defaults.ORACLE


def test_info_and_score_load_through_the_registry_with_the_same_arguments(monkeypatch, tmp_path, capsys):
    import dnadav.oracles.registry as registry

    calls = []

    def recording_loader(name, role="reward", device="cpu"):
        calls.append((name, role))
        raise InputError("stop here")

    monkeypatch.setattr(registry, "load_oracle", recording_loader)
    assert main(["oracle", "info"]) == 2
    assert main(["oracle", "score", str(tmp_path / "x.fa")]) == 2
    assert main(["oracle", "info", "k562", "--role", "reward"]) == 2
    assert main(["oracle", "score", str(tmp_path / "x.fa"), "--oracle", "k562", "--role", "reward"]) == 2
    assert calls == [("hepg2", "eval"), ("hepg2", "eval"), ("k562", "reward"), ("k562", "reward")]


def test_score_a_folder_oracle_and_info_on_it(tiny_oracle, tmp_path, capsys):
    fasta = tmp_path / "x.fa"
    fasta.write_text(">a\n" + "ACGT" * 4 + "\n>b\n" + "GGCC" * 4 + "\n")
    assert main(["oracle", "score", str(fasta), "--oracle", str(tiny_oracle)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "id\treward\tprobability" and [line.split("\t")[0] for line in lines[1:]] == ["a", "b"]
    assert main(["oracle", "info", "--oracle", f"{tiny_oracle}:K562"]) == 0
    out = capsys.readouterr().out
    assert "scored: K562; trained on 16 bp" in out and "no metrics.json" in out


def test_info_of_a_shipped_oracle_names_its_folder(capsys):
    assert main(["oracle", "info", "hepg2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("oracle hepg2 (eval): ") and "dhs_eval" in out.splitlines()[0] and "auroc_HepG2" in out


def test_two_different_oracle_names_are_refused(capsys):
    assert main(["oracle", "info", "hepg2", "--oracle", "k562"]) == 2
    assert "two oracles named" in one_error_line(capsys)


@pytest.mark.parametrize(
    ("fasta", "expected"),
    [
        (">a\nACGTNACGTACGTACG\n", "record 'a' (#1): character 'N' at position 5 is not A/C/G/T"),
        (">a\nACGT\n", "record 'a' (#1): length 4, expected 16"),  # the oracle's training length
        (">a\nACGTACGTACGTACGT\n>a\nACGTACGTACGTACGT\n", "duplicate id"),
        (None, "no such file"),
    ],
)
def test_score_bad_file_is_one_line_and_exit_2(tiny_oracle, tmp_path, capsys, fasta, expected):
    path = tmp_path / "in.fa"
    if fasta is not None:
        path.write_text(fasta)
    assert main(["oracle", "score", str(path), "--oracle", str(tiny_oracle)]) == 2
    assert f"{path}: " in (err := one_error_line(capsys)) and expected in err


@pytest.mark.parametrize("verb", ["info", "score"])
@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda d: d.mkdir(), "not a shipped oracle"),  # an empty folder
        (lambda d: None, "not a shipped oracle"),  # a folder that does not exist
        (lambda d: (d.mkdir(), (d / "model.pt").write_bytes(b"junk" * 9), (d / "config.json").write_text("{}")), "model.pt"),
        (lambda d: (d.mkdir(), (d / "model.pt").write_bytes(b""), (d / "config.json").write_text("{}")), "model.pt"),
        (lambda d: (d.mkdir(), torch.save({}, d / "model.pt"), (d / "config.json").write_text("[")), "config.json"),
    ],
    ids=["empty", "missing", "junk-weights", "empty-weights", "bad-config"],
)
def test_bad_oracle_folder_is_one_line_and_exit_2(tmp_path, capsys, verb, make, expected):
    folder = tmp_path / "oracle"
    make(folder)
    fasta = tmp_path / "x.fa"
    fasta.write_text(">a\nACGTACGTACGTACGT\n")
    argv = (
        ["oracle", "info", "--oracle", str(folder)]
        if verb == "info"
        else ["oracle", "score", str(fasta), "--oracle", str(folder)]
    )
    assert main(argv) == 2
    assert str(folder) in (err := one_error_line(capsys)) and expected in err


def test_train_refuses_unusable_numbers(tmp_path, capsys):
    for option, value in (("--epochs", "0"), ("--batch-size", "-1"), ("--lr", "nan"), ("--max-rows", "0")):
        assert main(["oracle", "train", "--out", str(tmp_path / "o"), option, value]) == 2
        assert option in one_error_line(capsys)
