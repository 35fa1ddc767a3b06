"""DAV's E-step: test-time search over denoising trajectories of the current model.

At every reverse step each sequence proposes ``num_children`` (M) next states from a proposal q (the
model itself, or the model tilted by the reward gradient), scores each child with a soft value
``V(x_s) ≈ r(x̂0(x_s))``, weights it by

    log w = discount^(steps left) · V(x_s) / reward_temperature + log p_θ(x_s | x_t) − log q(x_s | x_t)

and keeps one child per sequence (``mode="per_sequence"``, SVDD/DAV style), or carries a population
with incremental weights and ESS-triggered systematic resampling (``mode="smc"``, TDS/FK-steering
style, one child per particle). All children of all sequences go through the denoiser in one batched
call per step; that call also yields x̂0 at the child, reused as the next step's model prediction.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Literal

import torch

from dnadav.align.protocols import RewardFn, SearchStats, Trajectory
from dnadav.diffusion.masked import Denoiser, x0_log_probs
from dnadav.diffusion.sampler import reverse_log_probs, sample_reverse, time_grid
from dnadav.diffusion.schedule import LogLinearSchedule, Schedule
from dnadav.seq import MASK_INDEX, tokens_to_onehot

__all__ = ["SearchConfig", "SearchResult", "soft_value", "value_potential", "search", "systematic_resample"]

SearchMode = Literal["per_sequence", "smc"]
ValueMode = Literal["argmax", "sample"]


@dataclass
class SearchConfig:
    """Knobs of the E-step (names follow docs/concepts.md)."""

    num_children: int = 8  # M, children per sequence per step ("per_sequence" mode)
    reward_temperature: float = 0.1  # α in p*(x) ∝ p(x) exp(r(x)/α)
    discount: float = 1.0  # γ; the value at a step with n steps left is weighted γ^n
    num_steps: int = 32  # T reverse steps
    value: ValueMode = "argmax"  # plug-in x̂0 (argmax) or K sampled x0's with a log-mean-exp
    num_value_samples: int = 1  # K (value="sample")
    mode: SearchMode = "per_sequence"
    ess_threshold: float = 0.5  # SMC: resample when ESS < ess_threshold · population
    guidance_scale: float = 0.0  # > 0: tilt the proposal by the reward gradient (differentiable oracle)
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.num_children < 1 or self.num_steps < 1 or self.num_value_samples < 1:
            raise ValueError("num_children, num_steps and num_value_samples must be ≥ 1")
        if not self.reward_temperature > 0:
            raise ValueError(f"reward_temperature must be > 0 (use math.inf for no tilt); got {self.reward_temperature}")
        if self.mode not in ("per_sequence", "smc"):
            raise ValueError(f"mode must be per_sequence or smc; got {self.mode!r}")
        if self.value not in ("argmax", "sample"):
            raise ValueError(f"value must be argmax or sample; got {self.value!r}")

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SearchResult:
    sequences: torch.Tensor  # [B, L] final tokens
    rewards: torch.Tensor  # [B] reward-oracle score of each final sequence
    trajectory: Trajectory  # chosen paths, what the M-step distils
    stats: SearchStats


def soft_value(
    log_x0: torch.Tensor,
    x_s: torch.Tensor,
    reward_fn: RewardFn,
    config: SearchConfig,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """``V(x_s)`` for ``x_s [N, L]`` from the model's ``log_x0 [N, L, 4]`` -> ``[N]``.

    argmax: ``r(argmax x̂0)``; sample: ``α · log mean_k exp(r(x0_k)/α)`` over K draws of x0 (all
    K·N sequences scored in one oracle call). Unmasked positions of x_s are kept as they are.
    """
    masked = x_s == MASK_INDEX
    if config.value == "argmax":
        x0 = torch.where(masked, log_x0.argmax(dim=-1), x_s)
        return reward_fn(tokens_to_onehot(x0))
    k = config.num_value_samples
    uniform = torch.rand((k, *log_x0.shape), generator=generator, device=log_x0.device)
    gumbel = -torch.log(-torch.log(uniform.clamp(1e-20, 1.0 - 1e-7)))
    draws = torch.where(masked[None], (log_x0[None] + gumbel).argmax(dim=-1), x_s[None])  # [K, N, L]
    rewards = reward_fn(tokens_to_onehot(draws.flatten(0, 1))).view(k, -1)
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


def _gradient_tilted(log_x0: torch.Tensor, x_t: torch.Tensor, reward_fn: RewardFn, scale: float) -> torch.Tensor:
    """Proposal x̂0: ``log_softmax(log x̂0 + scale · ∂r/∂x̂0)`` at masked positions (classifier guidance)."""
    with torch.enable_grad():
        probs = log_x0.exp().detach().requires_grad_(True)
        gradient = torch.autograd.grad(reward_fn(probs.transpose(1, 2)).sum(), probs)[0]
    tilted = torch.log_softmax(log_x0 + scale * gradient, dim=-1)
    return torch.where((x_t == MASK_INDEX)[..., None], tilted, log_x0)


def systematic_resample(log_weights: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Indices ``[N]`` drawn by systematic resampling from normalised ``exp(log_weights [N])``."""
    n = log_weights.shape[0]
    cumulative = torch.softmax(log_weights, dim=0).cumsum(dim=0)
    cumulative[-1] = 1.0
    points = (torch.rand(1, generator=generator, device=log_weights.device) + torch.arange(n, device=log_weights.device)) / n
    return torch.searchsorted(cumulative, points).clamp(max=n - 1)


