"""evaluate_sets + write_report end to end with a toy GC oracle and a toy likelihood; the CLI's errors."""

import json

import numpy as np
import pytest
import torch
from Bio import SeqIO

from dnadav.cli import main
from dnadav.errors import InputError
from dnadav.evaluate.evaluator import HEADLINE, evaluate_sets
from dnadav.evaluate.report import REPORT_FILES, write_report


class GCOracle(torch.nn.Module):
    """Toy oracle: reward = GC count − L/2; probability = sigmoid(reward)."""

    def reward(self, onehot):
        return onehot[:, 1:3].sum(dim=(1, 2)) - onehot.shape[-1] / 2

    def probability(self, onehot):
        return torch.sigmoid(self.reward(onehot))


class ShiftedGCOracle(GCOracle):
    def reward(self, onehot):
        return super().reward(onehot) + 1.0


def toy_log_likelihood(tokens):
    """Toy likelihood (nats): −1 per A/T base, −2 per G/C base."""
    return -(1.0 + ((tokens == 1) | (tokens == 2)).float()).sum(dim=1)


def write_fasta(path, sequences):
    path.write_text("".join(f">s{i}\n{s}\n" for i, s in enumerate(sequences)))
    return path


@pytest.fixture(scope="module")
def toy_world(tmp_path_factory):
    rng = np.random.default_rng(0)
    folder = tmp_path_factory.mktemp("toy")
    random_set = ["".join(rng.choice(list("ACGT"), 40)) for _ in range(12)]
    gc_rich = ["".join(rng.choice(list("GCGCA"), 40)) for _ in range(12)] + ["ACGTNACGT" + "A" * 31]  # one invalid
    fastas = {name: write_fasta(folder / f"{name}.fa", seqs) for name, seqs in (("random", random_set), ("gc_rich", gc_rich))}
    # read with Bio.SeqIO here (the package reader is tested elsewhere); invalid records stay in
    inputs = {name: [str(r.seq) for r in SeqIO.parse(path, "fasta")] for name, path in fastas.items()}
    reference = ["".join(rng.choice(list("ACGT"), 40)) for _ in range(20)]
    result = evaluate_sets(
        inputs,
        reward_oracle=ShiftedGCOracle(),
        eval_oracle=GCOracle(),
        log_likelihood=toy_log_likelihood,
        reference=reference,
        training=reference[:5] + [random_set[0]],  # one design is a copy of a training sequence
    )
    return result, inputs


def test_headline_metrics_of_toy_sets(toy_world):
    result, inputs = toy_world
    summary = result.summary
    assert list(summary.index) == ["random", "gc_rich"]
    assert set(HEADLINE) <= set(summary.columns)
    assert summary.loc["gc_rich", "n"] == 13 and summary.loc["gc_rich", "n_valid"] == 12
    assert summary.loc["gc_rich", "n_invalid"] == 1 and summary.loc["random", "n_invalid"] == 0
    assert summary.loc["gc_rich", "pred_activity_median"] > summary.loc["random", "pred_activity_median"]
    assert summary.loc["gc_rich", "accessibility_accuracy"] == 1.0
    assert summary.loc["random", "reward_eval_gap"] == pytest.approx(1.0)
    assert summary.loc["random", "near_copy_fraction"] == pytest.approx(1 / 12)
    gc = np.array([(s.count("G") + s.count("C")) / 40 for s in inputs["random"]])
    assert summary.loc["random", "gc_mean"] == pytest.approx(gc.mean())
    assert summary.loc["random", "app_log_lik_median"] == pytest.approx(np.median(-40 - 40 * gc))
    per = result.per_sequence
    assert len(per) == 24 and set(per["input"]) == {"random", "gc_rich"}
    assert result.kmer_frequencies["reference"].sum() == pytest.approx(1.0)
    assert list(result.motif_rates.index) == ["reference", "random", "gc_rich"]


def test_report_files_json_keys_and_self_contained_html(toy_world, tmp_path):
    result, _ = toy_world
    page = write_report(
        result,
        tmp_path,
        command="dnadav evaluate a.fa b.fa",
        oracle_names={"reward": "gc+1", "eval": "gc"},
        reference_description="toy",
    )
    for name in REPORT_FILES:
        assert (tmp_path / name).is_file()
    html = page.read_text()
    assert html.count("<img") >= 4 and "data:image/png;base64," in html
    assert "http://" not in html and "https://" not in html and "<script" not in html and "<link" not in html
    data = json.loads((tmp_path / "metrics.json").read_text())
    assert {"command", "dnadav_version", "oracles", "reference", "definitions", "inputs", "top_motifs", "info"} <= set(data)
    assert {row["input"] for row in data["inputs"]} == {"random", "gc_rich"}
    assert set(HEADLINE) <= set(data["inputs"][0])
    assert (tmp_path / "metrics.csv").read_text().splitlines()[0].startswith("input,n,n_valid")
    assert len((tmp_path / "per_sequence.csv").read_text().splitlines()) == 25
    with pytest.raises(InputError, match="pass --force"):
        write_report(result, tmp_path, command="x", oracle_names={"reward": "gc", "eval": "gc"}, reference_description="toy")


def test_cli_rejects_bad_inputs_in_one_line(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "missing.fa"), "--report", str(tmp_path / "r")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "missing.fa" in error
    bad = tmp_path / "bad.fa"
    bad.write_text("this is not fasta\n")
    assert main(["evaluate", str(bad), "--report", str(tmp_path / "r")]) == 2
    assert "bad.fa" in capsys.readouterr().err
    good = write_fasta(tmp_path / "good.fa", ["ACGT" * 5])
    (tmp_path / "r").mkdir(exist_ok=True)
    (tmp_path / "r" / "report.html").write_text("old")
    assert main(["evaluate", str(good), "--report", str(tmp_path / "r")]) == 2  # refused before any work
    assert "--force" in capsys.readouterr().err
