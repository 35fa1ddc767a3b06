"""On-policy rollouts for the policy-gradient baselines (DDPO, VMPO), written once against
``dnadav.core.protocol.ReverseProcess``: they need only ``predict``, ``propose``,
``transition_log_prob``, ``divergence`` and the reward, so they run for masked DNA and for the
Gaussian (image) process alike.

A rollout batch holds B paths sampled from the model, each step's ``log p_old(x_s | x_t)`` at
sampling time (what a clipped importance ratio divides by), the final rewards, and optionally the
soft value ``V(x_k) = r(x̂0(x_k))`` at every visited state (the potentials of VMPO). ``path_log_probs``
re-evaluates all T·B transitions under a network in ONE batched call (rows step-major), with grad.
``PolicyGradientConfig`` holds the knobs both methods share and counts their training budget.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from dnadav.core.modes import eval_mode
from dnadav.core.protocol import ReverseProcess
from dnadav.core.trajectory import RewardFn

__all__ = [
    "PolicyGradientConfig",
    "Rollouts",
    "sample_rollouts",
    "transitions",
    "path_log_probs",
    "path_divergence",
    "add_path_kl",
    "weighted_mean",
]


@dataclass
class PolicyGradientConfig:
    """Knobs shared by the on-policy baselines: each iteration samples ``batch_size`` paths of
    ``num_steps`` reverse steps from the current model, then takes ``inner_epochs`` Adam steps on them."""

    num_steps: int = 32  # T reverse steps of every sampled path
    batch_size: int = 32  # paths per iteration
    iterations: int = 100  # sampling rounds
    inner_epochs: int = 1  # gradient steps per sampled batch (> 1: off-policy within the batch)
    kl_weight: float = 0.0  # β of the per-step KL to the reference (prior) at the visited states
    lr: float = 1e-4
    gradient_clip: float | None = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if min(self.num_steps, self.batch_size, self.iterations, self.inner_epochs) < 1:
            raise ValueError("num_steps, batch_size, iterations and inner_epochs must be ≥ 1")
        if not self.kl_weight >= 0 or not self.lr > 0:
            raise ValueError(f"kl_weight must be ≥ 0 and lr > 0; got {self.kl_weight}, {self.lr}")

    def as_dict(self) -> dict:
        return asdict(self)

    def oracle_calls_per_path(self) -> int:
        """Reward calls per sampled path (1: the final reward only)."""
        return 1

    def budget(self) -> dict[str, float]:
        """Reward calls and denoiser rows of a whole run: sampling (T rows per path), then per inner
        epoch the tuned model at every step and the reference where it is needed."""
        paths = self.iterations * self.batch_size
        rows = self.num_steps * (1 + self.inner_epochs * (1 + self.reference_passes()))
        return {"train_oracle_calls": float(paths * self.oracle_calls_per_path()), "train_network_sequences": float(paths * rows)}

    def reference_passes(self) -> int:
        """Reference-network evaluations of each transition per inner epoch."""
        return 1 if self.kl_weight > 0 else 0


@dataclass(frozen=True)
class Rollouts:
    """B paths on one grid: ``states [T+1, B, ...]`` (index 0 = noise), ``times [T+1]``,
    ``log_probs [T, B]`` the θ-dependent part of ``log p_old(x_{k+1} | x_k)`` at sampling time,
    ``rewards [B]`` of the clean ends, ``values [T+1, B]`` (or None) the soft value ``r(x̂0(x_k))`` of
    every state (index T: the reward itself), ``context [B, ...]`` or None, and ``weights [B]`` (or
    None = uniform) a probability vector over the paths (an expectation over an enumerated set, or
    importance weights)."""

    states: torch.Tensor
    times: torch.Tensor
    log_probs: torch.Tensor
    rewards: torch.Tensor
    values: torch.Tensor | None = None
    context: torch.Tensor | None = None
    weights: torch.Tensor | None = None

    @property
    def num_steps(self) -> int:
        return self.states.shape[0] - 1

    @property
    def batch_size(self) -> int:
        return self.states.shape[1]


def _rows(x: torch.Tensor | None, times: int) -> torch.Tensor | None:
    """``[B, ...]`` repeated ``times`` times step-major -> ``[times·B, ...]`` (None stays None)."""
    return None if x is None else x.repeat(times, *([1] * (x.dim() - 1)))


@torch.no_grad()
def sample_rollouts(
    process: ReverseProcess,
    reward_fn: RewardFn,
    num: int,
    num_steps: int,
    generator: torch.Generator | None = None,
    context: torch.Tensor | None = None,
    values: bool = False,
) -> Rollouts:
    """Ancestral sampling of ``num`` paths with the process's one reverse step, recording each
    transition's ``log p_old`` and (``values``) the plug-in value ``r(x̂0)`` of each state. Reward
    calls: ``num`` (final), plus ``num · T`` with values. Runs the network in eval mode."""
    with eval_mode(process.network):
        times = process.time_grid(num_steps)
        x = process.initial_state(num, generator)
        states, log_probs, state_values = [x], [], []
        for k in range(num_steps):
            t_rows, s_rows = (torch.full((num,), float(times[j]), device=x.device) for j in (k, k + 1))
            prediction = process.predict(x, t_rows, context)
            if values:
                state_values.append(reward_fn(process.clean_estimate(prediction, x, None, None)).float())
            child = process.propose(prediction, x, float(times[k]), float(times[k + 1]), 1, generator).children
            log_probs.append(process.transition_log_prob(prediction, x, child, t_rows, s_rows).float())
            x = child
            states.append(x)
        rewards = reward_fn(process.decode(x)).float()
    value_table = torch.stack([*state_values, rewards]) if values else None
    return Rollouts(torch.stack(states), times, torch.stack(log_probs), rewards, value_table, context)


def transitions(rollouts: Rollouts) -> tuple[torch.Tensor, ...]:
    """All T·B transitions step-major (row ``k·B + b``): ``(x_t, x_s, t, s, context)`` with states
    ``[T·B, ...]``, grid times ``[T·B]`` and context ``[T·B, ...]`` or None."""
    steps, batch = rollouts.num_steps, rollouts.batch_size
    x_t, x_s = rollouts.states[:-1].flatten(0, 1), rollouts.states[1:].flatten(0, 1)
    times = rollouts.times.to(x_t.device)
    t, s = times[:-1].repeat_interleave(batch), times[1:].repeat_interleave(batch)
    return x_t, x_s, t, s, _rows(rollouts.context, steps)


def path_log_probs(process: ReverseProcess, rollouts: Rollouts, network=None) -> tuple[torch.Tensor, torch.Tensor]:
    """``log p(x_{k+1} | x_k)`` of every recorded transition under ``network`` (default: the process's;
    the θ-dependent part, ``transition_log_prob``) -> ``(log_probs [T, B], predictions [T·B, ...])``;
    one batched call, differentiable (call under ``torch.no_grad()`` for a frozen reference)."""
    x_t, x_s, t, s, context = transitions(rollouts)
    prediction = process.predict(x_t, t, context, network)
    log_p = process.transition_log_prob(prediction, x_t, x_s, t, s)
    return log_p.view(rollouts.num_steps, rollouts.batch_size), prediction


def path_divergence(
    process: ReverseProcess, rollouts: Rollouts, prediction: torch.Tensor, reference_prediction: torch.Tensor
) -> torch.Tensor:
    """Per-step ``KL(p_θ(·|x_k) ‖ p_ref(·|x_k))`` at the visited states ``[T, B]`` (nats), from the
    model's and the reference's predictions ``[T·B, ...]`` (both from ``path_log_probs``)."""
    x_t, _, t, s, _ = transitions(rollouts)
    return process.divergence(prediction, reference_prediction, x_t, t, s).view(rollouts.num_steps, rollouts.batch_size)


def add_path_kl(
    loss: torch.Tensor,
    parts: dict[str, float],
    kl_weight: float,
    process: ReverseProcess,
    rollouts: Rollouts,
    prediction: torch.Tensor,
    reference_prediction: torch.Tensor,
) -> torch.Tensor:
    """``loss + β ·`` the path KL to the reference (per-step KLs summed over steps, weighted mean over
    paths by ``rollouts.weights``); logs it as ``parts["path_kl"]``. ``loss`` unchanged when β = 0."""
    if kl_weight <= 0:
        return loss
    per_step = path_divergence(process, rollouts, prediction, reference_prediction)  # [T, B]
    path_kl = weighted_mean(per_step.sum(dim=0), rollouts.weights)
    parts["path_kl"] = float(path_kl.detach())
    return loss + kl_weight * path_kl


def weighted_mean(per_path: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """``Σ_b w_b · per_path[b]`` for a probability vector ``weights [B]``; the plain mean when None."""
    return per_path.mean() if weights is None else (weights.to(per_path) * per_path).sum()
