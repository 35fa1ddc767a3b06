import json
import math

import pytest
import torch

from dnadav.dna.tokens import strings_to_onehot
from dnadav.errors import InputError
from dnadav.oracles import (
    DHS_CLASSES,
    CellTypeOracle,
    ConvClassifier,
    ConvClassifierConfig,
    ConvRegressor,
    RegressionOracle,
    check_onehot,
    check_oracle,
    list_oracles,
    load_oracle,
    reverse_complement_onehot,
    save_oracle,
)
from dnadav.oracles.metrics import classification_metrics, expected_calibration_error, regression_metrics

GOSAI = ("hepg2", "k562", "sknsh")


def tiny_config(outputs: int = 5, **changes) -> ConvClassifierConfig:
    options = {"channels": 8, "first_kernel": 5, "kernels": (3,), "pool": 2, "length": 16, **changes}
    return ConvClassifierConfig(num_outputs=outputs, **options)


def tiny_classifier(**changes) -> ConvClassifier:
    torch.manual_seed(0)  # initialisation only
    return ConvClassifier(tiny_config(**changes))


def tiny_regressor() -> ConvRegressor:
    torch.manual_seed(0)
    return ConvRegressor(tiny_config(outputs=3))


class FixedLogits(torch.nn.Module):
    """A toy network whose logits do not depend on the sequence."""

    def __init__(self, logits):
        super().__init__()
        self.logits = torch.tensor(logits)

    def forward(self, onehot):
        return self.logits.expand(onehot.shape[0], -1) + 0 * onehot.sum(dim=(1, 2))[:, None]


@pytest.mark.parametrize(
    "build",
    [
        lambda: CellTypeOracle(tiny_classifier(), DHS_CLASSES, "HepG2"),
        lambda: CellTypeOracle(tiny_classifier(kernels=(3, 3), dilations=(1, 2)), DHS_CLASSES, "K562"),
        lambda: RegressionOracle(tiny_regressor(), GOSAI, "hepg2"),
    ],
    ids=["classifier", "dilated-classifier", "regressor"],
)
def test_every_oracle_meets_the_contract(build):
    oracle = build().train()
    check_oracle(oracle, length=16)
    assert oracle.training  # mode restored


def test_check_oracle_names_a_broken_promise():
    class Unbatched(torch.nn.Module):
        training = False

        def eval(self):
            return self

        def train(self, mode=True):
            return self

        def __call__(self, onehot):
            return onehot.sum(dim=(1, 2))[:, None].expand(-1, 5) - onehot.sum()  # depends on batch-mates

        def reward(self, onehot):
            return self(onehot)[:, 0]

        def probability(self, onehot):
            return torch.sigmoid(self.reward(onehot))

    with pytest.raises(AssertionError, match="alone but"):
        check_oracle(Unbatched(), length=16)


def test_reward_is_the_target_log_odds_by_hand():
    logits = [2.0, 0.0, 0.0, -1.0, 1.0]
    oracle = CellTypeOracle(FixedLogits(logits), DHS_CLASSES, "HepG2")
    others = math.log(math.exp(0) + math.exp(0) + math.exp(-1) + math.exp(1))
    p = math.exp(2) / (math.exp(2) + math.exp(others))
    onehot = torch.zeros(2, 4, 8)
    torch.testing.assert_close(oracle.reward(onehot), torch.full((2,), 2.0 - others))
    assert oracle.reward(onehot)[0].item() == pytest.approx(math.log(p / (1 - p)), rel=1e-6)
    assert oracle.probability(onehot)[0].item() == pytest.approx(p, rel=1e-6)
    gm = CellTypeOracle(FixedLogits(logits), DHS_CLASSES, "GM12878")  # a middle class: the others straddle it
    assert gm.reward(onehot)[0].item() == pytest.approx(0.0 - math.log(math.exp(2) + 1 + math.exp(-1) + math.exp(1)), rel=1e-6)


