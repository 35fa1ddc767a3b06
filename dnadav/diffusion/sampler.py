"""The reverse (denoising) step of masked diffusion, shared by plain sampling, the DAV E-step and
the M-step's transition likelihood.

For a position masked at time t, stepping to s < t: stay masked with probability
``(1 - alpha_s) / (1 - alpha_t)``, else unmask to base v with ``(alpha_s - alpha_t) / (1 - alpha_t) · x̂0_v``.
Unmasked positions never change. Shapes: tokens ``[B, L]``; ``alpha_t``, ``alpha_s`` ``[B]``;
``x0_log_probs`` ``[B, L, 4]`` (from ``dnadav.diffusion.masked.x0_log_probs``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from dnadav.diffusion.masked import LOG_ZERO, Denoiser, x0_log_probs
from dnadav.diffusion.schedule import LogLinearSchedule, Schedule
from dnadav.seq import MASK_INDEX, NUM_BASES

__all__ = [
    "time_grid",
    "reverse_log_probs",
    "sample_reverse",
    "transition_log_prob",
    "StepOutput",
    "denoise_step",
    "sample",
]


def time_grid(num_steps: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """``num_steps + 1`` times from 1 down to 0 (uniform). The last step lands on t = 0, where
    ``alpha = 1``, so every position still masked is unmasked (the final denoise)."""
    if num_steps < 1:
        raise ValueError(f"num_steps must be ≥ 1; got {num_steps}")
    return torch.linspace(1.0, 0.0, num_steps + 1, device=device)


def reverse_log_probs(log_x0: torch.Tensor, x_t: torch.Tensor, alpha_t: torch.Tensor, alpha_s: torch.Tensor) -> torch.Tensor:
    """``log p(x_s | x_t)`` per position over the 5 tokens (A, C, G, T, MASK) -> ``[B, L, 5]``."""
    stay = ((1.0 - alpha_s) / (1.0 - alpha_t)).clamp(0.0, 1.0)[:, None, None]
    log_unmask = torch.log((1.0 - stay).clamp_min(1e-30)) + log_x0
    log_stay = torch.log(stay.clamp_min(1e-30)).expand(*log_x0.shape[:2], 1)
    log_stay = torch.where(stay > 0, log_stay, torch.full_like(log_stay, LOG_ZERO))
    masked_row = torch.cat([log_unmask, log_stay], dim=-1)
    kept = torch.nn.functional.one_hot(x_t, NUM_BASES + 1).bool()
    kept_row = torch.where(kept, torch.zeros_like(masked_row), torch.full_like(masked_row, LOG_ZERO))
    return torch.where((x_t == MASK_INDEX)[..., None], masked_row, kept_row)


def sample_reverse(log_probs: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Draw one token per position from ``log_probs [B, L, 5]`` (Gumbel-max) -> ``x_s [B, L]``."""
    uniform = torch.rand(log_probs.shape, generator=generator, device=log_probs.device)
    gumbel = -torch.log(-torch.log(uniform.clamp(1e-20, 1.0 - 1e-7)))
    return (log_probs + gumbel).argmax(dim=-1)


def transition_log_prob(
    log_x0: torch.Tensor, x_t: torch.Tensor, x_s: torch.Tensor, alpha_t: torch.Tensor, alpha_s: torch.Tensor
) -> torch.Tensor:
    """``log p(x_s | x_t)`` summed over positions -> ``[B]`` (differentiable in ``log_x0``)."""
    per_position = reverse_log_probs(log_x0, x_t, alpha_t, alpha_s).gather(-1, x_s[..., None]).squeeze(-1)
    return per_position.sum(dim=-1)


@dataclass(frozen=True)
class StepOutput:
    """One reverse step: the new state and what produced it."""

    x_s: torch.Tensor  # [B, L] tokens at time s
    log_prob: torch.Tensor  # [B] log p_θ(x_s | x_t)
    log_x0: torch.Tensor  # [B, L, 4] the model's x0 prediction at (x_t, t)


def denoise_step(
    denoiser: Denoiser,
    x_t: torch.Tensor,
    t: float,
    s: float,
    schedule: Schedule,
    generator: torch.Generator | None,
) -> StepOutput:
    """One ancestral step ``x_t -> x_s`` under the denoiser."""
    batch = x_t.shape[0]
    t_vec = torch.full((batch,), float(t), device=x_t.device)
    s_vec = torch.full((batch,), float(s), device=x_t.device)
    alpha_t, alpha_s = schedule.alpha(t_vec), schedule.alpha(s_vec)
    log_x0 = x0_log_probs(denoiser(x_t, t_vec), x_t)
    log_probs = reverse_log_probs(log_x0, x_t, alpha_t, alpha_s)
    x_s = sample_reverse(log_probs, generator)
    log_prob = log_probs.gather(-1, x_s[..., None]).squeeze(-1).sum(dim=-1)
    return StepOutput(x_s=x_s, log_prob=log_prob, log_x0=log_x0)


@torch.no_grad()
def sample(
    denoiser: Denoiser,
    num_sequences: int,
    length: int,
    num_steps: int = 100,
    schedule: Schedule | None = None,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    on_step: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """Ancestral sampling from all-MASK to clean sequences -> ``tokens [num_sequences, length]``.

    All sequences advance together (one denoiser call per step). Sets eval mode for the call and
    restores the module's previous mode. ``on_step(k)`` is called after step k (progress bars).
    """
    schedule = schedule or LogLinearSchedule()
    module = denoiser if isinstance(denoiser, torch.nn.Module) else None
    was_training = module.training if module is not None else False
    if module is not None:
        module.eval()
    try:
        x = torch.full((num_sequences, length), MASK_INDEX, dtype=torch.long, device=device)
        times = time_grid(num_steps).tolist()
        for k, (t, s) in enumerate(zip(times[:-1], times[1:])):
            x = denoise_step(denoiser, x, t, s, schedule, generator).x_s
            if on_step is not None:
                on_step(k)
    finally:
        if module is not None:
            module.train(was_training)
    return x
