"""Backing off an over-shot EM iteration along the straight path in weight space to the kept one.

The selection rule (a naturalness floor) chooses between whole iterations. An iteration that lands
under the floor is thrown away, although the way from the kept model θ_k to it, θ_k + s·(θ_last − θ_k)
for s in (0, 1), passes through models that meet the floor with more reward than θ_k. ``back_off``
searches that segment with the run's own judge (plain samples, reward oracle, validation split —
never the evaluation oracle or the test split): bisection on s, keeping the eligible scale with the
highest selection score, and only when that score beats the kept iteration's. Measured on GM12878
(docs/concepts.md, "Tenth round"): backing off an over-shot model reaches more reward at the floor
than any model fitted to stop there.

Bisection assumes that eligibility flips once along the segment (naturalness falls as s grows); where
the judge is noisy it still returns a scale the judge found eligible, never one it did not.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from dnadav.core.move_limit import interpolate_weights

__all__ = ["BackOff", "back_off"]


@dataclass
class BackOff:
    """The outcome: ``scale`` s of the model kept (None: no scale beat the kept iteration, whose
    weights stay), its selection ``score`` and judge ``record``, and the ``trace`` of every scale tried
    (``scale``, ``eligible``, ``score`` and the judge's record)."""

    scale: float | None = None
    score: float | None = None
    record: dict[str, float] | None = None
    trace: list[dict[str, float]] = field(default_factory=list)


def back_off(
    model: torch.nn.Module,
    start: dict[str, torch.Tensor],
    end: dict[str, torch.Tensor],
    judge: Callable[[torch.nn.Module], dict[str, float]],
    select: Callable[[dict[str, float]], float | None],
    kept_score: float = -math.inf,
    bisections: int = 4,
) -> BackOff:
    """Search ``start + s·(end − start)`` for s in (0, 1) by ``bisections`` halvings: a scale whose
    ``judge(model)`` record ``select`` finds eligible (a score, not None) moves the lower end up, else
    the upper end comes down. ``model`` ends at the eligible scale with the highest score if that score
    is above ``kept_score`` (the kept iteration's), else at ``start``. ``start``/``end``: state dicts of
    ``model``'s architecture (the kept and the last iteration's weights); ``end`` is taken as ineligible
    (the caller backs off only from a rejected iteration)."""
    if bisections < 1:
        raise ValueError(f"bisections must be ≥ 1; got {bisections}")
    outcome = BackOff()
    best_score = kept_score
    low, high = 0.0, 1.0
    for _ in range(bisections):
        middle = (low + high) / 2
        interpolate_weights(model, start, end, middle)
        record = judge(model)
        score = select(record)
        outcome.trace.append({"scale": middle, "eligible": float(score is not None), "score": score, **record})
        if score is None:
            high = middle
            continue
        low = middle
        if score > best_score:
            best_score, outcome.scale, outcome.score, outcome.record = score, middle, score, record
    interpolate_weights(model, start, end, 0.0 if outcome.scale is None else outcome.scale)
    return outcome