def test_regression_reward_is_the_target_column():
    oracle = RegressionOracle(FixedLogits([0.5, -1.0, 3.0]), GOSAI, "k562")
    assert oracle.reward(torch.zeros(3, 4, 8)).tolist() == [-1.0, -1.0, -1.0]


def test_input_errors_teach_the_fix():
    oracle = CellTypeOracle(tiny_classifier(), DHS_CLASSES, "HepG2")
    with pytest.raises(ValueError, match=r"\[B, L, 4\]: use onehot.transpose.*tokens_to_onehot"):
        oracle(torch.zeros(2, 16, 4))
    with pytest.raises(ValueError, match=r"looks like tokens \[B, L\]"):
        oracle(torch.zeros(2, 16, dtype=torch.long))
    with pytest.raises(ValueError, match="strings_to_onehot"):
        check_onehot(["ACGT"])
    with pytest.raises(ValueError, match="not one of the classes"):
        CellTypeOracle(tiny_classifier(), DHS_CLASSES, "liver")


def test_classifier_is_exactly_reverse_complement_symmetric():
    network = tiny_classifier(kernels=(3, 3), dilations=(1, 2)).eval()
    onehot = strings_to_onehot(["ACGTTGCAAGCTTTAG"])
    torch.testing.assert_close(network(onehot), network(reverse_complement_onehot(onehot)))
    assert torch.equal(reverse_complement_onehot(strings_to_onehot(["AACG"])), strings_to_onehot(["CGTT"]))


def test_config_round_trip_and_old_checkpoints_without_new_keys():
    config = tiny_config(kernels=(3, 5), dilations=(2, 1))
    assert ConvClassifierConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    old = {k: v for k, v in config.to_dict().items() if k not in ("dilations", "length")}
    assert ConvClassifierConfig.from_dict(old).dilations == (1, 1)
    with pytest.raises(ValueError, match="unknown network option"):
        ConvClassifierConfig.from_dict({**old, "width": 3})
    with pytest.raises(ValueError, match="one entry per kernel"):
        ConvClassifierConfig(kernels=(3, 5), dilations=(1,))


def test_save_and_load_round_trip_with_a_target(tmp_path):
    network = tiny_classifier().eval()
    save_oracle(tmp_path / "mine", network, "classifier", DHS_CLASSES, {"default_target": "HepG2"})
    assert load_oracle(tmp_path / "mine").target == "HepG2"
    loaded = load_oracle(f"{tmp_path / 'mine'}:K562", device="cpu")
    assert loaded.target == "K562" and not loaded.training
    onehot = strings_to_onehot(["ACGTTGCAAGCTAAAA"])
    torch.testing.assert_close(loaded(onehot), network(onehot))
    assert load_oracle(tmp_path / "mine" / "model.pt").target == "HepG2"  # the file's folder
    check_oracle(loaded, length=16)


def test_regressor_round_trip(tmp_path):
    network = tiny_regressor().eval()
    save_oracle(tmp_path / "mpra", network, "regressor", GOSAI, {"default_target": "sknsh"})
    loaded = load_oracle(tmp_path / "mpra")
    assert isinstance(loaded, RegressionOracle) and isinstance(loaded.network, ConvRegressor)
    assert loaded.target == "sknsh"
    onehot = strings_to_onehot(["ACGTTGCAAGCTAAAA"])
    torch.testing.assert_close(loaded.reward(onehot), network(onehot)[:, 2])


def test_loading_never_unpickles_objects(tmp_path):
    save_oracle(tmp_path / "evil", tiny_classifier(), "classifier", DHS_CLASSES)
    torch.save({"payload": FixedLogits([1.0])}, tmp_path / "evil" / "model.pt")  # an arbitrary pickled object
    with pytest.raises(Exception, match="[Ww]eights only"):
        load_oracle(tmp_path / "evil")


