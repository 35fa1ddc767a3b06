import math

import pytest
import torch

from dnadav.errors import InputError
from dnadav.oracles import (
    CellTypeOracle,
    ConvClassifier,
    ConvClassifierConfig,
    RegressionOracle,
    dinucleotide_shuffle,
    load_oracle,
    save_oracle,
)
from dnadav.oracles.cnn import reverse_complement_onehot
from dnadav.oracles.train import classification_metrics, expected_calibration_error
from dnadav.seq import strings_to_onehot, strings_to_tokens

CLASSES = ("HepG2", "K562", "GM12878", "hESC", "shuffled")


def tiny_network(outputs: int = 5) -> ConvClassifier:
    torch.manual_seed(0)  # initialisation only
    return ConvClassifier(ConvClassifierConfig(num_outputs=outputs, channels=8, first_kernel=5, kernels=(3,), pool=2))


def check_oracle(oracle, length: int = 16) -> None:
    """The contract every oracle meets: shapes, finite, deterministic, batch-invariant, differentiable."""
    oracle.eval()
    onehot = strings_to_onehot(["ACGTTGCA" * (length // 8), "GGGGCCCC" * (length // 8), "ATATATAT" * (length // 8)])
    reward = oracle.reward(onehot)
    assert reward.shape == (3,) and torch.isfinite(reward).all()
    assert oracle.probability(onehot).shape == (3,)
    torch.testing.assert_close(oracle.reward(onehot), reward)
    torch.testing.assert_close(oracle.reward(onehot[1:2]), reward[1:2])  # batch-invariant
    soft = onehot.clone().requires_grad_(True)
    oracle.reward(soft).sum().backward()
    assert soft.grad is not None and soft.grad.abs().sum() > 0
    with pytest.raises(ValueError, match=r"\[B, 4, L\]"):
        oracle.reward(onehot.transpose(1, 2))


@pytest.mark.parametrize(
    "build",
    [
        lambda: CellTypeOracle(tiny_network(), CLASSES, "HepG2"),
        lambda: RegressionOracle(tiny_network(3), ("hepg2", "k562", "sknsh"), "hepg2"),
    ],
)
def test_every_oracle_meets_the_contract(build):
    check_oracle(build())


def test_reward_is_the_target_log_odds():
    class Fixed(torch.nn.Module):
        def forward(self, onehot):
            return torch.tensor([[2.0, 0.0, 0.0, -1.0, 1.0]]).expand(onehot.shape[0], -1)

    oracle = CellTypeOracle(Fixed(), CLASSES, "HepG2")
    p = torch.softmax(torch.tensor([2.0, 0.0, 0.0, -1.0, 1.0]), 0)[0].item()
    assert oracle.reward(torch.zeros(1, 4, 8)).item() == pytest.approx(math.log(p / (1 - p)), rel=1e-6)
    assert oracle.probability(torch.zeros(1, 4, 8)).item() == pytest.approx(p, rel=1e-6)


def test_classifier_is_reverse_complement_symmetric():
    network = tiny_network().eval()
    onehot = strings_to_onehot(["ACGTTGCAAGCT"])
    torch.testing.assert_close(network(onehot), network(reverse_complement_onehot(onehot)))


def test_save_and_load_round_trip_with_a_target(tmp_path):
    network = tiny_network().eval()
    save_oracle(tmp_path / "mine", network, "classifier", CLASSES, {"default_target": "HepG2"})
    loaded = load_oracle(f"{tmp_path / 'mine'}:K562")
    assert loaded.target == "K562"
    onehot = strings_to_onehot(["ACGTTGCAAGCTAAAA"])
    torch.testing.assert_close(loaded(onehot), network(onehot))
    with pytest.raises(InputError, match="not a shipped oracle"):
        load_oracle(tmp_path / "nothing")
    with pytest.raises(InputError, match="not one of the classes"):
        load_oracle(f"{tmp_path / 'mine'}:liver")


def test_shipped_oracles_load_and_separate_real_hepg2_from_k562():
    from dnadav.data import load_dhs

    hepg2 = strings_to_onehot(load_dhs("test", "HepG2")["sequence"].tolist()[:100])
    k562 = strings_to_onehot(load_dhs("test", "K562")["sequence"].tolist()[:100])
    for role in ("reward", "eval"):
        oracle = load_oracle("hepg2", role=role)
        check_oracle(oracle, length=200)
        with torch.no_grad():
            assert oracle.reward(hepg2).median() > oracle.reward(k562).median() + 2


def test_dinucleotide_shuffle_keeps_counts_and_ends():
    tokens = torch.randint(0, 4, (50, 40), generator=torch.Generator().manual_seed(0))
    shuffled = dinucleotide_shuffle(tokens, 1)
    pairs = lambda t: torch.stack([torch.bincount(r[:-1] * 4 + r[1:], minlength=16) for r in t])  # noqa: E731
    assert torch.equal(pairs(tokens), pairs(shuffled))
    assert torch.equal(tokens[:, 0], shuffled[:, 0]) and torch.equal(tokens[:, -1], shuffled[:, -1])
    assert (tokens != shuffled).any()
    assert torch.equal(dinucleotide_shuffle(tokens, 1), shuffled)
    assert torch.equal(dinucleotide_shuffle(strings_to_tokens(["AAAA"]), 0), strings_to_tokens(["AAAA"]))


def test_metrics_of_a_perfect_classifier_and_calibration():
    labels = torch.tensor([0, 1, 2, 3, 4, 0])
    logits = torch.nn.functional.one_hot(labels, 5).float() * 10
    metrics = classification_metrics(logits, labels)
    assert metrics["accuracy"] == 1.0 and metrics["auroc_HepG2_vs_other_cell_types"] == 1.0
    import numpy as np

    assert expected_calibration_error(np.array([0.9, 0.9, 0.1, 0.1]), np.array([1.0, 0.0, 0.0, 0.0])) == pytest.approx(
        0.5 * 0.4 + 0.5 * 0.1
    )
