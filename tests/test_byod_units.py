"""Bring your own data (issue 24), piece by piece, with known answers: the held-out split rule, the
labelled reader, the EMA warm-up and the saved-weights choice, own oracles from a file or an object,
the regression columns of an evaluation and the scale folded into a regressor."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dnadav.data.labels import read_labelled
from dnadav.data.splits import chromosome_order, held_out_split, reward_eval_halves
from dnadav.data.tables import SequenceTable
from dnadav.errors import InputError


def _table(n: int, **labels) -> SequenceTable:
    rng = np.random.default_rng(0)
    sequences = ["".join(rng.choice(list("ACGT"), 12)) for _ in range(n)]
    columns = {k: np.array(v, dtype=object) for k, v in labels.items()}
    return SequenceTable([f"s{i}" for i in range(n)], sequences, "t.csv", labels=columns)


# --- the held-out split --------------------------------------------------------------------------


def test_chromosomes_sort_naturally_and_the_first_two_are_test_and_valid():
    assert chromosome_order(["chr10", "chrX", "chr2", "chr1", "chrY", "chrUn_x", "chr9"]) == [
        "chr1", "chr2", "chr9", "chr10", "chrX", "chrY", "chrUn_x"
    ]  # fmt: skip
    chroms = ["chr10", "chr2", "chr1", "chr3", "chr2", "chr9", "chr1", "chr10"]
    split = held_out_split(_table(8, chrom=chroms))
    assert split.split.tolist() == ["train", "valid", "test", "train", "valid", "train", "test", "train"]
    assert "test = chr1, valid = chr2" in split.rule


def test_a_split_column_wins_over_chromosomes_and_bad_values_name_the_record():
    table = _table(4, chrom=["chr1", "chr1", "chr2", "chr3"], Split=["train", "Validation", "test", "train"])
    assert held_out_split(table).split.tolist() == ["train", "valid", "test", "train"]
    bad = _table(3, split=["train", "held", "test"])
    with pytest.raises(InputError, match=r"t.csv: record 's1' \(#2\): split 'held' is not train, valid or test"):
        held_out_split(bad)


def test_random_split_is_stratified_seeded_and_independent_of_row_order():
    strata = np.array([0] * 50 + [1] * 30)
    split = held_out_split(_table(80), valid_fraction=0.1, test_fraction=0.2, seed=3, strata=strata)
    for stratum, size in ((0, 50), (1, 30)):
        rows = split.split[strata == stratum]
        assert (rows == "test").sum() == round(0.2 * size) and (rows == "valid").sum() == round(0.1 * size)
    again = held_out_split(_table(80), valid_fraction=0.1, test_fraction=0.2, seed=3, strata=strata)
    assert (again.split == split.split).all()
    other = held_out_split(_table(80), valid_fraction=0.1, test_fraction=0.2, seed=4, strata=strata)
    assert (other.split != split.split).any()


def test_reward_and_eval_halves_are_disjoint_whole_chromosomes_covering_the_train_rows():
    chroms = ["chr1"] * 3 + ["chr2"] * 3 + ["chr3"] * 4 + ["chr4"] * 4 + ["chr5"] * 2 + ["chr11"] * 6
    split = held_out_split(_table(len(chroms), chrom=chroms))
    halves, rule = reward_eval_halves(split)
    train = set(split.rows("train").tolist())
    assert set(halves["reward"]).isdisjoint(halves["eval"]) and set(halves["reward"]) | set(halves["eval"]) == train
    names = np.array(chroms)
    # 16 train rows: chr3 (4) + chr4 (4) reach half, so reward = chr3-chr4 and eval = chr5, chr11
    assert set(names[halves["reward"]]) == {"chr3", "chr4"} and set(names[halves["eval"]]) == {"chr5", "chr11"}
    assert "whole chromosomes" in rule
    no_chrom = held_out_split(_table(40), seed=1)
    halves, _ = reward_eval_halves(no_chrom, seed=1)
    assert abs(len(halves["reward"]) - len(halves["eval"])) <= 1 and set(halves["reward"]).isdisjoint(halves["eval"])


# --- the labelled reader -------------------------------------------------------------------------


def _csv(path, rows: list[str]) -> str:
    path.write_text("\n".join(rows) + "\n")
    return str(path)


def test_the_task_follows_the_label_column_and_missing_labels_are_counted(tmp_path):
    rows = ["id,sequence,activity,active,cell", "a,ACGT,1.5,1,liver", "b,CCGT,,0,blood", "c,GGGT,-2,1,liver", "d,TTGT,0.5,0,"]
    path = _csv(tmp_path / "x.csv", rows)
    regression = read_labelled(path, "activity")
    assert regression.task == "regression" and regression.missing == 1 and regression.table.ids == ["a", "c", "d"]
    assert regression.targets[:, 0].tolist() == [1.5, -2.0, 0.5] and regression.names == ("activity",)
    binary = read_labelled(path, "active")
    assert binary.task == "classification" and binary.names == ("not_active", "active") and binary.target == "active"
    assert binary.targets.tolist() == [1, 0, 1, 0]
    text = read_labelled(path, "cell")
    assert text.names == ("blood", "liver") and text.targets.tolist() == [1, 0, 1] and text.missing == 1
    with pytest.raises(InputError, match=r"record 'a' \(#1\): cell holds text"):
        read_labelled(path, "cell", task="regression")
    with pytest.raises(InputError, match="no label column 'hepg2'; columns found: active, activity, cell"):
        read_labelled(path, "hepg2")


def test_fasta_with_a_labels_table_joins_on_the_ids(tmp_path):
    fasta = tmp_path / "s.fa"
    fasta.write_text(">a chrom=chr3\nACGT\n>b chrom=chr1\nCCGT\n")
    labels = _csv(tmp_path / "labels.tsv", ["name\tscore", "b\t2", "a\t1"])
    data = read_labelled(fasta, "score", labels=labels)
    assert data.targets[:, 0].tolist() == [1.0, 2.0] and data.table.labels["chrom"].tolist() == ["chr3", "chr1"]
    short = _csv(tmp_path / "short.tsv", ["name\tscore", "a\t1"])
    with pytest.raises(InputError, match=r"no labels for record 'b' \(#2\)"):
        read_labelled(fasta, "score", labels=short)


# --- pretraining: the EMA warm-up and the choice of the saved weights ----------------------------


def test_the_ema_warm_up_starts_from_the_trained_weights():
    from dnadav.dna.module import ema_decay_at

    assert ema_decay_at(0.999, 0) == pytest.approx(0.1) and ema_decay_at(0.999, 10**6) == 0.999
    # an EMA of a weight that jumped from 0 to 1 at the first step, after n updates: 1 − Π decay
    held = np.prod([ema_decay_at(0.999, n) for n in range(167)])
    assert 1 - held > 0.99  # without the warm-up: 1 − 0.999**167 = 0.15 (the untrained model)


def _prior_module(ema_decay: float = 0.999):
    from dnadav.dna.backbone import ConvDenoiser, ConvDenoiserConfig
    from dnadav.dna.module import PriorModule
    from dnadav.dna.schedule import make_schedule

    torch.manual_seed(0)
    network = ConvDenoiser(ConvDenoiserConfig(channels=8, num_blocks=1))
    return PriorModule(network, make_schedule("loglinear"), lr=1e-2, ema_decay=ema_decay), make_schedule("loglinear")


def test_the_live_weights_are_saved_with_a_warning_when_the_ema_is_worse():
    from dnadav.dna.tokens import strings_to_tokens
    from dnadav.jobs.pretrain import choose_weights

    module, schedule = _prior_module()
    valid = ["ACGTACGTAAAA"] * 16
    optimiser = torch.optim.Adam(module.model.parameters(), lr=1e-2)
    for _ in range(30):  # the live weights learn the one sequence; the EMA never saw an update
        optimiser.zero_grad()
        module.loss(strings_to_tokens(valid), torch.Generator().manual_seed(0)).backward()
        optimiser.step()
    with pytest.warns(UserWarning, match="worse than the live weights"):
        chosen, kind, notes = choose_weights(module, valid, schedule)
    assert kind == "live" and chosen is module.model
    assert notes["valid_nelbo_bits_per_base_live"] < notes["valid_nelbo_bits_per_base_ema"]
    module.ema.load_state_dict(module.model.state_dict())  # now equal: the EMA is kept
    assert choose_weights(module, valid, schedule)[1] == "ema"
    assert choose_weights(_prior_module(0.0)[0], valid, schedule)[1] == "live"  # --ema-decay 0: no EMA


def test_a_files_held_out_rows_follow_its_columns(tmp_path):
    from dnadav.jobs.pretrain import load_training_sequences

    rows = ["id,sequence,chrom"] + [f"r{i},{'ACGT'[i % 4] * 8},chr{1 + i % 4}" for i in range(12)]
    split = load_training_sequences(_csv(tmp_path / "c.csv", rows), None)
    assert (len(split.train), len(split.valid), len(split.test)) == (6, 3, 3) and "chr1" in split.rule
    plain = _csv(tmp_path / "p.csv", ["sequence"] + ["ACGTACGT"] * 20)
    split = load_training_sequences(plain, None, valid_fraction=0.25)
    assert (len(split.train), len(split.valid), len(split.test)) == (15, 5, 0)


# --- own oracles ---------------------------------------------------------------------------------

ORACLE_FILE = """
import torch
from torch import nn


