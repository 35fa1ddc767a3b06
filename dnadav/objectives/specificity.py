"""Specificity for evaluation: every cell type's probability and the share of specific designs.

A design is **specific** to ``target`` when the evaluation oracle gives ``p(target) > 0.5`` and
``p(c) < 0.1`` for every other cell type c (the background class ``shuffled`` is not a cell type and
is not an off-target). The **margin** is ``ℓ_target − max_c ℓ_c`` over the off-target cell types, in
nats of log-odds: the value of the objective ``target - max(others)`` under that oracle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from dnadav.objectives.objective import all_log_odds, objective_names

__all__ = ["SpecificityReport", "class_logits", "specificity_report"]


@dataclass(frozen=True)
class SpecificityReport:
    """``probabilities``: class name -> ``[B]`` (every class, incl. the background);
    ``specific [B]`` bool; ``margin [B]`` nats; summary figures over the B designs."""

    target: str
    probabilities: dict[str, np.ndarray]
    specific: np.ndarray
    margin: np.ndarray

    @property
    def specificity(self) -> float:
        """Share of designs with p(target) > on-threshold and every off-target < off-threshold."""
        return float(self.specific.mean()) if self.specific.size else float("nan")

    @property
    def margin_median(self) -> float:
        return float(np.median(self.margin)) if self.margin.size else float("nan")

    def summary(self) -> dict[str, float]:
        """Columns for an evaluation table: ``p_<class>_median`` (as named by the oracle, lower case),
        ``specificity`` and ``margin_median``."""
        row = {f"p_{name.lower()}_median": float(np.median(p)) for name, p in self.probabilities.items()}
        return {**row, "specificity": self.specificity, "margin_median": self.margin_median}


@torch.no_grad()
def class_logits(oracle: torch.nn.Module, onehot: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """The classifier's logits ``[B, C]`` for ``onehot [B, 4, L]``, in batches, on the oracle's device."""
    parameter = next(oracle.parameters(), None)
    device = parameter.device if parameter is not None else onehot.device
    parts = [oracle(onehot[i : i + batch_size].to(device)).float().cpu() for i in range(0, len(onehot), batch_size)]
    return torch.cat(parts) if parts else torch.zeros(0, len(oracle.class_names))


def specificity_report(
    logits: torch.Tensor,
    class_names: tuple[str, ...],
    target: str,
    on_threshold: float = 0.5,
    off_threshold: float = 0.1,
) -> SpecificityReport:
    """Specificity of designs from the oracle's ``logits [B, C]`` (``class_logits``) for ``target``
    (a cell-type name, any case)."""
    names = objective_names(class_names)
    key = target.lower()
    if key not in names:
        raise ValueError(f"target {target!r} is not one of the cell types {names}")
    lower = [c.lower() for c in class_names]
    target_column = lower.index(key)
    off = [lower.index(n) for n in names if n != key]
    probabilities = torch.softmax(logits.double(), dim=-1)
    log_odds = all_log_odds(logits.double())
    on = probabilities[:, target_column] > on_threshold
    quiet = (probabilities[:, off] < off_threshold).all(dim=-1) if off else torch.ones_like(on)
    margin = log_odds[:, target_column] - (log_odds[:, off].amax(dim=-1) if off else 0.0)
    return SpecificityReport(
        target=class_names[target_column],
        probabilities={name: probabilities[:, i].numpy() for i, name in enumerate(class_names)},
        specific=(on & quiet).numpy(),
        margin=margin.numpy(),
    )
