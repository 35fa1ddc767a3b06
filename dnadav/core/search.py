"""DAV's E-step: test-time search over denoising trajectories of the current model, written once
against ``dnadav.core.protocol.ReverseProcess`` (it knows nothing of tokens or pixels).

At every reverse step each sequence proposes ``num_children`` (M) next states from a proposal q (the
model itself, or the model tilted by the reward gradient), scores each child with a soft value
``V(x_s) ≈ r(x̂0(x_s))``, weights it by

    log w = discount^(steps left) · V(x_s) / reward_temperature + log p_θ(x_s | x_t) − log q(x_s | x_t)
          [+ log p_ref(x_s | x_t) − log p_θ(x_s | x_t)   with tilt_base="prior"]

and keeps one child per sequence (``mode="per_sequence"``, SVDD/DAV style), or carries a population
with incremental weights and ESS-triggered systematic resampling (``mode="smc"``, TDS/FK-steering
style, one child per particle), or draws M whole plain paths per sequence, scores only their clean
ends and resamples B of the B·M (``mode="importance"``, ``dnadav.core.importance``). All children of
all sequences go through the denoiser in one batched call per step; that call also yields x̂0 at the
child, reused as the next step's model prediction. ``search_process`` drives any process (DNA: ``dnadav.dna.search.search``).

``tilt_base="model"`` tilts the current model's steps, so EM iterations compound (K fitted tilts at α
are about one at α/K). ``tilt_base="prior"`` tilts a fixed reference network's steps instead (the
prior, passed as ``reference``): the model only proposes, and the bracketed importance ratio makes
the kept child a draw from ``p_ref(x_s | x_t)·exp(γ^n V(x_s)/α)`` (whole paths in importance mode). Iterations
at one α converge to that law instead of compounding, and whatever the model learned that the reward does not pay for is
weighed back towards the reference (docs/concepts.md, "Tilting the prior"). With ``proposal="prior"``
the reference proposes too (the model takes no part in the search; the importance ratio is exactly 0
and its extra row is not spent): the kept child is the per-step tilt of the reference at α with no
dependence on the model, so no error of an earlier M-step can enter the E-step's particles
(docs/concepts.md, "Proposing from the prior").
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Literal, get_args

import torch

from dnadav.core.batching import chunked_call, resolve_max_batch
from dnadav.core.gumbel import gumbel_argmax
from dnadav.core.importance import effective_sample_size, importance_search, resample_counts
from dnadav.core.modes import eval_mode
from dnadav.core.protocol import Guidance, ReverseProcess, repeat_rows
from dnadav.core.trajectory import RewardFn, SearchResult, SearchStats, Trajectory

__all__ = [
    "LOOKAHEADS",
    "SearchConfig",
    "SearchResult",
    "soft_value",
    "value_potential",
    "search_process",
    "systematic_resample",
]

SearchMode = Literal["per_sequence", "smc", "importance"]
ValueMode = Literal["argmax", "sample"]
TiltBase = Literal["model", "prior"]
Proposal = Literal["model", "prior"]
Lookahead = Literal["child", "parent"]
LOOKAHEADS: tuple[str, ...] = get_args(Lookahead)  # what --lookahead accepts


@dataclass
class SearchConfig:
    """Knobs of the E-step (names follow docs/concepts.md)."""

    num_children: int = 8  # M, children per sequence per step ("per_sequence"); whole paths per sequence ("importance")
    reward_temperature: float = 0.1  # α in p*(x) ∝ p(x) exp(r(x)/α)
    discount: float = 1.0  # γ; the value at a step with n steps left is weighted γ^n
    num_steps: int = 32  # T reverse steps
    value: ValueMode = "argmax"  # plug-in x̂0 (argmax) or K sampled x0's with a log-mean-exp
    num_value_samples: int = 1  # K (value="sample")
    mode: SearchMode = "per_sequence"
    ess_threshold: float = 0.5  # SMC: resample when ESS < ess_threshold · population
    guidance_scale: float = 0.0  # > 0: tilt the proposal by the reward gradient (differentiable oracle)
    record_clean: bool = False  # keep x̂0 at every chosen child (the paper's M-step distils it)
    record_children: bool = False  # keep every step's M children and their values (M-step "children", trust region)
    tilt_base: TiltBase = "model"  # whose steps the search tilts: the current model's, or the reference's ("prior")
    proposal: Proposal = "model"  # who draws the children: the current model, or the reference ("prior"; needs tilt_base="prior")
    lookahead: Lookahead = "child"  # x̂0 behind each child's value: a network call on the child, or the parent's prediction
    target_ess: float | None = None  # "importance": α solved per E-step for this ESS fraction of the paths' weights

    def __post_init__(self) -> None:
        if self.num_children < 1 or self.num_steps < 1 or self.num_value_samples < 1:
            raise ValueError("num_children, num_steps and num_value_samples must be ≥ 1")
        if not self.reward_temperature > 0:
            raise ValueError(f"reward_temperature must be > 0 (use math.inf for no tilt); got {self.reward_temperature}")
        if self.mode not in get_args(SearchMode):
            raise ValueError(f"mode must be {', '.join(get_args(SearchMode))}; got {self.mode!r}")
        if self.mode == "importance" and (self.proposal, self.guidance_scale) != ("model", 0.0):
            raise ValueError("mode='importance' draws the model's plain paths: no proposal 'prior', no guidance")
        ess = self.target_ess
        if ess is not None and not (self.mode == "importance" and self.tilt_base == "model" and 0 < ess < 1):
            raise ValueError(f"target_ess needs mode='importance', tilt_base='model' and a value in (0, 1); got {ess}")
        if self.mode == "importance" and (self.record_children or self.record_clean):
            raise ValueError("mode='importance' records no per-step children or x̂0: use the nelbo or transitions M-step")
        if self.value not in ("argmax", "sample"):
            raise ValueError(f"value must be argmax or sample; got {self.value!r}")
        if self.tilt_base not in ("model", "prior"):
            raise ValueError(f"tilt_base must be model or prior; got {self.tilt_base!r}")
        if self.proposal not in ("model", "prior"):
            raise ValueError(f"proposal must be model or prior; got {self.proposal!r}")
        if self.proposal == "prior" and self.tilt_base != "prior":
            raise ValueError("proposal='prior' needs tilt_base='prior' (the prior's steps are the ones tilted)")
        if self.lookahead not in LOOKAHEADS:
            raise ValueError(f"lookahead must be {' or '.join(LOOKAHEADS)}; got {self.lookahead!r}")
        if self.lookahead == "parent" and self.mode != "per_sequence":
            raise ValueError("lookahead='parent' needs mode='per_sequence' (an SMC particle's child is predicted anyway)")
        if self.record_children and self.mode != "per_sequence":
            raise ValueError("record_children needs mode='per_sequence' (SMC proposes one child per particle)")

    def as_dict(self) -> dict:
        return asdict(self)


def soft_value(
    process: ReverseProcess,
    prediction: torch.Tensor,
    x_s: torch.Tensor,
    reward_fn: RewardFn,
    config: SearchConfig,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """``V(x_s)`` for states ``x_s [N, ...]`` from the model's ``prediction`` there -> ``[N]``.

    argmax: ``r(x̂0)`` at the plug-in estimate; sample: ``α · log mean_k exp(r(x0_k)/α)`` over K
    draws of x0 (all K·N scored in one oracle call). What is already clean in x_s is kept as it is.
    """
    if config.value == "argmax":
        return reward_fn(process.clean_estimate(prediction, x_s, None, generator))
    k = config.num_value_samples
    rewards = reward_fn(process.clean_estimate(prediction, x_s, k, generator)).view(k, -1)
    alpha = config.reward_temperature
    if math.isinf(alpha):
        return rewards.mean(dim=0)
    return alpha * (torch.logsumexp(rewards / alpha, dim=0) - math.log(k))


def value_potential(value: torch.Tensor, config: SearchConfig, steps_left: int) -> torch.Tensor:
    """``discount^steps_left · V / reward_temperature`` (zero when the temperature is infinite).

    ``steps_left`` counts the reverse steps after this one, so the last step weighs the exact reward
    with factor 1 and earlier, noisier value estimates are discounted when ``discount < 1``.
    """
    if math.isinf(config.reward_temperature):
        return torch.zeros_like(value)
    return config.discount**steps_left * value / config.reward_temperature


def systematic_resample(log_weights: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Indices ``[N]`` drawn by systematic resampling from normalised ``exp(log_weights [N])``."""
    return resample_counts(log_weights, log_weights.shape[0], generator)


