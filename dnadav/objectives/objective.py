"""Objectives: rewards built from one classifier's per-cell-type log-odds, in one network call.

``Objective(parsed, oracle).reward(onehot [B, 4, L]) -> [B]`` (nats). Every term is computed from the
same logits ``[B, C]``: the log-odds of class c is ``logit_c − logsumexp_{k≠c} logit_k`` =
``log p_c / (1 − p_c)``, exactly ``CellTypeOracle.reward`` for that target. Differentiable in the
one-hot input (soft one-hots allowed), so gradient proposals work as with a plain oracle.
"""

from __future__ import annotations

import torch
from torch import nn

from dnadav.objectives.grammar import ParsedObjective, Term

__all__ = ["all_log_odds", "objective_names", "Objective"]


def all_log_odds(logits: torch.Tensor) -> torch.Tensor:
    """``logits [B, C] -> log-odds [B, C]`` (nats): ``logit_c − logsumexp`` of the other classes."""
    num_classes = logits.shape[-1]
    diagonal = torch.eye(num_classes, dtype=torch.bool, device=logits.device)
    others = logits[:, None, :].masked_fill(diagonal, float("-inf"))  # [B, C(target), C(other)]
    return logits - torch.logsumexp(others, dim=-1)


def objective_names(class_names: tuple[str, ...]) -> tuple[str, ...]:
    """Names an objective may use for a classifier's classes: lower case, without the background class."""
    return tuple(c.lower() for c in class_names if c.lower() != "shuffled")


def _term_value(term: Term, log_odds: torch.Tensor, columns: dict[str, int]) -> torch.Tensor:
    values = log_odds[:, [columns[n] for n in term.names]]  # [B, k]
    if term.function is None:
        value = values[:, 0]
    elif term.function == "max":
        value = values.amax(dim=-1)
    elif term.function == "min":
        value = values.amin(dim=-1)
    elif term.function == "mean":
        value = values.mean(dim=-1)
    elif term.function == "softmax":  # smooth max: max ≤ softmax ≤ max + tau·log k
        value = term.tau * torch.logsumexp(values / term.tau, dim=-1)
    elif term.function == "softmin":  # smooth min: min − tau·log k ≤ softmin ≤ min
        value = -term.tau * torch.logsumexp(-values / term.tau, dim=-1)
    else:  # the parser admits only the names above
        raise ValueError(f"unknown function {term.function!r}")
    return term.weight * value


class Objective(nn.Module):
    """A parsed objective over ``oracle`` (a classifier returning logits ``[B, C]`` from ``onehot``).

    ``parsed.terms`` are summed; bounds (the constrained form) are ignored here — see
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
        """The objective ``[B]`` (nats) from precomputed ``log_odds [B, C]``."""
        return torch.stack([_term_value(t, log_odds, self.columns) for t in self.parsed.terms]).sum(dim=0)

    def reward(self, onehot: torch.Tensor) -> torch.Tensor:
        """``onehot [B, 4, L] -> [B]`` (nats); one oracle call."""
        return self.from_log_odds(self.log_odds(onehot))

    def forward(self, onehot: torch.Tensor) -> torch.Tensor:
        return self.reward(onehot)

    def extra_repr(self) -> str:
        return repr(self.parsed.text)
