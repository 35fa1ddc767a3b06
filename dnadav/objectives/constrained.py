"""The constrained form ``target s.t. k562 < 0.1, ...``: a Lagrangian reward with multipliers that
the EM loop adapts once per iteration (primal–dual, as Ctrl-DNA does with RL).

Per sequence, over a classifier (nats)::

    reward(x) = target(x) − Σ_j λ_j · relu(ℓ_j(x) − logit τ_j)

where ℓ_j is off-target j's log-odds and ``logit τ_j = log τ_j/(1−τ_j)`` its threshold on the same
scale: the penalty is zero exactly when ``p_j(x) < τ_j``. Over a regressor (``objective_scale`` is
``"prediction"``) ℓ_j is output j's prediction and τ_j a threshold in its units, taken as it is.
The constraint the multipliers enforce is on the population: the share of designs with ``ℓ_j`` at or
above its threshold (``p_j ≥ τ_j``) should be ≤ ``tolerance``. ``update`` is the
dual step ``λ_j ← clip(λ_j + step · (violation_rate_j − tolerance), 0, max_multiplier)``.
The multipliers are buffers: they move with ``.to`` and are saved in ``state_dict`` (for resume).
"""

from __future__ import annotations

import torch

from dnadav.objectives.objective import Objective
from dnadav.objectives.tree import ParsedObjective

__all__ = ["LagrangianObjective"]


class LagrangianObjective(Objective):
    """``Objective`` with bounds; ``reward`` uses the current multipliers, ``update`` adapts them."""

    def __init__(
        self,
        parsed: ParsedObjective,
        oracle: torch.nn.Module,
        *,
        initial_multiplier: float = 1.0,
        step: float = 2.0,
        tolerance: float = 0.05,
        max_multiplier: float = 10.0,
    ):
        super().__init__(parsed, oracle)
        if not parsed.bounds:
            raise ValueError("LagrangianObjective needs bounds ('target s.t. name < p, ...'); use Objective")
        if parsed.scale != self.scale:
            raise ValueError(
                f"the bounds were parsed as {parsed.scale} thresholds but the oracle's outputs are {self.scale}s; "
                "parse with objective_scale(oracle) (make_objective does)"
            )
        if step <= 0 or not 0 <= tolerance < 1 or max_multiplier <= 0 or initial_multiplier < 0:
            raise ValueError("need step > 0, 0 ≤ tolerance < 1, max_multiplier > 0, initial_multiplier ≥ 0")
        self.step, self.tolerance, self.max_multiplier = float(step), float(tolerance), float(max_multiplier)
        self.bound_columns = [self.columns[b.name] for b in parsed.bounds]
        thresholds = torch.tensor([b.threshold for b in parsed.bounds], dtype=torch.float64)
        self.register_buffer("thresholds", thresholds.float())
        # the thresholds on the values' scale: a probability's logit, or a regressor's prediction as it is
        on_scale = thresholds if self.scale == "prediction" else torch.log(thresholds / (1 - thresholds))
        self.register_buffer("value_thresholds", on_scale.float())
        self.register_buffer("multipliers", torch.full((len(parsed.bounds),), float(initial_multiplier)))
        self.history: list[dict[str, float]] = []

    def penalty(self, values: torch.Tensor) -> torch.Tensor:
        """Per-bound excess ``[B, J]`` over ``values [B, C]`` (``values``): ``relu(ℓ_j − logit τ_j)`` (nats;
        0 where ``p_j < τ_j``), or ``relu(ℓ_j − τ_j)`` in a regressor's units."""
        return torch.relu(values[:, self.bound_columns] - self.value_thresholds)

    def from_values(self, values: torch.Tensor) -> torch.Tensor:
        target = super().from_values(values)
        return target - (self.penalty(values) * self.multipliers).sum(dim=-1)

    @torch.no_grad()
    def update(self, onehot_or_probabilities: torch.Tensor) -> dict[str, float]:
        """One dual step from this iteration's designs: ``onehot [B, 4, L]`` (scored with the oracle) or
        the oracle's class probabilities ``[B, C]`` (softmax, class order of ``class_names``) — for a
        regressor, its predictions ``[B, C]``. Returns (and appends to ``history``) the violation rates
        and the new multipliers."""
        x = onehot_or_probabilities
        regressor = self.scale == "prediction"
        if x.dim() == 3:
            outputs = self.oracle(x)
            scored = outputs if regressor else torch.softmax(outputs, dim=-1)
        elif x.dim() == 2 and x.shape[1] == len(self.class_names):
            scored = x
        else:
            what = "predictions" if regressor else "probabilities"
            raise ValueError(f"update expects onehot [B, 4, L] or {what} [B, {len(self.class_names)}]; got {tuple(x.shape)}")
        scored = scored.to(self.multipliers.device)
        rates = (scored[:, self.bound_columns] >= self.thresholds).float().mean(dim=0)
        new = (self.multipliers + self.step * (rates - self.tolerance)).clamp(0.0, self.max_multiplier)
        self.multipliers.copy_(new)
        record = {}
        for bound, rate, multiplier in zip(self.parsed.bounds, rates.tolist(), new.tolist()):
            record[f"violation_rate/{bound.name}"] = rate
            record[f"multiplier/{bound.name}"] = multiplier
        self.history.append(record)
        return record

    def extra_repr(self) -> str:
        return f"{self.parsed.text!r}, multipliers={[round(v, 4) for v in self.multipliers.tolist()]}"
