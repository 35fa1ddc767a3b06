"""Oracle scores of one-hot batches and the optional metrics of a set (cell-type specificity, an
objective, constraint violations) — what ``evaluate_sets`` adds to each input's row."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["cell_type_report", "optional_metrics", "oracle_scores"]


def cell_type_report(eval_oracle, onehot: torch.Tensor):
    """The ``SpecificityReport`` of ``onehot [B, 4, L]`` when the evaluation oracle is a classifier over
    several cell types with a target; else None."""
    from dnadav.objectives import class_logits, objective_names, specificity_report
    from dnadav.oracles import CellTypeOracle

    if not isinstance(eval_oracle, CellTypeOracle):  # a regressor's outputs are no class probabilities
        return None
    names, target = tuple(eval_oracle.class_names), eval_oracle.target
    if len(objective_names(names)) < 2 or target.lower() not in objective_names(names):
        return None

    return specificity_report(class_logits(eval_oracle, onehot), names, target)


def oracle_scores(oracle, onehot: torch.Tensor, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(reward ``[B]``, probability ``[B]``) in batches. For a cell-type classifier the probability is
    sigmoid(log-odds) exactly, which saves a second pass through the network."""
    from dnadav.oracles import CellTypeOracle

    exact_sigmoid = type(oracle).reward is CellTypeOracle.reward and type(oracle).probability is CellTypeOracle.probability
    parameters = list(oracle.parameters()) if isinstance(oracle, torch.nn.Module) else []
    device = parameters[0].device if parameters else torch.device("cpu")
    rewards, probabilities = [], []
    for i in range(0, len(onehot), batch_size):
        chunk = onehot[i : i + batch_size].to(device)
        reward = oracle.reward(chunk).float()
        rewards.append(reward.cpu())
        probability = torch.sigmoid(reward) if exact_sigmoid else oracle.probability(chunk)
        probabilities.append(probability.float().cpu())
    if not rewards:
        return np.zeros(0), np.zeros(0)
    return torch.cat(rewards).numpy(), torch.cat(probabilities).numpy()


def optional_metrics(
    eval_oracle, onehot: torch.Tensor, tokens: torch.Tensor, objective_fn, constraint, batch_size: int
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """(summary entries, per-sequence columns) of the ``OPTIONAL`` metrics that apply."""
    row: dict[str, float] = {}
    columns: dict[str, np.ndarray] = {}
    report = cell_type_report(eval_oracle, onehot)
    if report is not None:
        row.update(report.summary())
        columns.update({f"p_{name.lower()}": p for name, p in report.probabilities.items()})
        columns.update({"specific": report.specific, "margin": report.margin})
    if objective_fn is not None:
        values = torch.cat([objective_fn(onehot[i : i + batch_size]).float() for i in range(0, len(onehot), batch_size)])
        columns["objective"] = values.numpy()
        row["objective_median"] = float(values.median())
    if constraint is not None:
        counts = constraint.violations(tokens)
        total = counts.pop("total")
        columns["violations"] = total.numpy()
        columns.update({f"violations_{k.replace(':', '_')}": v.numpy() for k, v in counts.items()})
        row["violations"] = float(total.sum())
        row["violating_fraction"] = float((total > 0).float().mean())
    return row, columns
