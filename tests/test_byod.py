"""Bring your own data (issue 24, docs/byod.md), end to end on a tiny 120-bp data set built from the
shipped DHS set: from the command line (pretrain -> oracle train (reward and eval halves) -> align
--reference -> design with a constraint -> evaluate --reference) and from the Python API with an
oracle that is a user's nn.Module in a file. Tiny sizes through the options; seconds, not minutes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dnadav.cli import main
from dnadav.errors import InputError

LENGTH = 120
ORACLE_FILE = '''
import torch
from torch import nn


class Scorer(nn.Module):
    """GC content and the count of GATA (either strand), two named outputs; a user's own oracle."""

    output_names = ("gc", "gata")
    length = 120

    def __init__(self):
        super().__init__()
        self.gata = nn.Conv1d(4, 2, 4, bias=False)
        with torch.no_grad():
            self.gata.weight.zero_()
            for i, (base, back) in enumerate(zip("GATA", "TATC")):
                self.gata.weight[0, "ACGT".index(base), i] = 1.0
                self.gata.weight[1, "ACGT".index(back), i] = 1.0

    def forward(self, onehot):
        gc = onehot[:, 1:3].sum(dim=(1, 2)) / onehot.shape[-1]
        gata = (self.gata(onehot) > 3.5).float().sum(dim=(1, 2))
        return torch.stack([gc, gata], dim=1)
