"""DRAKES-style fine-tuning (Wang et al. 2024): maximise ``E[r(x0)] − β · KL(p_θ ‖ p_pre)`` over whole
sampling trajectories by backpropagating the reward through a Gumbel-softmax relaxation of the
masked reverse process.

One loss evaluation samples ``batch_size`` trajectories of ``num_steps`` reverse steps from the model
being tuned. The first ``num_steps − truncate_steps`` steps run without gradient (hard draws); in the
last ``truncate_steps`` steps each draw is relaxed: ``y = softmax((log p_θ(x_s | x_t) + g) / τ)`` over the
5 tokens, straight-through (``onehot(argmax y) + y − sg(y)``) or soft, so the final clean sample
``x0 [B, L, 4]`` is a differentiable function of the model's predictions at those steps. The path KL is
the sum over those steps of the exact per-step KL ``MaskedDiffusion.divergence`` (its
``(α_s − α_t)/(1 − α_t)`` weight included) between the tuned and the frozen pretrained model at the
visited states; earlier steps carry no gradient, so leaving their KL out changes only the logged value.

Difference from the reference implementation: the network sees the *hard* tokens of each state (our
``ConvDenoiser`` embeds token ids), so the gradient flows to θ through the step probabilities of the
last k steps and the reward of the relaxed x0, not through the network's input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch

from dnadav.baselines.policy_loop import trainable_copy
from dnadav.core.gumbel import gumbel_noise
from dnadav.dna.masked import Denoiser
from dnadav.dna.sampler import MaskedDiffusion
from dnadav.dna.schedule import Schedule
from dnadav.dna.tokens import MASK_INDEX, NUM_BASES

__all__ = ["DrakesConfig", "relaxed_trajectory", "drakes_loss", "finetune"]


@dataclass
class DrakesConfig:
    num_steps: int = 32  # T reverse steps of each sampled trajectory
    truncate_steps: int = 8  # k: gradient flows through the last k steps only
    kl_weight: float = 0.1  # β of the path KL to the pretrained model
    temperature: float = 1.0  # τ of the Gumbel-softmax
    straight_through: bool = True  # hard forward / soft backward; False: soft states
    batch_size: int = 32  # trajectories per gradient step
    iterations: int = 100  # gradient steps
    lr: float = 1e-4
    gradient_clip: float | None = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.truncate_steps <= self.num_steps:
            raise ValueError(f"truncate_steps must be in [1, num_steps]; got {self.truncate_steps}")
        if not self.temperature > 0 or not self.kl_weight >= 0:
            raise ValueError("temperature must be > 0 and kl_weight ≥ 0")

    def as_dict(self) -> dict:
        return asdict(self)


def relaxed_trajectory(
    model: Denoiser,
    reference: Denoiser | None,
    num: int,
    length: int,
    config: DrakesConfig,
    schedule: Schedule | None = None,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample ``num`` trajectories -> ``(x0 [num, 4, L]`` relaxed one-hot (differentiable in the model's
    predictions of the last ``truncate_steps`` steps), ``kl [num]`` path KL of those steps, nats; zeros
    when ``reference`` is None)."""
    process = MaskedDiffusion(model, length, schedule, device, max_batch=None)
    times = process.time_grid(config.num_steps).tolist()
    first_grad = config.num_steps - config.truncate_steps
    soft = torch.nn.functional.one_hot(process.initial_state(num), NUM_BASES + 1).float()  # [N, L, 5]
    kl = torch.zeros(num, device=soft.device)
    for k, (t, s) in enumerate(zip(times[:-1], times[1:])):
        x = soft.argmax(dim=-1)
        t_rows = torch.full((num,), t, device=soft.device)
        with torch.set_grad_enabled(k >= first_grad and torch.is_grad_enabled()):
            prediction = process.predict(x, t_rows)
            log_step = process.step_log_probs(prediction, x, t, s)  # [N, L, 5]
            y = torch.softmax((log_step + gumbel_noise(tuple(log_step.shape), generator, soft.device)) / config.temperature, -1)
            if config.straight_through:
                y = torch.nn.functional.one_hot(y.argmax(dim=-1), NUM_BASES + 1).float() + y - y.detach()
            soft = torch.where((x == MASK_INDEX)[..., None], y, soft)
            if reference is not None and k >= first_grad:
                with torch.no_grad():
                    reference_prediction = process.predict(x, t_rows, network=reference)
                s_rows = torch.full((num,), s, device=soft.device)
                kl = kl + process.divergence(prediction, reference_prediction, x, t_rows, s_rows)
    return soft[..., :NUM_BASES].transpose(1, 2), kl


def drakes_loss(
    model: Denoiser,
    reference: Denoiser,
    reward_fn: Callable[[torch.Tensor], torch.Tensor],
    length: int,
    config: DrakesConfig,
    schedule: Schedule | None = None,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> tuple[torch.Tensor, dict[str, float]]:
    """``−mean r(x0) + β · mean KL`` over ``config.batch_size`` relaxed trajectories, and its logged parts.
    ``reward_fn`` takes (soft) one-hot ``[B, 4, L]``."""
    x0, kl = relaxed_trajectory(
        model, reference if config.kl_weight > 0 else None, config.batch_size, length, config, schedule, generator, device
    )
    reward = reward_fn(x0)
    loss = -reward.mean() + config.kl_weight * kl.mean()
    return loss, {"reward": float(reward.mean().detach()), "path_kl": float(kl.mean().detach()), "loss": float(loss.detach())}


def finetune(
    prior: torch.nn.Module,
    reward_fn: Callable[[torch.Tensor], torch.Tensor],
    length: int,
    config: DrakesConfig,
    schedule: Schedule | None = None,
    device: torch.device | str = "cpu",
    on_step: Callable[[int, dict[str, float]], None] | None = None,
) -> tuple[torch.nn.Module, list[dict[str, float]]]:
    """Fine-tune a copy of ``prior`` for ``config.iterations`` Adam steps -> ``(model, history)``.

    A frozen copy of the prior is the KL reference and the caller's prior is left as it is
    (``policy_loop.trainable_copy``); the copy runs in eval mode (no dropout) so the
    relaxed trajectories are a function of the parameters and the seed only. Budget: every step
    scores ``batch_size`` sequences with the reward and runs ``batch_size · (T + k)`` network rows
    (the tuned model at every step, the reference at the last k when β > 0)."""
    model, reference = trainable_copy(prior, device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    generator = torch.Generator(device).manual_seed(config.seed)
    history = []
    for step in range(config.iterations):
        with torch.enable_grad():
            loss, parts = drakes_loss(model, reference, reward_fn, length, config, schedule, generator, device)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
        if config.gradient_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.gradient_clip)
        optimizer.step()
        history.append(parts)
        if on_step is not None:
            on_step(step, parts)
    return model.requires_grad_(False), history
