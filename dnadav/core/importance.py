"""The importance-sampling E-step (``SearchConfig(mode="importance")``): one reward call per path.

The E-step's target is the tilted path law η(τ) ∝ p_θ(τ)·exp(r(x0)/α). ``search_process``'s other
modes approach it by choosing among children at every step, scoring each child's x̂0 (B·M·T reward
calls for B paths). This mode draws B·M whole paths from the model itself, scores only their clean
ends (B·M reward calls, none for intermediate values and no network row beyond the model's own T per
path), and resamples B of them with normalised weights w_i ∝ exp(r_i/α) by systematic resampling:
each path's expected count is exactly B·w_i, so the B kept paths are a self-normalised importance
sample of η, consistent as M grows. The M-step then fits them as it fits any E-step's paths
(``objective="nelbo"`` fits their clean ends with the model's own training loss, which over resampled
draws is the weighted NELBO Σ_i w_i·NELBO(x0_i)).

With ``tilt_base="prior"`` (a ``reference`` network) the target is the reference's tilted path law
π(τ) ∝ p_ref(τ)·exp(r(x0)/α) instead, and the model only proposes: each path's weight gains the path
log-ratio Σ_k log p_ref(x_{k+1} | x_k) − log p_θ(x_{k+1} | x_k) (2T more network rows per path, no
reward call). Every iteration then aims at the same π, so what one M-step failed to fit is corrected
by the next E-step's weights instead of compounding (docs/concepts.md).

Where the reward is bounded above, e.g. a class log-probability ``softmin(hepg2, 0)`` = log σ(log-odds),
α = 1 makes η the model's own posterior given the class and α < 1 sharpens it; iterating compounds the
tilt, but a bounded reward saturates instead of running off to extreme margins (docs/concepts.md,
"Importance sampling E-step"). This is the E-step that spends a small reward budget on the most paths.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch

from dnadav.core.batching import chunked_call, resolve_max_batch
from dnadav.core.modes import eval_mode
from dnadav.core.protocol import ReverseProcess, repeat_rows, sample_process
from dnadav.core.trajectory import RewardFn, SearchResult, SearchStats, Trajectory

__all__ = ["importance_search", "path_log_ratio", "resample_counts", "effective_sample_size", "ess_temperature"]


def effective_sample_size(log_weights: torch.Tensor) -> float:
    """Kish's ESS ``(Σ w)² / Σ w²`` of unnormalised ``exp(log_weights [N])``."""
    return float(torch.exp(2 * torch.logsumexp(log_weights, 0) - torch.logsumexp(2 * log_weights, 0)))


def ess_temperature(log_potentials: torch.Tensor, target_ess: float, bisections: int = 80) -> float:
    """The α (nats) at which the weights ``exp(log_potentials [N] / α)`` have Kish ESS ``target_ess · N``.

    ESS falls monotonically from N (α → ∞) to the number of paths tied at the largest potential
    (α → 0), so bisection on log(1/α) over [e^-20, e^20] finds it; a target under that floor (e.g. all
    potentials equal and ``target_ess`` < 1 cannot be met) returns the strongest tilt searched, e^-20.
    A trust region in the weights: every iteration's resampling keeps about the same effective number
    of paths, however close the model has come to the target (docs/concepts.md)."""
    if not 0 < target_ess < 1:
        raise ValueError(f"target_ess must be in (0, 1); got {target_ess}")
    potentials = log_potentials.double() - log_potentials.double().max()
    wanted = target_ess * potentials.shape[0]
    low, high = -20.0, 20.0  # log β, β = 1/α
    for _ in range(bisections):
        middle = (low + high) / 2
        low, high = (middle, high) if effective_sample_size(potentials * math.exp(middle)) > wanted else (low, middle)
    return math.exp(-(low + high) / 2)


def resample_counts(log_weights: torch.Tensor, count: int, generator: torch.Generator | None) -> torch.Tensor:
    """``count`` indices into ``log_weights [N]`` by systematic resampling: one uniform offset, ``count``
    evenly spaced points on the cumulative normalised weights. Index i appears ⌊count·w_i⌋ or
    ⌈count·w_i⌉ times, so its expected count is exactly ``count·w_i``. -> ``[count]`` int64, ascending."""
    if count < 1:
        raise ValueError(f"count must be ≥ 1; got {count}")
    cumulative = torch.softmax(log_weights, dim=0).cumsum(dim=0)
    cumulative[-1] = 1.0
    device = log_weights.device
    points = (torch.rand(1, generator=generator, device=device) + torch.arange(count, device=device)) / count
    return torch.searchsorted(cumulative, points).clamp(max=log_weights.shape[0] - 1)


