"""The expression tree an objective parses into (``dnadav.objectives.grammar``) and the scale its
names are read on: a classifier's class log-odds (nats) or a regressor's predictions (its units)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Union

__all__ = ["Bound", "Call", "Constant", "Name", "Node", "ParsedObjective", "Scale", "Sum", "node_names"]

# What a name stands for: a classifier's class log-odds (nats) or a regressor's prediction (its units).
Scale = Literal["log-odds", "prediction"]


@dataclass(frozen=True)
class Name:
    """An output's value: a cell type's log-odds (nats) or a regressor's prediction (its units)."""

    name: str


@dataclass(frozen=True)
class Constant:
    """A number, on the names' scale (nats of log-odds or a regressor's units)."""

    value: float


@dataclass(frozen=True)
class Call:
    """``function(args)`` reduced over its arguments; ``tau`` (the names' scale) only for softmax / softmin."""

    function: str
    args: tuple["Node", ...]
    tau: float = 1.0


@dataclass(frozen=True)
class Sum:
    """``Σ weight · node`` over ``terms`` (pairs of weight and node)."""

    terms: tuple[tuple[float, "Node"], ...]


Node = Union[Name, Constant, Call, Sum]


def node_names(node: Node) -> list[str]:
    """The outputs (cell types) ``node`` mentions, in order of appearance (repeats kept)."""
    if isinstance(node, Name):
        return [node.name]
    if isinstance(node, Call):
        return [n for a in node.args for n in node_names(a)]
    if isinstance(node, Sum):
        return [n for _, t in node.terms for n in node_names(t)]
    return []


@dataclass(frozen=True)
class Bound:
    """The constraint ``p(name) < threshold`` (probability of that cell type under a classifier), or
    ``name < threshold`` (a regressor's prediction, in its units)."""

    name: str
    threshold: float


@dataclass(frozen=True)
class ParsedObjective:
    """``expression`` (on the names' scale); ``bounds`` non-empty for the constrained form, their
    thresholds read on ``scale`` (probabilities for ``"log-odds"``). ``text`` as given."""

    text: str
    expression: Node
    bounds: tuple[Bound, ...] = ()
    scale: Scale = "log-odds"

    @property
    def names(self) -> tuple[str, ...]:
        """Every output (cell type) the objective mentions, in order of first appearance."""
        return tuple(dict.fromkeys(node_names(self.expression) + [b.name for b in self.bounds]))