def _select(rows: torch.Tensor | None, index: torch.Tensor) -> torch.Tensor | None:
    return None if rows is None else rows[index]


@torch.no_grad()
def search_process(
    process: ReverseProcess,
    reward_fn: RewardFn,
    num_sequences: int,
    config: SearchConfig | None = None,
    generator: torch.Generator | None = None,
    context: torch.Tensor | None = None,
    on_step: Callable[[int], None] | None = None,
    max_batch: int | str | None = "auto",
    reference: Callable | None = None,
) -> SearchResult:
    """Run the E-step over ``process`` from grid index 0 for ``num_sequences`` states.

    ``context [B, ...]`` (or None) conditions each row and follows it through children and resampling.
    Puts a module network in eval mode for the search and restores its mode afterwards.
    ``on_step(k)`` is called after step k (progress bars). The reward sees at most ``max_batch``
    rows per call (``dnadav.core.batching``; results do not depend on it). The last step's children are
    clean, so they are scored by the reward directly, with no network call. ``reference``: the network
    whose steps ``tilt_base="prior"`` tilts (one more network row per sequence and step); with
    ``proposal="prior"`` it also proposes, and ``process.network`` is not called.
    """
    config = config or SearchConfig()
    if config.tilt_base == "prior" and reference is None:
        raise ValueError("tilt_base='prior' needs the reference network (the prior) as reference=")
    if config.mode == "importance":  # M whole plain paths per sequence, one reward call each, resampled
        steps = (config.num_children, config.reward_temperature, config.num_steps)
        base = reference if config.tilt_base == "prior" else None  # whose path law is tilted (None: the model's)
        return importance_search(
            process, reward_fn, num_sequences, *steps, generator, context, on_step, max_batch, base, config.target_ess
        )
    if config.lookahead == "parent" and not getattr(process, "parent_lookahead", False):
        name = type(process).__name__
        raise ValueError(f"lookahead='parent' needs a process whose clean estimate reads the child's state; {name} has none")
    stats = SearchStats()
    started = time.perf_counter()
    times = process.time_grid(config.num_steps)
    device = times.device
    oracle_rows = resolve_max_batch(max_batch, device)

    def reward(clean: torch.Tensor) -> torch.Tensor:
        return chunked_call(reward_fn, clean, max_batch=oracle_rows)

    proposer = reference if config.proposal == "prior" else None  # None: the process's own network

    def predict(x: torch.Tensor, t: float, rows_context: torch.Tensor | None, network: Callable | None = None) -> torch.Tensor:
        network = proposer if network is None else network
        stats.network_calls += 1
        stats.network_sequences += x.shape[0]
        return process.predict(x, torch.full((x.shape[0],), t, device=x.device), rows_context, network)

    def base_log_ratio(prediction: torch.Tensor, x: torch.Tensor, children: torch.Tensor, k: int) -> torch.Tensor:
        """``log p_ref(child | x) − log p_θ(child | x)`` of every child (rows i·M + j: child j of state i)."""
        m = children.shape[0] // x.shape[0]
        rows = lambda a: a.repeat_interleave(m, dim=0)  # noqa: E731
        t = torch.full((children.shape[0],), float(times[k]), device=device)
        s = torch.full((children.shape[0],), float(times[k + 1]), device=device)
        reference_prediction = predict(x, float(times[k]), context, reference)
        log_ref = process.transition_log_prob(rows(reference_prediction), rows(x), children, t, s)
        return (log_ref - process.transition_log_prob(rows(prediction), rows(x), children, t, s)).float()

    def value_of(prediction: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        stats.oracle_calls += x.shape[0] * (config.num_value_samples if config.value == "sample" else 1)
        return soft_value(process, prediction, x, reward, config, generator).float()

    with eval_mode(process.network, reference):
        b = num_sequences
        m = 1 if config.mode == "smc" else config.num_children
        guidance = Guidance(reward, config.guidance_scale) if config.guidance_scale > 0 else None
        x = process.initial_state(b, generator)
        states = [x]
        record_clean = config.record_clean
        cleans: list[torch.Tensor] = []  # plug-in x̂0 at each chosen child (record_clean)
        recorded: dict[str, list[torch.Tensor]] = {"children": [], "child_potential": [], "child_log_ratio": []}
        prediction = predict(x, float(times[0]), context)
        potential = torch.zeros(b, device=device)  # SMC: γ^n V/α of the current particle
        log_weights = torch.zeros(b, device=device)  # SMC: accumulated importance weights
        value = torch.zeros(b, device=device)
        for k in range(config.num_steps):
            if guidance is not None:
                stats.oracle_calls += b  # one reward gradient per sequence
            proposal = process.propose(prediction, x, float(times[k]), float(times[k + 1]), m, generator, guidance)
            children, log_ratio = proposal.children, proposal.log_ratio
            if config.tilt_base == "prior" and config.proposal == "model":  # proposing from the prior: the ratio is 0
                anchor = base_log_ratio(prediction, x, children, k)
                log_ratio = anchor if log_ratio is None else log_ratio + anchor
            child_context = repeat_rows(context, m)
            parent_lookahead = config.lookahead == "parent" and k < config.num_steps - 1
            if parent_lookahead:  # the parent's x̂0 with each child's own clean positions: no network row per child
                child_prediction = None
                child_value = value_of(prediction.repeat_interleave(m, dim=0), children)
            elif k < config.num_steps - 1:
                child_prediction = predict(children, float(times[k + 1]), child_context)
                child_value = value_of(child_prediction, children)
            else:  # clean children: V is the reward itself
                child_prediction = None
                stats.oracle_calls += children.shape[0]
                child_value = reward(process.decode(children)).float()
            child_potential = value_potential(child_value, config, steps_left=config.num_steps - 1 - k)
            if config.mode == "per_sequence":
                log_w = child_potential if log_ratio is None else child_potential + log_ratio
                if config.record_children:  # all M children of every sequence, before the choice
                    recorded["children"].append(children.view(b, m, *children.shape[1:]))
                    steps_left = config.num_steps - 1 - k
                    recorded["child_potential"].append((config.discount**steps_left * child_value).view(b, m))
                    if log_ratio is not None:
                        recorded["child_log_ratio"].append(log_ratio.view(b, m))
                choice = gumbel_argmax(log_w.view(b, m), generator, dim=1)
                pick = torch.arange(b, device=device) * m + choice
                x, prediction, value = children[pick], _select(child_prediction, pick), child_value[pick]
                context = _select(child_context, pick)
                if parent_lookahead:  # only the kept child is predicted: B rows per step instead of B·M
                    prediction = predict(x, float(times[k + 1]), context)
            else:
                log_weights = log_weights + child_potential - potential
                if log_ratio is not None:
                    log_weights = log_weights + log_ratio
                x, prediction, value, potential = children, child_prediction, child_value, child_potential
                ess = effective_sample_size(log_weights)
                stats.ess_history.append(ess)
                last = k == config.num_steps - 1
                if ess < config.ess_threshold * b or last:
                    index = systematic_resample(log_weights, generator)
                    x, prediction, value, potential = x[index], _select(prediction, index), value[index], potential[index]
                    states = [s[index] for s in states]
                    cleans = [c[index] for c in cleans]
                    context = _select(context, index)
                    log_weights = torch.zeros_like(log_weights)
                    stats.resamples += 1
            states.append(x)
            if record_clean:
                cleans.append(process.decode(x) if prediction is None else process.clean_estimate(prediction, x, None, None))
            if on_step is not None:
                on_step(k)
    stats.wall_seconds = time.perf_counter() - started
    stacked = {k: torch.stack(v) if v else None for k, v in recorded.items()}
    trajectory = Trajectory(torch.stack(states), times.cpu(), context, torch.stack(cleans) if record_clean else None, **stacked)
    return SearchResult(sequences=x, rewards=value, trajectory=trajectory, stats=stats)
