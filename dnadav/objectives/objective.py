"""Objectives: rewards built from one oracle's named outputs, in one network call.

``Objective(parsed, oracle).reward(onehot [B, 4, L]) -> [B]``. Every term is computed from the same
outputs ``[B, C]``, and what a name stands for depends on what the oracle is (``objective_scale``):

* a **classifier** (``CellTypeOracle``, the shipped DHS oracles, any module with ``class_names``): its
  classes' log-odds (nats), ``logit_c − logsumexp_{k≠c} logit_k`` = ``log p_c / (1 − p_c)``, exactly
  ``CellTypeOracle.reward`` for that target;
* a **regressor** (``RegressionOracle``: the Gosai MPRA oracle, a user's ``kind = "regression"``
  scorer): its raw predictions, in the regressor's own units, exactly ``RegressionOracle.reward``
  for that output. A log-odds transform of predictions would mean nothing.

Differentiable in the one-hot input (soft one-hots allowed), so gradient proposals work as with a
plain oracle.
"""

from __future__ import annotations

import torch
from torch import nn

from dnadav.errors import InputError, shown
from dnadav.objectives.tree import Constant, Name, Node, ParsedObjective, Scale, Sum
from dnadav.oracles.base import RegressionOracle

__all__ = ["all_log_odds", "node_value", "objective_names", "objective_scale", "Objective"]


def all_log_odds(logits: torch.Tensor) -> torch.Tensor:
    """``logits [B, C] -> log-odds [B, C]`` (nats): ``logit_c − logsumexp`` of the other classes."""
    num_classes = logits.shape[-1]
    diagonal = torch.eye(num_classes, dtype=torch.bool, device=logits.device)
    others = logits[:, None, :].masked_fill(diagonal, float("-inf"))  # [B, C(target), C(other)]
    return logits - torch.logsumexp(others, dim=-1)


def objective_scale(oracle: nn.Module) -> Scale:
    """What an objective's names stand for over ``oracle``: ``"prediction"`` (the raw outputs, in the
    oracle's units) for a regressor — a ``RegressionOracle`` says it is one — else ``"log-odds"``
    (nats) of a classifier's classes."""
    return "prediction" if isinstance(oracle, RegressionOracle) else "log-odds"


def objective_names(class_names: tuple[str, ...], scale: Scale = "log-odds") -> tuple[str, ...]:
    """Names an objective may use for an oracle's outputs, lower case: a classifier's classes without
    the background class (``shuffled``), or every output of a regressor."""
    lower = tuple(c.lower() for c in class_names)
    return lower if scale == "prediction" else tuple(c for c in lower if c != "shuffled")


def node_value(node: Node, values: torch.Tensor, columns: dict[str, int]) -> torch.Tensor:
    """The value ``[B]`` of an expression tree over the per-name ``values [B, C]`` (log-odds or
    predictions, see ``objective_scale``; ``columns``: name -> column)."""
    if isinstance(node, Name):
        return values[:, columns[node.name]]
    if isinstance(node, Constant):
        return values.new_full((values.shape[0],), node.value)
    if isinstance(node, Sum):
        return torch.stack([weight * node_value(t, values, columns) for weight, t in node.terms]).sum(dim=0)
    args = torch.stack([node_value(a, values, columns) for a in node.args], dim=-1)  # [B, k]
    if node.function == "max":
        return args.amax(dim=-1)
    if node.function == "min":
        return args.amin(dim=-1)
    if node.function == "mean":
        return args.mean(dim=-1)
    if node.function == "softmax":  # smooth max: max ≤ softmax ≤ max + tau·log k
        return node.tau * torch.logsumexp(args / node.tau, dim=-1)
    if node.function == "softmin":  # smooth min: min − tau·log k ≤ softmin ≤ min
        return -node.tau * torch.logsumexp(-args / node.tau, dim=-1)
    raise ValueError(f"unknown function {node.function!r}")  # the parser admits only the names above


class Objective(nn.Module):
    """A parsed objective over ``oracle`` (outputs ``[B, C]`` from ``onehot``, named by ``class_names``):
    over a classifier's class log-odds (nats) or a regressor's predictions (its units), as
    ``objective_scale(oracle)`` says (``self.scale``).

    ``parsed.expression`` is the reward; bounds (the constrained form) are ignored here — see
    ``LagrangianObjective``. The oracle is a submodule, so ``.to(device)`` moves it.
    """

    def __init__(self, parsed: ParsedObjective, oracle: nn.Module):
        super().__init__()
        self.scale = objective_scale(oracle)
        names = objective_names(tuple(oracle.class_names), self.scale)
        lower = [c.lower() for c in oracle.class_names]
        unknown = [n for n in parsed.names if n not in names]
        if unknown:
            kind = "outputs" if self.scale == "prediction" else "classes"
            raise ValueError(f"objective names {unknown} are not {kind} of the oracle {tuple(oracle.class_names)}")
        self.parsed = parsed
        self.oracle = oracle
        self.class_names = tuple(oracle.class_names)
        self.columns = {n: lower.index(n) for n in names}

    @property
    def text(self) -> str:
        return self.parsed.text

    def values(self, onehot: torch.Tensor) -> torch.Tensor:
        """Every name's value ``[B, C]`` from one oracle call on ``onehot [B, 4, L]``: a classifier's
        class log-odds (nats) or a regressor's predictions (its units)."""
        outputs = self.oracle(onehot)
        return outputs if self.scale == "prediction" else all_log_odds(outputs)

    def from_values(self, values: torch.Tensor) -> torch.Tensor:
        """The objective ``[B]`` from precomputed ``values [B, C]`` (``values``); InputError when it is
        not finite (weights that overflow float32 on these values): a search never runs on nan weights."""
        value = node_value(self.parsed.expression, values, self.columns)
        if not bool(torch.isfinite(value).all()):
            raise InputError(
                f"objective {shown(self.parsed.text)}: not finite in {str(value.dtype).replace('torch.', '')} for some "
                "sequences (nan or inf); use smaller weights or constants"
            )
        return value

    def reward(self, onehot: torch.Tensor) -> torch.Tensor:
        """``onehot [B, 4, L] -> [B]`` (nats, or the regressor's units); one oracle call."""
        return self.from_values(self.values(onehot))

    def forward(self, onehot: torch.Tensor) -> torch.Tensor:
        return self.reward(onehot)

    def extra_repr(self) -> str:
        return repr(self.parsed.text)
