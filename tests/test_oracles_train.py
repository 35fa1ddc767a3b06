"""One short, seeded training run per oracle kind through the real trainer (tiny network, tiny subsets)."""

import json

from dnadav.cli import main
from dnadav.oracles import CellTypeOracle, ConvClassifierConfig, RegressionOracle, check_oracle, load_oracle
from dnadav.oracles.train import EVAL_CHROMOSOMES, OracleTrainConfig, train_command, train_oracle

TINY = ConvClassifierConfig(channels=8, first_kernel=7, kernels=(3,), pool=4)


def test_one_epoch_dhs_classifier_writes_a_complete_checkpoint(tmp_path):
    config = OracleTrainConfig(chromosomes=("chr21",), network=TINY, epochs=1, batch_size=64, max_rows=256, accelerator="cpu")
    metrics = train_oracle(config, tmp_path / "oracle", progress=False)
    assert set(metrics["test"]) >= {"accuracy", "auroc_HepG2", "auroc_shuffled", "auroc_HepG2_vs_other_cell_types", "ece_HepG2"}
    assert metrics["train_rows"] == 256 and metrics["test"]["n"] == 256 and metrics["epochs_completed"] == 1
    files = {p.name for p in (tmp_path / "oracle").iterdir()}
    assert {"model.pt", "config.json", "metrics.json", "card.md"} <= files
    card = (tmp_path / "oracle" / "card.md").read_text()
    assert metrics["model_sha256"] in card and "--chromosomes chr21" in card and "auroc_HepG2_vs_other_cell_types" in card
    oracle = load_oracle(tmp_path / "oracle")
    assert isinstance(oracle, CellTypeOracle) and oracle.target == "HepG2"
    check_oracle(oracle, length=200)
    assert json.loads((tmp_path / "oracle" / "config.json").read_text())["train_config"]["chromosomes"] == ["chr21"]


def test_one_epoch_gosai_regressor_through_the_cli(tmp_path, capsys):
    from dnadav.data.gosai import import_gosai, make_synthetic_gosai

    table = import_gosai(make_synthetic_gosai(tmp_path / "dataset.csv", 440), tmp_path / "gosai")
    out = tmp_path / "mpra"
    argv = ["oracle", "train", "--data", "gosai", "--table", str(table), "--target", "k562", "--epochs", "1"]
    assert main([*argv, "--out", str(out), "--accelerator", "cpu", "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"mse", "pearson_hepg2", "spearman_k562"} <= set(metrics["test"])
    oracle = load_oracle(out)
    assert isinstance(oracle, RegressionOracle) and oracle.target == "k562"
    check_oracle(oracle, length=200)
    assert main([*argv, "--out", str(out)]) == 2  # refuses to overwrite without --force
    fasta = tmp_path / "x.fa"
    fasta.write_text(">a\n" + "ACGT" * 50 + "\n>b\n" + "GATA" * 50 + "\n")
    capsys.readouterr()
    assert main(["oracle", "score", str(fasta), "--oracle", f"{out}:hepg2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "id\treward\tprobability" and [line.split("\t")[0] for line in lines[1:]] == ["a", "b"]
    assert main(["oracle", "info", str(out)]) == 0
    assert "spearman_k562" in capsys.readouterr().out


def test_gosai_needs_a_table_and_dhs_refuses_held_out_chromosomes(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # no imported table in the default folder
    assert main(["oracle", "train", "--data", "gosai", "--out", str(tmp_path / "x")]) == 2
    assert main(["oracle", "train", "--chromosomes", "chr2,chr3", "--out", str(tmp_path / "y")]) == 2


def test_train_command_reproduces_the_config():
    eval_default = OracleTrainConfig(role="eval", chromosomes=EVAL_CHROMOSOMES, epochs=12)
    assert train_command(eval_default, "oracles/dhs_eval") == (
        "dnadav oracle train --data dhs --role eval --epochs 12 --batch-size 128 --lr 0.002 --seed 0 "
        "--out oracles/dhs_eval --force"
    )
    ddp = OracleTrainConfig(chromosomes=("chr3",), devices=2, strategy="ddp", accelerator="cpu")
    assert "--chromosomes chr3" in train_command(ddp, "o") and "--devices 2 --strategy ddp" in train_command(ddp, "o")


def test_ddp_trainer_is_constructed_from_the_options():
    import pytorch_lightning as pl

    trainer = pl.Trainer(accelerator="cpu", devices=2, strategy="ddp", logger=False, enable_checkpointing=False)
    assert trainer.num_devices == 2 and type(trainer.strategy).__name__ == "DDPStrategy"
