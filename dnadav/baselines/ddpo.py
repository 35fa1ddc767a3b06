"""DDPO (Black et al. 2023, *Training Diffusion Models with Reinforcement Learning*, arXiv 2305.13301):
the denoising chain as a T-step MDP whose only reward is ``r(x0)`` at the end, optimised with PPO's
clipped importance-ratio surrogate (the paper's DDPO_IS), written once against the reverse-process
protocol (``transition_log_prob`` and the reward are all it needs).

For B paths sampled from p_old with rewards r_b, the advantage of path b is its reward normalised by
the batch's mean and sd (or by running per-prompt statistics, ``PromptStats``), clipped to ±``advantage_clip``,
and the same advantage is given to every step of the path. With ``ρ_kb = p_θ(x_{k+1}|x_k) / p_old(x_{k+1}|x_k)``:

    L(θ) = E_b (1/T) Σ_k max(−A_b ρ_kb, −A_b clip(ρ_kb, 1 − ε, 1 + ε))  +  β · E_b Σ_k KL(p_θ(·|x_k) ‖ p_ref(·|x_k))

At ρ = 1 (the first inner epoch) ``∇L = −(1/T) E[A ∇log p_θ(path)]``, REINFORCE with a normalised
reward; where the ratio has left [1 − ε, 1 + ε] in the direction the advantage pushes it, the
clipped branch is the max and the step's gradient is zero. The optional KL (β > 0) at the visited
states is an addition (the paper has none); it is the same per-step KL as DAV-KL's anchor.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch

from dnadav.baselines.policy_loop import fit_policy, masked_finetune
from dnadav.baselines.rollouts import (
    PolicyGradientConfig,
    Rollouts,
    add_path_kl,
    path_log_probs,
    weighted_mean,
)
from dnadav.core.protocol import ReverseProcess
from dnadav.core.trajectory import RewardFn

__all__ = ["DdpoConfig", "PromptStats", "prompt_keys", "advantages", "ddpo_loss", "train", "finetune"]

AdvantageMode = Literal["batch", "per_prompt"]


@dataclass
class DdpoConfig(PolicyGradientConfig):
    clip_range: float = 1e-4  # ε of the ratio clip (the paper's default)
    advantage_clip: float = 5.0  # |A| ≤ this after normalisation
    advantage: AdvantageMode = "batch"  # normalise by the batch's stats, or by running per-prompt stats
    stats_buffer: int = 16  # per_prompt: rewards kept per prompt
    stats_min_count: int = 16  # per_prompt: fewer than this -> the batch's stats

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.clip_range > 0 or not self.advantage_clip > 0:
            raise ValueError(f"clip_range and advantage_clip must be > 0; got {self.clip_range}, {self.advantage_clip}")
        if self.advantage not in ("batch", "per_prompt"):
            raise ValueError(f"advantage must be batch or per_prompt; got {self.advantage!r}")


def _normalised(rewards: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """``(rewards − mean) / (sd + 1e-6)`` with the mean and (population) sd of ``reference``."""
    return (rewards - reference.mean()) / (reference.std(unbiased=False) + 1e-6)


class PromptStats:
    """Running reward statistics per prompt (the last ``buffer`` rewards of each): a prompt seen fewer
    than ``min_count`` times is normalised by the whole batch instead (DDPO's per-prompt tracker)."""

    def __init__(self, buffer: int = 16, min_count: int = 16):
        self.buffer, self.min_count = buffer, min_count
        self.seen: dict[bytes, deque] = defaultdict(lambda: deque(maxlen=self.buffer))

    def update(self, keys: list[bytes], rewards: torch.Tensor) -> torch.Tensor:
        """Add ``rewards [B]`` under their prompts' ``keys`` and return their normalised values ``[B]``."""
        out = torch.empty_like(rewards)
        for key in dict.fromkeys(keys):  # a loop over distinct prompts, not over paths
            rows = torch.tensor([k == key for k in keys], device=rewards.device)
            self.seen[key].extend(rewards[rows].tolist())
            history = torch.tensor(list(self.seen[key]), device=rewards.device)
            out[rows] = _normalised(rewards[rows], history if len(history) >= self.min_count else rewards)
        return out


def prompt_keys(context: torch.Tensor | None, batch: int) -> list[bytes]:
    """One hashable key per row of ``context [B, ...]`` (all rows one key when None)."""
    if context is None:
        return [b""] * batch
    return [row.cpu().numpy().tobytes() for row in context]


def advantages(rewards: torch.Tensor, config: DdpoConfig, stats: PromptStats | None = None, keys=None) -> torch.Tensor:
    """DDPO's advantage of each path ``[B]``: its reward normalised (by the batch, or by ``stats``
    under the prompts' ``keys``) and clipped to ±``config.advantage_clip``."""
    normal = _normalised(rewards, rewards) if stats is None else stats.update(keys, rewards)
    return normal.clamp(-config.advantage_clip, config.advantage_clip)


def ddpo_loss(
    process: ReverseProcess,
    rollouts: Rollouts,
    advantage: torch.Tensor,
    config: DdpoConfig,
    reference: Callable | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The clipped surrogate (mean over steps, weighted mean over paths; module docstring) plus
    ``β ·`` the path KL, for ``advantage [B]``; and its logged parts (clip fraction, approx. KL to p_old)."""
    log_p, prediction = path_log_probs(process, rollouts)
    log_ratio = log_p - rollouts.log_probs.to(log_p)
    ratio = log_ratio.exp()
    a = advantage.to(ratio)[None]
    eps = config.clip_range
    surrogate = torch.maximum(-a * ratio, -a * ratio.clamp(1.0 - eps, 1.0 + eps))  # [T, B]
    loss = weighted_mean(surrogate.mean(dim=0), rollouts.weights)
    parts = {
        "surrogate": float(loss.detach()),
        "clip_fraction": float(((ratio - 1.0).abs() > eps).float().mean()),
        "approx_kl_old": float(0.5 * log_ratio.detach().pow(2).mean()),
    }
    if config.kl_weight > 0:
        if reference is None:
            raise ValueError("kl_weight > 0 needs the frozen reference network")
        with torch.no_grad():
            reference_prediction = path_log_probs(process, rollouts, reference)[1]
        loss = add_path_kl(loss, parts, config.kl_weight, process, rollouts, prediction, reference_prediction)
    parts["loss"] = float(loss.detach())
    return loss, parts


def train(
    process: ReverseProcess,
    reward_fn: RewardFn,
    config: DdpoConfig,
    reference: Callable | None = None,
    context: torch.Tensor | None = None,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
) -> list[dict[str, float]]:
    """DDPO on ``process.network`` in place (any reverse process) -> history. ``context [B, ...]``
    conditions every round's B paths (per-prompt advantages key on its rows)."""
    stats = PromptStats(config.stats_buffer, config.stats_min_count) if config.advantage == "per_prompt" else None
    cache: dict[int, torch.Tensor] = {}

    def loss_fn(rollouts: Rollouts, epoch: int):
        if epoch == 0:  # one advantage per sampled batch, reused by its inner epochs
            keys = prompt_keys(rollouts.context, rollouts.batch_size)
            cache[0] = advantages(rollouts.rewards, config, stats, keys)
        return ddpo_loss(process, rollouts, cache[0], config, reference)

    return fit_policy(process, reward_fn, loss_fn, config, context=context, on_step=on_step)


def finetune(
    prior: torch.nn.Module,
    reward_fn: RewardFn,
    length: int,
    config: DdpoConfig,
    schedule=None,
    device: torch.device | str = "cpu",
    on_step: Callable[[int, dict[str, float]], None] | None = None,
) -> tuple[torch.nn.Module, list[dict[str, float]]]:
    """DDPO on a copy of the DNA ``prior`` (frozen as the KL reference) -> ``(model, history)``; the
    same call as ``dnadav.baselines.drakes.finetune``. ``reward_fn`` takes one-hot ``[B, 4, L]``."""
    return masked_finetune(prior, train, reward_fn, length, config, schedule, device, on_step)