@torch.no_grad()
def path_log_ratio(
    process: ReverseProcess, states: list[torch.Tensor], reference: Callable, context: torch.Tensor | None = None
) -> torch.Tensor:
    """``Σ_k log p_ref(x_{k+1} | x_k) − log p_θ(x_{k+1} | x_k)`` along recorded paths ``states`` (T + 1
    tensors ``[N, ...]`` from grid index 0 to clean; p_θ is ``process.network``) -> ``[N]`` (nats): the
    log importance ratio of each whole path under the reference's and the model's path laws. Terms
    that do not depend on the network (which positions a masked step reveals) cancel. 2T network rows
    per path, one batched call per step and network."""
    steps = len(states) - 1
    times = process.time_grid(steps).tolist()
    total = torch.zeros(states[0].shape[0], device=states[0].device)
    with eval_mode(process.network), eval_mode(reference):
        for k, (t, s) in enumerate(zip(times[:-1], times[1:])):
            x_t, x_s = states[k], states[k + 1]
            at_t, at_s = (torch.full((x_t.shape[0],), v, device=x_t.device) for v in (t, s))
            for sign, network in ((1.0, reference), (-1.0, process.network)):
                prediction = process.predict(x_t, at_t, context, network=network)
                total += sign * process.transition_log_prob(prediction, x_t, x_s, at_t, at_s).float()
    return total


@torch.no_grad()
def importance_search(
    process: ReverseProcess,
    reward_fn: RewardFn,
    num_sequences: int,
    paths_per_sequence: int,
    reward_temperature: float,
    num_steps: int,
    generator: torch.Generator | None = None,
    context: torch.Tensor | None = None,
    on_step: Callable[[int], None] | None = None,
    max_batch: int | str | None = "auto",
    reference: Callable | None = None,
    target_ess: float | None = None,
):
    """Draw ``num_sequences · paths_per_sequence`` (N) paths of ``num_steps`` plain reverse steps from
    ``process``'s network in one population (every row of a step in one batched call), score each clean
    end once, and keep ``num_sequences`` (B) paths resampled with weights ``exp(r/α)``.

    ``context [B, ...]`` is repeated for the M paths of each row and follows the kept paths.
    ``reference``: the network whose path law is tilted (``tilt_base="prior"``); the weights then add
    ``path_log_ratio`` and ``network_sequences`` counts its 2T more rows per path. ``target_ess`` (a
    fraction of N): α is not ``reward_temperature`` but solved on this population's weights for that
    ESS (``ess_temperature``), and recorded in ``stats.reward_temperature``.
    -> ``SearchResult``: ``sequences [B, ...]``, ``rewards [B]``, the kept paths as a
    ``Trajectory`` (``states [T+1, B, ...]``), and stats with ``oracle_calls = N`` and
    ``ess_history = [ESS of the N weights]``."""
    if not reward_temperature > 0:
        raise ValueError(f"reward_temperature must be > 0; got {reward_temperature}")
    if target_ess is not None and reference is not None:  # the path ratio does not scale with α: ESS is not monotone
        raise ValueError("target_ess solves α on the rewards alone: it does not go with a reference (tilt_base='prior')")
    started = time.perf_counter()
    population = num_sequences * paths_per_sequence
    rows_context = repeat_rows(context, paths_per_sequence)
    states: list[torch.Tensor] = []
    x = sample_process(process, population, num_steps, generator, rows_context, on_step, path=states)
    rewards = chunked_call(reward_fn, process.decode(x), max_batch=resolve_max_batch(max_batch, x.device)).float()
    if target_ess is not None:  # the tilt that keeps target_ess · N effective paths of this population
        reward_temperature = ess_temperature(rewards, target_ess)
    log_weights = rewards / reward_temperature if math.isfinite(reward_temperature) else torch.zeros_like(rewards)
    if reference is not None:
        log_weights = log_weights + path_log_ratio(process, states, reference, rows_context)
    kept = resample_counts(log_weights, num_sequences, generator)
    passes = 1 if reference is None else 3  # the model's sampling rows, then both networks' rows for the ratio
    stats = SearchStats(
        oracle_calls=population,
        network_calls=num_steps * passes,
        network_sequences=population * num_steps * passes,
        resamples=1,
        wall_seconds=time.perf_counter() - started,
        ess_history=[effective_sample_size(log_weights)],
        reward_temperature=reward_temperature,
    )
    kept_states = torch.stack([state[kept] for state in states])  # [T+1, B, ...]: only the kept rows are copied
    trajectory = Trajectory(kept_states, process.time_grid(num_steps).cpu(), None if rows_context is None else rows_context[kept])
    return SearchResult(sequences=x[kept], rewards=rewards[kept], trajectory=trajectory, stats=stats)
