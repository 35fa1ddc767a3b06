"""A trust region for DAV's iterations: each E-step moves the model by a fixed, measured amount.

Iteration k's per-sequence search keeps one of M children per step, sampled by the weights
``w̄ = softmax(γ^n·V/α + log p − log q)``. The law of the kept child, relative to the model's own
step (a uniform pick among the M children), has the KL ``Σ_j w̄_j log(M·w̄_j)`` (0 when all children
weigh the same, log M when one child takes all). Summed over the T steps of a path and averaged
over sequences, this **selection KL** (nats per path) is the information the search adds to the
model's paths: what the M-step is then asked to absorb. It falls monotonically as α grows.

``temperature_for_kl`` solves ``selection_kl(α) = target`` by bisection in log α on recorded child
values (a short pilot search with the current model), so that every iteration moves by the same
amount, however steep or flat the reward looks to the current model: a fixed α over-shoots once the
model has moved, because K fitted tilts at α are about one tilt at α/K (docs/concepts.md).

The children's values do not depend on α, but the states they are proposed from do: a pilot run at
a much smaller α walks through higher-reward states, where the values may spread more or less than
on the paths the solved α will take. ``pilot_temperature`` therefore solves in ``rounds``: each round
re-runs the pilot at the α the previous round solved (a fixed-point iteration; measured on HepG2, one
round from α = 0.5 solved for 5 nats gave E-steps of 2.7 nats).
"""

from __future__ import annotations

import dataclasses
import math

import torch

from dnadav.core.search import SearchConfig, search_process

__all__ = ["estep_kl_log", "pilot_temperature", "selection_kl", "temperature_for_kl"]


def selection_kl(child_potential: torch.Tensor, reward_temperature: float, child_log_ratio: torch.Tensor | None = None) -> float:
    """Mean over sequences of ``Σ_k KL(w̄_k ‖ uniform)`` (nats per path) for recorded children.

    ``child_potential [T, B, M]`` are the discounted values γ^n·V of every proposed child,
    ``child_log_ratio [T, B, M]`` their log p − log q (None when q = p); α = ``reward_temperature``.
    """
    num_children = child_potential.shape[-1]
    log_w = (
        child_potential.double() / reward_temperature
        if math.isfinite(reward_temperature)
        else torch.zeros_like(child_potential, dtype=torch.float64)
    )
    if child_log_ratio is not None:
        log_w = log_w + child_log_ratio.double()
    log_norm = torch.log_softmax(log_w, dim=-1)
    per_step = (log_norm.exp() * (log_norm + math.log(num_children))).sum(dim=-1)  # [T, B]
    return float(per_step.sum(dim=0).mean())


def temperature_for_kl(
    child_potential: torch.Tensor,
    target_kl: float,
    child_log_ratio: torch.Tensor | None = None,
    bounds: tuple[float, float] = (1e-3, 1e3),
    iterations: int = 60,
) -> float:
    """The temperature α with ``selection_kl(α) = target_kl`` (nats per path), by bisection in log α
    within ``bounds``; a bound when the target lies outside what the bounds reach (the upper one when its KL
    already reaches the target, as a model's drift can without the weights' ratio)."""
    if not target_kl > 0:
        raise ValueError(f"target_kl must be > 0 nats; got {target_kl}")
    low, high = math.log(bounds[0]), math.log(bounds[1])
    if selection_kl(child_potential, math.exp(high), child_log_ratio) >= target_kl:  # first: the upper bound reaches it
        return bounds[1]
    if selection_kl(child_potential, math.exp(low), child_log_ratio) <= target_kl:
        return bounds[0]
    for _ in range(iterations):
        middle = 0.5 * (low + high)
        if selection_kl(child_potential, math.exp(middle), child_log_ratio) > target_kl:
            low = middle
        else:
            high = middle
    return math.exp(0.5 * (low + high))


def estep_kl_log(trajectory, config: SearchConfig, fitted_alpha: float | None) -> dict[str, float]:
    """The E-step's KLs for the log (recorded children only): ``estep/selection_kl`` at the α it ran at,
    and for a prior-tilting search whose model proposed, ``estep/drift_kl``: the weights at
    ``fitted_alpha`` (the α the model was last fitted to; None in the first iteration), 0 when the model
    is exactly that tilt of the prior — the part of the E-step that corrects the previous M-step."""
    if trajectory.child_potential is None:
        return {}
    log = {"estep/selection_kl": selection_kl(trajectory.child_potential, config.reward_temperature, trajectory.child_log_ratio)}
    if config.tilt_base == "prior" and trajectory.child_log_ratio is not None and fitted_alpha is not None:
        log["estep/drift_kl"] = selection_kl(trajectory.child_potential, fitted_alpha, trajectory.child_log_ratio)
    return log


def pilot_temperature(
    process,
    reward_fn,
    config: SearchConfig,
    target_kl: float,
    num_sequences: int,
    generator: torch.Generator | None,
    context: torch.Tensor | None = None,
    max_batch: int | str | None = "auto",
    rounds: int = 2,
    reference=None,
    previous: float | None = None,
    include_drift: bool = False,
) -> float:
    """α for this iteration: a pilot search of ``num_sequences`` with the current model, starting at
    ``config.reward_temperature``, records every child's value, and ``temperature_for_kl`` solves for
    a selection KL of ``target_kl`` nats per path; each of the ``rounds`` re-runs the pilot at the α
    the previous round solved, so the values are read on the paths that α takes.

    ``reference``: the network a ``tilt_base="prior"`` search tilts. Its target at α is the prior's
    per-step tilt π_α, whatever the model, so the step from one iteration to the next is the step
    between consecutive targets, as in an adaptive-tempering SMC sampler: with ``previous`` (the α the
    model was last fitted to), the KL is solved on the incremental weights γ^n·V·(1/α − 1/previous)
    alone, and α = 1 / (1/previous + 1/α_step) < previous. The importance ratio log p_prior − log p_θ
    (the model's distance from π_previous) is left out of the step: solving on the full weights over all
    α would not anneal, since their KL is least near ``previous`` and grows on both sides of it.

    ``include_drift`` (with ``reference`` and ``previous``): the KL is solved on the full weights, ratio
    included, for α ≤ ``previous`` only (bisection in log α down from ``previous``): an α whose selection
    KL is ``target_kl``, or ``previous`` itself when the drift alone (the full weights' KL at ``previous``:
    how far the last M-step left the model from its target) already reaches it. The M-step is then asked to absorb at most
    ``target_kl`` nats per path in all, its own misfit included, where the step alone adds the drift on
    top (docs/concepts.md "The trust region counts the drift")."""
    if rounds < 1:
        raise ValueError(f"rounds must be ≥ 1; got {rounds}")
    alpha = config.reward_temperature
    for _ in range(rounds):
        pilot = dataclasses.replace(config, reward_temperature=alpha, record_children=True, record_clean=False)
        trajectory = search_process(
            process, reward_fn, num_sequences, pilot, generator, context, max_batch=max_batch, reference=reference
        ).trajectory
        stepping = reference is not None and previous is not None  # from the target the model was last fitted to
        if stepping and include_drift:
            bounds = (min(1e-3, previous), previous)
            alpha = temperature_for_kl(trajectory.child_potential, target_kl, trajectory.child_log_ratio, bounds)
        elif stepping:
            step = temperature_for_kl(trajectory.child_potential, target_kl)
            alpha = 1.0 / (1.0 / step + 1.0 / previous)
        else:
            alpha = temperature_for_kl(trajectory.child_potential, target_kl, trajectory.child_log_ratio)
    return alpha
