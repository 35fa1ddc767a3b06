"""Oracles: score one-hot DNA ``[B, 4, L]``; shipped DHS cell-type classifiers by name."""

from dnadav.oracles.base import CellTypeOracle, RegressionOracle, check_onehot
from dnadav.oracles.cnn import ConvClassifier, ConvClassifierConfig
from dnadav.oracles.registry import DHS_CLASSES, list_oracles, load_oracle, save_oracle
from dnadav.oracles.shuffle import dinucleotide_shuffle

__all__ = [
    "CellTypeOracle",
    "ConvClassifier",
    "ConvClassifierConfig",
    "DHS_CLASSES",
    "RegressionOracle",
    "check_onehot",
    "dinucleotide_shuffle",
    "list_oracles",
    "load_oracle",
    "save_oracle",
]
