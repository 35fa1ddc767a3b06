"""Oracles: networks that score one-hot DNA, with the reward shaping dnadav aligns to.

``CellTypeOracle`` wraps a classifier over cell-type classes (+ a shuffled-background class):
``reward`` is the target class's log-odds, ``logit_target − logsumexp(other logits)`` — for the DHS
oracles an *accessibility* proxy for enhancer activity, not a measured activity.
``RegressionOracle`` wraps a regressor (e.g. Gosai MPRA activity): ``reward`` is one output column.
Both are differentiable in the one-hot input (soft one-hots allowed, for gradient guidance).
"""

from __future__ import annotations

import torch
from torch import nn

from dnadav.dna.tokens import NUM_BASES

__all__ = ["check_onehot", "ScoredNetwork", "CellTypeOracle", "RegressionOracle"]


def check_onehot(onehot: torch.Tensor) -> None:
    """Raise a ValueError that says how to fix it unless ``onehot`` is a ``[B, 4, L]`` tensor."""
    if not isinstance(onehot, torch.Tensor):
        raise ValueError(
            f"oracle expects a torch.Tensor one-hot [B, 4, L]; got {type(onehot).__name__}. "
            "Use dnadav.dna.tokens.strings_to_onehot for strings."
        )
    if onehot.dim() != 3 or onehot.shape[1] != NUM_BASES:
        if onehot.dim() == 3 and onehot.shape[2] == NUM_BASES:
            hint = " It looks like [B, L, 4]: use onehot.transpose(1, 2)."
        elif onehot.dim() == 2:
            hint = " It looks like tokens [B, L]."
        else:
            hint = ""
        raise ValueError(
            f"oracle expects one-hot [B, 4, L]; got {tuple(onehot.shape)}.{hint} "
            "Use dnadav.dna.tokens.tokens_to_onehot to convert tokens."
        )


class ScoredNetwork(nn.Module):
    """A network over one-hot DNA with named outputs, one of which (``target``) is scored."""

    def __init__(self, network: nn.Module, output_names: tuple[str, ...], target: str):
        super().__init__()
        if target not in output_names:
            raise ValueError(f"target {target!r} is not one of the classes {tuple(output_names)}")
        self.network = network
        self.class_names = tuple(output_names)
        self.target = target
        self.target_index = self.class_names.index(target)

    def forward(self, onehot: torch.Tensor) -> torch.Tensor:
        """``onehot [B, 4, L] -> outputs [B, num_outputs]`` (logits or predictions)."""
        check_onehot(onehot)
        return self.network(onehot.float())


class CellTypeOracle(ScoredNetwork):
    """Classifier over ``class_names`` scored for one ``target`` class."""

    def probability(self, onehot: torch.Tensor) -> torch.Tensor:
        """Softmax probability of the target class ``[B]``."""
        return torch.softmax(self(onehot), dim=-1)[:, self.target_index]

    def reward(self, onehot: torch.Tensor) -> torch.Tensor:
        """Log-odds of the target class ``[B]`` (nats): ``log p / (1 − p)``."""
        logits = self(onehot)
        others = torch.cat([logits[:, : self.target_index], logits[:, self.target_index + 1 :]], dim=-1)
        return logits[:, self.target_index] - torch.logsumexp(others, dim=-1)


class RegressionOracle(ScoredNetwork):
    """Regressor over ``target_names`` scored by one ``target`` output."""

    def reward(self, onehot: torch.Tensor) -> torch.Tensor:
        """The ``target`` column of the predictions ``[B]`` (e.g. predicted log2 MPRA activity)."""
        return self(onehot)[:, self.target_index]

    def probability(self, onehot: torch.Tensor) -> torch.Tensor:
        """Not a classifier: the sigmoid of the reward, documented as such (used for ranking only)."""
        return torch.sigmoid(self.reward(onehot))
