"""Objectives: rewards built from one classifier's per-cell-type log-odds, in one network call.

``Objective(parsed, oracle).reward(onehot [B, 4, L]) -> [B]`` (nats). Every term is computed from the
same logits ``[B, C]``: the log-odds of class c is ``logit_c − logsumexp_{k≠c} logit_k`` =
``log p_c / (1 − p_c)``, exactly ``CellTypeOracle.reward`` for that target. Differentiable in the
one-hot input (soft one-hots allowed), so gradient proposals work as with a plain oracle.
"""

from __future__ import annotations

import torch
from torch import nn

from dnadav.errors import InputError, shown
from dnadav.objectives.grammar import Constant, Name, Node, ParsedObjective, Sum

__all__ = ["all_log_odds", "node_value", "objective_names", "Objective"]


def all_log_odds(logits: torch.Tensor) -> torch.Tensor:
    """``logits [B, C] -> log-odds [B, C]`` (nats): ``logit_c − logsumexp`` of the other classes."""
    num_classes = logits.shape[-1]
    diagonal = torch.eye(num_classes, dtype=torch.bool, device=logits.device)
    others = logits[:, None, :].masked_fill(diagonal, float("-inf"))  # [B, C(target), C(other)]
    return logits - torch.logsumexp(others, dim=-1)


def objective_names(class_names: tuple[str, ...]) -> tuple[str, ...]:
    """Names an objective may use for a classifier's classes: lower case, without the background class."""
    return tuple(c.lower() for c in class_names if c.lower() != "shuffled")


def node_value(node: Node, log_odds: torch.Tensor, columns: dict[str, int]) -> torch.Tensor:
    """The value ``[B]`` (nats) of an expression tree over ``log_odds [B, C]`` (``columns``: name -> column)."""
    if isinstance(node, Name):
        return log_odds[:, columns[node.name]]
    if isinstance(node, Constant):
        return log_odds.new_full((log_odds.shape[0],), node.value)
    if isinstance(node, Sum):
        return torch.stack([weight * node_value(t, log_odds, columns) for weight, t in node.terms]).sum(dim=0)
    values = torch.stack([node_value(a, log_odds, columns) for a in node.args], dim=-1)  # [B, k]
    if node.function == "max":
        return values.amax(dim=-1)
    if node.function == "min":
        return values.amin(dim=-1)
    if node.function == "mean":
        return values.mean(dim=-1)
    if node.function == "softmax":  # smooth max: max ≤ softmax ≤ max + tau·log k
        return node.tau * torch.logsumexp(values / node.tau, dim=-1)
    if node.function == "softmin":  # smooth min: min − tau·log k ≤ softmin ≤ min
        return -node.tau * torch.logsumexp(-values / node.tau, dim=-1)
    raise ValueError(f"unknown function {node.function!r}")  # the parser admits only the names above


class Objective(nn.Module):
    """A parsed objective over ``oracle`` (a classifier returning logits ``[B, C]`` from ``onehot``).

    ``parsed.expression`` is the reward; bounds (the constrained form) are ignored here — see
    ``LagrangianObjective``. The oracle is a submodule, so ``.to(device)`` moves it.
    """

    def __init__(self, parsed: ParsedObjective, oracle: nn.Module):
        super().__init__()
        names = objective_names(tuple(oracle.class_names))
        lower = [c.lower() for c in oracle.class_names]
        unknown = [n for n in parsed.names if n not in names]
        if unknown:
            raise ValueError(f"objective names {unknown} are not classes of the oracle {tuple(oracle.class_names)}")
        self.parsed = parsed
        self.oracle = oracle
        self.class_names = tuple(oracle.class_names)
        self.columns = {n: lower.index(n) for n in names}

    @property
    def text(self) -> str:
        return self.parsed.text

    def log_odds(self, onehot: torch.Tensor) -> torch.Tensor:
        """Every class's log-odds ``[B, C]`` (nats) from one oracle call on ``onehot [B, 4, L]``."""
        return all_log_odds(self.oracle(onehot))

    def from_log_odds(self, log_odds: torch.Tensor) -> torch.Tensor:
        """The objective ``[B]`` (nats) from precomputed ``log_odds [B, C]``; InputError when it is not
        finite (weights that overflow float32 on these log-odds): a search never runs on nan weights."""
        value = node_value(self.parsed.expression, log_odds, self.columns)
        if not bool(torch.isfinite(value).all()):
            raise InputError(
                f"objective {shown(self.parsed.text)}: not finite in {str(value.dtype).replace('torch.', '')} for some "
                "sequences (nan or inf); use smaller weights or constants"
            )
        return value

    def reward(self, onehot: torch.Tensor) -> torch.Tensor:
        """``onehot [B, 4, L] -> [B]`` (nats); one oracle call."""
        return self.from_log_odds(self.log_odds(onehot))

    def forward(self, onehot: torch.Tensor) -> torch.Tensor:
        return self.reward(onehot)

    def extra_repr(self) -> str:
        return repr(self.parsed.text)