def _effective_sample_size(log_weights: torch.Tensor) -> float:
    return float(torch.exp(2 * torch.logsumexp(log_weights, 0) - torch.logsumexp(2 * log_weights, 0)))


def _gather_rows(log_rows: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    return log_rows.gather(-1, tokens[..., None]).squeeze(-1).sum(dim=-1)


@torch.no_grad()
def search(
    denoiser: Denoiser,
    reward_fn: RewardFn,
    num_sequences: int,
    length: int,
    config: SearchConfig | None = None,
    schedule: Schedule | None = None,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    on_step: Callable[[int], None] | None = None,
) -> SearchResult:
    """Run the E-step from all-MASK for ``num_sequences`` sequences of ``length``.

    Puts a module denoiser in eval mode for the search and restores its mode afterwards.
    ``on_step(k)`` is called after step k (progress bars).
    """
    config = config or SearchConfig()
    schedule = schedule or LogLinearSchedule()
    stats = SearchStats()
    started = time.perf_counter()
    module = denoiser if isinstance(denoiser, torch.nn.Module) else None
    was_training = bool(module is not None and module.training)
    if module is not None:
        module.eval()

    def network(x: torch.Tensor, t: float) -> torch.Tensor:
        stats.network_calls += 1
        stats.network_sequences += x.shape[0]
        return x0_log_probs(denoiser(x, torch.full((x.shape[0],), t, device=x.device)), x)

    def value_of(log_x0: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        stats.oracle_calls += x.shape[0] * (config.num_value_samples if config.value == "sample" else 1)
        return soft_value(log_x0, x, reward_fn, config, generator).float()

    try:
        b = num_sequences
        m = 1 if config.mode == "smc" else config.num_children
        times = time_grid(config.num_steps, device)
        x = torch.full((b, length), MASK_INDEX, dtype=torch.long, device=device)
        states = [x]
        log_x0 = network(x, float(times[0]))
        potential = torch.zeros(b, device=device)  # SMC: γ^n V/α of the current particle
        log_weights = torch.zeros(b, device=device)  # SMC: accumulated importance weights
        value = torch.zeros(b, device=device)
        for k in range(config.num_steps):
            t_vec = torch.full((b,), float(times[k]), device=device)
            s_vec = torch.full((b,), float(times[k + 1]), device=device)
            alpha_t, alpha_s = schedule.alpha(t_vec), schedule.alpha(s_vec)
            log_p_rows = reverse_log_probs(log_x0, x, alpha_t, alpha_s)
            if config.guidance_scale > 0:
                stats.oracle_calls += b  # one reward gradient per sequence
                log_q_rows = reverse_log_probs(_gradient_tilted(log_x0, x, reward_fn, config.guidance_scale), x, alpha_t, alpha_s)
            else:
                log_q_rows = log_p_rows
            children = sample_reverse(log_q_rows.repeat_interleave(m, dim=0), generator)  # [B·M, L]
            log_ratio = _gather_rows(log_p_rows.repeat_interleave(m, dim=0), children) - _gather_rows(
                log_q_rows.repeat_interleave(m, dim=0), children
            )
            child_log_x0 = network(children, float(times[k + 1]))
            child_value = value_of(child_log_x0, children)
            child_potential = value_potential(child_value, config, steps_left=config.num_steps - 1 - k)
            if config.mode == "per_sequence":
                log_w = (child_potential + log_ratio).view(b, m)
                uniform = torch.rand(log_w.shape, generator=generator, device=device)
                choice = (log_w - torch.log(-torch.log(uniform.clamp(1e-20, 1.0 - 1e-7)))).argmax(dim=1)
                pick = torch.arange(b, device=device) * m + choice
                x, log_x0, value = children[pick], child_log_x0[pick], child_value[pick]
            else:
                log_weights = log_weights + child_potential - potential + log_ratio
                x, log_x0, value, potential = children, child_log_x0, child_value, child_potential
                ess = _effective_sample_size(log_weights)
                stats.ess_history.append(ess)
                last = k == config.num_steps - 1
                if ess < config.ess_threshold * b or last:
                    index = systematic_resample(log_weights, generator)
                    x, log_x0, value, potential = x[index], log_x0[index], value[index], potential[index]
                    states = [s[index] for s in states]
                    log_weights = torch.zeros_like(log_weights)
                    stats.resamples += 1
            states.append(x)
            if on_step is not None:
                on_step(k)
    finally:
        if module is not None:
            module.train(was_training)
    stats.wall_seconds = time.perf_counter() - started
    trajectory = Trajectory(torch.stack(states), times.cpu())
    return SearchResult(sequences=x, rewards=value, trajectory=trajectory, stats=stats)