def test_registry_errors_list_the_choices(tmp_path):
    assert list_oracles() == ["gm12878", "hepg2", "hesc", "k562"]
    with pytest.raises(InputError, match="gm12878, hepg2, hesc, k562"):
        load_oracle("liver")
    with pytest.raises(InputError, match="not a shipped oracle"):
        load_oracle(tmp_path / "nothing")
    with pytest.raises(InputError, match="role must be reward or eval"):
        load_oracle("hepg2", role="train")
    save_oracle(tmp_path / "mine", tiny_classifier(), "classifier", DHS_CLASSES)
    with pytest.raises(InputError, match="not one of the classes"):
        load_oracle(f"{tmp_path / 'mine'}:liver")
    with pytest.raises(ValueError, match="5 class names for a network with 3 outputs"):
        save_oracle(tmp_path / "bad", tiny_regressor(), "regressor", DHS_CLASSES)


def test_metrics_with_known_answers():
    labels = torch.tensor([0, 1, 2, 3, 4, 0])
    metrics = classification_metrics(torch.nn.functional.one_hot(labels, 5).float() * 10, labels, DHS_CLASSES)
    assert metrics["accuracy"] == 1.0 and metrics["auroc_HepG2_vs_other_cell_types"] == 1.0
    assert metrics["auroc_shuffled"] == 1.0 and metrics["n"] == 6
    import numpy as np

    assert expected_calibration_error(np.array([0.9, 0.9, 0.1, 0.1]), np.array([1.0, 0.0, 0.0, 0.0])) == pytest.approx(
        0.5 * 0.4 + 0.5 * 0.1
    )
    targets = torch.tensor([[1.0, 0.0, 2.0], [2.0, 1.0, 2.0], [3.0, 5.0, 2.0]])
    reg = regression_metrics(2 * targets, targets, GOSAI)
    assert reg["pearson_hepg2"] == pytest.approx(1.0) and reg["spearman_k562"] == pytest.approx(1.0)
    assert math.isnan(reg["pearson_sknsh"]) and reg["mse_hepg2"] == pytest.approx((1 + 4 + 9) / 3)


def _shipped_or_skip(role: str):
    try:
        return load_oracle("hepg2", role=role)
    except FileNotFoundError as error:
        pytest.skip(f"shipped {role} oracle absent from this checkout ({error})")


@pytest.mark.parametrize("role", ["reward", "eval"])
def test_shipped_oracles_load_meet_the_contract_and_separate_hepg2_from_k562(role):
    from dnadav.data import load_dhs

    oracle = _shipped_or_skip(role)
    check_oracle(oracle, length=200)
    hepg2 = strings_to_onehot(load_dhs("test", "HepG2")["sequence"].tolist()[:100])
    k562 = strings_to_onehot(load_dhs("test", "K562")["sequence"].tolist()[:100])
    with torch.no_grad():
        assert oracle.reward(hepg2).median() > oracle.reward(k562).median() + 2
    assert load_oracle("HepG2", role=role).target == "HepG2" and load_oracle("hesc", role=role).target == "hESC"


def test_random_reverse_complement_flips_whole_sequences_from_the_given_generator():
    from dnadav.dna.tokens import reverse_complement_onehot as rc
    from dnadav.oracles.train import random_reverse_complement

    onehot = strings_to_onehot(["AACGT", "GGGTA", "CATTC", "ACCCA"] * 8)
    first = random_reverse_complement(onehot, generator=torch.Generator().manual_seed(3))
    again = random_reverse_complement(onehot, generator=torch.Generator().manual_seed(3))
    assert torch.equal(first, again)  # seeded: the same flips
    flipped = [bool(torch.equal(f, r)) and not torch.equal(f, o) for f, r, o in zip(first, rc(onehot), onehot)]
    kept = [bool(torch.equal(f, o)) for f, o in zip(first, onehot)]
    assert all(a or b for a, b in zip(flipped, kept)) and 0 < sum(flipped) < len(onehot)
