"""Objectives: composable rewards over an oracle's named outputs (see docs/objectives.md).

``make_objective("hepg2 - max(k562,gm12878,hesc)")`` returns an ``Objective`` whose
``reward(onehot [B, 4, L]) -> [B]`` computes every term from one oracle call: over a classifier's
class log-odds (nats), over a regressor's raw predictions (its units; ``objective_scale``); a constrained
expression (``"hepg2 s.t. others < 0.1"``) returns a ``LagrangianObjective`` with ``update``.
``specificity_report`` gives every cell type's probability and the specificity figure for evaluation.
"""

from __future__ import annotations

from dnadav.objectives.constrained import LagrangianObjective
from dnadav.objectives.grammar import FUNCTIONS, parse_objective
from dnadav.objectives.objective import Objective, all_log_odds, objective_names, objective_scale
from dnadav.objectives.specificity import SpecificityReport, class_logits, specificity_report
from dnadav.objectives.tree import Bound, Call, Constant, Name, ParsedObjective, Scale, Sum

__all__ = [
    "FUNCTIONS",
    "Bound",
    "Call",
    "Constant",
    "Name",
    "Sum",
    "LagrangianObjective",
    "Objective",
    "ParsedObjective",
    "Scale",
    "SpecificityReport",
    "all_log_odds",
    "class_logits",
    "make_objective",
    "objective_names",
    "objective_scale",
    "parse_objective",
    "specificity_report",
]


def make_objective(text: str, role: str = "reward", oracle=None, device="cpu", **constrained_options) -> Objective:
    """Parse ``text`` and bind it to ``oracle`` (default: the shipped DHS classifier for ``role``,
    ``"reward"`` or ``"eval"``): names stand for a classifier's class log-odds, or for a regressor's
    (``RegressionOracle``) predictions in its units. Returns a ``LagrangianObjective`` when the text
    has ``s.t.`` bounds (``constrained_options``: initial_multiplier, step, tolerance, max_multiplier),
    else an ``Objective``. Raises ``InputError`` (one line) on a bad expression."""
    if oracle is None:
        from dnadav.oracles import load_oracle

        oracle = load_oracle("hepg2", role=role, device=device)
    scale = objective_scale(oracle)
    parsed = parse_objective(text, objective_names(tuple(oracle.class_names), scale), scale)
    if parsed.bounds:
        return LagrangianObjective(parsed, oracle, **constrained_options)
    if constrained_options:
        raise ValueError(f"options {sorted(constrained_options)} apply only to a constrained objective ('s.t.')")
    return Objective(parsed, oracle)