'''
TINY_PRIOR = ["--steps", "24", "--channels", "8", "--blocks", "1", "--batch-size", "32", "--accelerator", "cpu", "--quiet"]
TINY_ORACLE = ["--epochs", "2", "--channels", "8", "--batch-size", "64", "--accelerator", "cpu", "--quiet"]
TINY_ALIGN = (
    "--iterations 1 --sequences 4 --children 2 --steps 4 --eval-sequences 4 --eval-steps 4 --inner-epochs 1 "
    "--batch-size 8 --accelerator cpu --quiet"
).split()


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    """sequences.fa, labels.csv, reference_valid.fa, reference_test.fa: 400 DHS sites cropped to 120 bp."""
    from dnadav.data.example import write_example

    return write_example(tmp_path_factory.mktemp("byod") / "data", length=LENGTH, rows=400, seed=0)


def _fasta(path: Path) -> list[str]:
    from dnadav.data import read_sequences

    return read_sequences(path).sequences


def test_the_whole_chain_from_the_command_line(data, tmp_path, capsys):
    prior, oracle, run = tmp_path / "prior", tmp_path / "oracle", tmp_path / "run"
    designs, report = tmp_path / "designs.fa", tmp_path / "report"
    assert main(["pretrain", "--data", str(data["sequences.fa"]), "--out", str(prior), *TINY_PRIOR]) == 0
    for role in ("reward", "eval"):
        argv = ["oracle", "train", "--data", str(data["labels.csv"]), "--target", "hepg2", "--role", role]
        assert main([*argv, "--out", str(oracle / role), *TINY_ORACLE]) == 0
    argv = ["align", "--prior", str(prior), "--oracle", str(oracle), "--reference", str(data["reference_valid.fa"])]
    assert main([*argv, "--out", str(run), *TINY_ALIGN]) == 0
    argv = ["design", "--model", str(run), "--oracle", str(oracle), "--n", "8", "--steps", "4", "--gc", "0.45:0.55"]
    assert main([*argv, "--out", str(designs), "--quiet"]) == 0
    argv = ["evaluate", str(designs), "--oracle", str(oracle), "--reference", str(data["reference_test.fa"])]
    assert main([*argv, "--prior", str(prior), "--report", str(report), "--quiet"]) == 0

    # the prior: 120 bp, chromosomes held out (the FASTA headers' chrom=), a held-out NELBO, weights chosen on it
    metrics = json.loads((prior / "metrics.json").read_text())
    assert metrics["length"] == LENGTH and "test = chr1, valid = chr2" in metrics["held_out"]
    assert metrics["rows"]["valid"] > 0 and 0 < metrics["valid_nelbo_bits_per_base"] < 2.1
    assert metrics["saved_weights"].split()[0] in ("ema", "live")
    # the oracles: disjoint halves of the train rows, regression metrics in the card
    configs = [json.loads((oracle / role / "config.json").read_text())["user_data"] for role in ("reward", "eval")]
    assert configs[0]["split_rule"] == configs[1]["split_rule"] and configs[0]["train_rows_rule"] == "the reward half"
    assert "spearman_hepg2" in (oracle / "reward" / "card.md").read_text()
    # align and design at the prior's length, the constraint held, the reference recorded
    aligned = json.loads((run / "config.json").read_text())
    assert aligned["length"] == LENGTH and aligned["reference"] == "reference_valid.fa"
    # the default recipe warm-starts on the prior's own training data (the user's FASTA), scored by their oracle
    warm = aligned["warm_start"]
    assert warm["steps"] == 1600 and warm["data_sequences"] == warm["scored"] > 0 and "sequences.fa" in warm["data"]
    sequences = _fasta(designs)
    assert len(sequences) == 8 and {len(s) for s in sequences} == {LENGTH}
    assert all(0.45 <= (s.count("G") + s.count("C")) / LENGTH <= 0.55 for s in sequences)
    # the report: the user's reference row, regression columns, no classifier-only figure, no DHS rows
    written = json.loads((report / "metrics.json").read_text())
    rows = {row["input"]: row for row in written["inputs"]}
    assert set(rows) == {"designs.fa", "reference (reference_test.fa)"}
    assert rows["designs.fa"]["n_valid"] == 8 and rows["designs.fa"]["above_threshold"] is not None
    assert rows["designs.fa"]["accessibility_accuracy"] is None and "accessibility_accuracy" not in written["definitions"]
    assert rows["designs.fa"]["novelty_median"] is not None  # the pool: the prior's own training rows, 120 bp
    page = (report / "report.html").read_text()
    assert "reference (reference_test.fa)" in page and "the reference set itself" in page
    assert " the reference set (Pred-Activity " in written["verdicts"]["designs.fa"]


def test_the_chain_from_python_with_an_oracle_in_a_users_file(data, tmp_path):
    import dnadav

    oracle_file = tmp_path / "my_oracle.py"
    oracle_file.write_text(ORACLE_FILE)
    spec = f"{oracle_file}:Scorer"
    prior = tmp_path / "prior"
    metrics = dnadav.pretrain(data["sequences.fa"], prior, steps=12, channels=8, blocks=1, batch_size=32, accelerator="cpu")
    assert metrics["length"] == LENGTH
    small = dict(iterations=1, sequences=4, children=2, steps=4, eval_sequences=4, eval_steps=4, inner_epochs=1)
    record = dnadav.align(tmp_path / "run", prior=str(prior), oracle=spec, reference=str(data["reference_valid.fa"]),
                          min_naturalness=-1.0, batch_size=8, accelerator="cpu", quiet=True, **small)  # fmt: skip
    assert "select/kmer3_validation" in record  # the user's reference is the validation set a run selects on
    assert "model_sha256" in record
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["checkpoints"]["reward_oracle"]["path"] == str(oracle_file)  # its sha256 is recorded
    designs = dnadav.design(spec, n=8, model=str(tmp_path / "run"), steps=4, seed=1)
    assert {len(s) for s in designs.sequences} == {LENGTH}
    expected = [(s.count("G") + s.count("C")) / LENGTH for s in designs.sequences]
    assert designs.to_frame()["pred_activity"].tolist() == pytest.approx(expected, abs=1e-6)  # the user's scorer, not ours
    # the module object itself (API only) aligns too; the run records it by its class
    dnadav.align(tmp_path / "run2", prior=str(prior), oracle=_scorer(oracle_file), batch_size=8, accelerator="cpu",
                 reference=str(data["reference_valid.fa"]), quiet=True, **small)  # fmt: skip
    assert json.loads((tmp_path / "run2" / "config.json").read_text())["align_config"]["oracle"] == "python:Scorer"
    # back-off: a floor no plain sample meets (3-mer 1.0) rejects the last iteration; the path from the prior
    # to it is searched by 2 bisections, none meets the floor either, and the last stays (the card says so)
    dnadav.align(tmp_path / "run3", prior=str(prior), oracle=spec, reference=str(data["reference_valid.fa"]),
                 min_naturalness=1.0, back_off=2, batch_size=8, accelerator="cpu", quiet=True, **small)  # fmt: skip
    selection = json.loads((tmp_path / "run3" / "config.json").read_text())["selection"]
    assert [t["scale"] for t in selection["back_off"]["tried"]["1"]] == [0.5, 0.25] and selection["back_off"]["toward"] is None
    assert selection["why"].endswith("no point on the way to a later iteration beat it (2 tried)")
    # the guarded M-step: every pass meets a floor of −1, so the last is kept; its score is the 3-mer of the saved
    # model's plain samples to the user's validation file, on the iteration's own stream
    guarded = dnadav.align(tmp_path / "run4", prior=str(prior), oracle=spec, reference=str(data["reference_valid.fa"]),
                           min_naturalness=-1.0, mstep_min_naturalness=-1.0, holdout=0.0, batch_size=8,
                           accelerator="cpu", quiet=True, **{**small, "inner_epochs": 2})  # fmt: skip
    assert (guarded["mstep/passes"], guarded["mstep/kept_pass"]) == (2.0, 2.0)
    assert guarded["mstep/guard_kept"] == _rescored(tmp_path / "run4", data["reference_valid.fa"])
    report = dnadav.evaluate({"designs": designs}, oracle=spec, reference=str(data["reference_test.fa"]), prior=str(prior))
    assert list(report.metrics.index) == ["designs", "reference (reference_test.fa)"]
    assert report.metrics.loc["designs", "pred_activity_median"] == pytest.approx(float(np.median(expected)), abs=1e-6)
    # a module object works as well as the file (API only), and a user oracle of another length is refused
    module_report = dnadav.evaluate({"designs": designs}, oracle=_scorer(oracle_file), reference=str(data["reference_test.fa"]),
                                    loglik=False)  # fmt: skip
    assert module_report.oracle == "python:Scorer" and module_report.metrics.loc["designs", "n_valid"] == 8
    notes = module_report.result.info["notes"]
    assert any(n.startswith("novelty left out: the pool (the DHS train split) is 200 bp") for n in notes)
    with pytest.raises(InputError, match="trained on 120 bp"):
        dnadav.design(spec, n=2, model="dhs_prior", steps=2)


def _rescored(run: Path, reference: Path) -> float:
    """``validation_naturalness`` of the model ``run`` saved, on the stream of its first M-step's guard."""
    import torch

    from dnadav.core.ranks import stream_seed
    from dnadav.data import read_sequences
    from dnadav.dna.checkpoint import model_schedule
    from dnadav.dna.config import AlignConfig
    from dnadav.jobs.align_metrics import validation_naturalness
    from dnadav.published.dispatch import load_denoiser_any

    model, config = load_denoiser_any(run)
    align_config = AlignConfig.from_dict(config["align_config"])
    sequences = read_sequences(reference, length=align_config.length).sequences
    generator = torch.Generator().manual_seed(stream_seed(align_config.seed, 0, 0, 7))
    return validation_naturalness(model, sequences, align_config, model_schedule(config), generator)


def _scorer(path: Path):
    from dnadav.oracles.user import _import

    return _import(path).Scorer()


def test_data_info_shows_the_text_columns_and_the_held_out_rule(data, capsys):
    assert main(["data", "info", str(data["labels.csv"])]) == 0
    out = capsys.readouterr().out
    assert "records of 120 bp" in out and "cell_type: text, 4 distinct (GM12878, HepG2, K562, hESC)" in out
    assert "held-out rows for pretrain / oracle train: whole chromosomes from the 'chrom' column: test = chr1" in out
    # the example refuses to overwrite its files without --force, in one line
    assert main(["data", "example", "--out", str(data["labels.csv"].parent), "--rows", "400"]) == 2
    assert "already exists; pass --force" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["oracle", "train", "--data", "{labels}", "--out", "{tmp}/o"], "name the label column(s) to learn with --target"),
        (["oracle", "train", "--data", "{labels}", "--target", "liver", "--out", "{tmp}/o"], "no label column 'liver'"),
        (["oracle", "train", "--data", "dhs", "--labels", "{labels}", "--out", "{tmp}/o"], "apply to --data FILE only"),
        (["oracle", "train", "--data", "{labels}", "--target", "hepg2", "--test-fraction", "1", "--out", "{tmp}/o"], "fraction"),
        (["pretrain", "--data", "{fasta}", "--ema-decay", "1", "--out", "{tmp}/p"], "--ema-decay must be in [0, 1)"),
        (["pretrain", "--data", "{fasta}", "--batch-size", "5000", "--out", "{tmp}/p"], "fewer than one batch"),
        (["align", "--oracle", "hepg2", "--reference", "{tmp}/none.fa", "--out", "{tmp}/r"], "no such reference file"),
        (["evaluate", "{fasta}", "--reference", "{tmp}/none.fa", "--report", "{tmp}/rep"], "or a sequence file"),
        (["evaluate", "{fasta}", "--oracle", "{tmp}/none.py:Scorer", "--report", "{tmp}/rep"], "no such oracle file"),
    ],
)
def test_bad_user_inputs_are_one_line_before_any_work(data, tmp_path, capsys, argv, expected):
    values = {"labels": str(data["labels.csv"]), "fasta": str(data["sequences.fa"]), "tmp": str(tmp_path)}
    assert main([a.format(**values) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err, err
    assert not (tmp_path / "o" / "model.pt").exists() and not (tmp_path / "p" / "model.pt").exists()


def test_a_resumed_runs_back_off_searches_the_segments_of_the_uninterrupted_run(data, tmp_path):
    # The back-off reads every iteration's weights from the run folder, so an iteration finished before an
    # interruption is still a segment's end after the resume (held in memory, it was lost: with no eligible
    # iteration the resumed run searched prior -> iteration 2 instead of prior -> iteration 1).
    import dnadav

    oracle_file = tmp_path / "my_oracle.py"
    oracle_file.write_text(ORACLE_FILE)
    prior = tmp_path / "prior"
    dnadav.pretrain(data["sequences.fa"], prior, steps=12, channels=8, blocks=1, batch_size=32, accelerator="cpu")
    small = dict(prior=str(prior), oracle=f"{oracle_file}:Scorer", reference=str(data["reference_valid.fa"]), sequences=4,
                 children=2, steps=4, eval_sequences=4, eval_steps=4, inner_epochs=1, min_naturalness=1.0, back_off=2,
                 batch_size=8, accelerator="cpu", quiet=True)  # fmt: skip
    dnadav.align(tmp_path / "whole", iterations=2, **small)
    dnadav.align(tmp_path / "cut", iterations=1, **small)  # the "interruption": a finished checkpoint, then resumed
    (tmp_path / "cut" / "model.pt").unlink()
    dnadav.align(tmp_path / "cut", iterations=2, **small)
    whole, cut = (json.loads((tmp_path / r / "config.json").read_text())["selection"] for r in ("whole", "cut"))
    assert list(whole["back_off"]["tried"]) == ["1"]
    assert cut["back_off"] == whole["back_off"]
