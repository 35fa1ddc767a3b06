"""Oracles: score one-hot DNA ``[B, 4, L]``; shipped DHS cell-type classifiers by name.

``load_oracle("hepg2", role="reward" | "eval")`` returns a ``CellTypeOracle`` whose ``reward`` is
the HepG2 log-odds — an accessibility proxy for enhancer activity, not measured activity.
Training (``dnadav.oracles.train``) imports Lightning and is not loaded here.
"""

from dnadav.oracles.base import CellTypeOracle, RegressionOracle, check_onehot
from dnadav.oracles.checks import check_oracle
from dnadav.oracles.cnn import ConvClassifier, ConvClassifierConfig, ConvRegressor, reverse_complement_onehot
from dnadav.oracles.registry import DHS_CLASSES, list_oracles, load_oracle, oracle_folder, save_oracle
from dnadav.oracles.shuffle import dinucleotide_shuffle
from dnadav.oracles.user import as_oracle

__all__ = [
    "CellTypeOracle",
    "ConvClassifier",
    "ConvClassifierConfig",
    "ConvRegressor",
    "DHS_CLASSES",
    "RegressionOracle",
    "as_oracle",
    "check_onehot",
    "check_oracle",
    "dinucleotide_shuffle",
    "list_oracles",
    "load_oracle",
    "oracle_folder",
    "reverse_complement_onehot",
    "save_oracle",
]