class Scorer(nn.Module):
    output_names = ("gc", "at")

    def forward(self, onehot):
        gc = onehot[:, 1:3].mean(dim=(1, 2)) * 2
        return torch.stack([gc, 1 - gc], dim=1)


def flat(onehot):
    return onehot[:, 0].sum(-1)


class Classes(nn.Module):
    output_names = ("liver", "blood")
    kind = "classification"

    def forward(self, onehot):
        return torch.stack([onehot[:, 0].sum(-1), onehot[:, 3].sum(-1)], dim=1)


def wrong(onehot):
    return onehot.sum(1)


def nan(onehot):
    return onehot[:, 0, 0] * float("nan")


roles = {"reward": flat, "eval": Scorer()}
"""


def test_an_oracle_file_scores_with_its_named_outputs(tmp_path):
    from dnadav.dna.tokens import strings_to_onehot
    from dnadav.loaders import load_oracle

    path = tmp_path / "my_oracle.py"
    path.write_text(ORACLE_FILE)
    onehot = strings_to_onehot(["GGCC", "AAAT", "GATC"])
    scorer = load_oracle(f"{path}:Scorer")
    assert scorer.class_names == ("gc", "at") and scorer.target == "gc" and scorer.checkpoint_file == path
    assert scorer.reward(onehot).tolist() == [1.0, 0.0, 0.5]
    assert load_oracle(f"{path}:Scorer:at").reward(onehot).tolist() == [0.0, 1.0, 0.5]
    assert load_oracle(f"{path}:flat").reward(onehot).tolist() == [0.0, 3.0, 1.0]
    classes = load_oracle(f"{path}:Classes")  # log-odds of liver over blood
    assert classes.reward(onehot).tolist() == pytest.approx([0.0, 2.0, 0.0])
    assert load_oracle(f"{path}:roles", role="reward").class_names == ("score",)
    assert load_oracle(f"{path}:roles", role="eval").class_names == ("gc", "at")
    failures = (("wrong", r"returned shape \(3, 4\) for 3 sequences"), ("nan", "nan or inf"), ("Nope", "defines no 'Nope'"))
    for name, message in failures:
        with pytest.raises(InputError, match=message):
            load_oracle(f"{path}:{name}").reward(onehot)


def test_a_broken_oracle_file_is_one_line(tmp_path):
    from dnadav.loaders import load_oracle

    path = tmp_path / "broken.py"
    path.write_text("import torch\nraise RuntimeError('no weights here')\n")
    with pytest.raises(InputError, match=r"broken.py: importing it failed: RuntimeError: no weights here"):
        load_oracle(f"{path}:Scorer")


def test_an_oracle_that_fails_while_scoring_is_one_line_naming_it():
    from dnadav.oracles import as_oracle

    def scorer(onehot):
        return torch.stack([onehot.sum((1, 2))[:, None], onehot.mean((1, 2))], dim=1)  # [B, 1] beside [B]

    oracle = as_oracle(scorer, source="my_oracle.py:Scorer")
    with pytest.raises(InputError, match=r"^my_oracle.py:Scorer: failed on one-hot \[2, 4, 4\] .*: RuntimeError: stack expects"):
        oracle.reward(torch.eye(4)[None].repeat(2, 1, 1))


def test_a_python_object_is_an_oracle_for_both_roles():
    from dnadav.oracles import as_oracle

    oracle = as_oracle(lambda onehot: onehot[:, 2].mean(-1))
    assert oracle.reward(torch.eye(4)[None].repeat(2, 1, 1)).tolist() == [0.25, 0.25]
    assert next(oracle.parameters()).device.type == "cpu"  # callers find the device of a parameter-free scorer


# --- evaluation with a regression oracle, and the scale folded into a regressor ------------------


def test_a_regression_oracle_gets_above_threshold_and_no_accessibility():
    from dnadav.evaluate.evaluator import evaluate_sets
    from dnadav.evaluate.motifs import MotifSet
    from dnadav.oracles import as_oracle

    gc = as_oracle(lambda onehot: onehot[:, 1:3].sum(dim=(1, 2)) / onehot.shape[-1])
    motifs = MotifSet.from_counts({"GATA": [[0, 9, 0, 9], [0, 0, 0, 0], [9, 0, 0, 0], [0, 0, 9, 0]]})
    designs = ["GGGGCCCC", "GGGGAAAA", "AAAATTTT", "GCGCGCGA"]  # GC 1, 0.5, 0, 0.875
    result = evaluate_sets(
        {"designs": designs},
        reward_oracle=gc,
        eval_oracle=gc,
        reference=["GGGGAAAA", "GGGGCCCA"],
        training=[],
        log_likelihood="skip",
        motifs=motifs,
        threshold=0.6,
    )
    row = result.summary.loc["designs"]
    assert row["above_threshold"] == 0.5 and np.isnan(row["accessibility_accuracy"])
    assert "eval_probability" not in result.per_sequence.columns and result.info["eval_oracle_kind"] == "regression"
    default = evaluate_sets(
        {"designs": designs}, reward_oracle=gc, eval_oracle=gc, reference=["GGGGAAAA", "GGGGCCCA"], training=[],
        log_likelihood="skip", motifs=motifs,
    )  # fmt: skip
    assert default.info["threshold"] == pytest.approx(0.6875) and default.summary.loc["designs", "above_threshold"] == 0.5


def test_the_folded_scale_gives_predictions_in_the_files_units():
    from dnadav.oracles.cnn import ConvClassifierConfig, ConvRegressor
    from dnadav.oracles.user_data import TargetScale, fold_scale

    torch.manual_seed(0)
    network = ConvRegressor(ConvClassifierConfig(num_outputs=2, channels=8, first_kernel=3, kernels=(3,), length=12)).eval()
    onehot = torch.nn.functional.one_hot(torch.randint(0, 4, (5, 12)), 4).float().transpose(1, 2)
    before = network(onehot)
    scale = TargetScale(mean=np.array([10.0, -3.0]), std=np.array([4.0, 0.5]))
    fold_scale(network, scale)
    expected = before * torch.tensor([4.0, 0.5]) + torch.tensor([10.0, -3.0])
    assert torch.allclose(network(onehot), expected, atol=1e-5)
