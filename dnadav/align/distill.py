"""DAV's M-step: forward-KL distillation of the E-step's trajectories into the model.

Minimising ``KL(η ‖ p_θ)`` over the E-step's path distribution η = maximising the likelihood of the
transitions it actually took. With the subs parameterisation, ``log p_θ(x_s | x_t)`` depends on θ
only through ``log x̂0_θ(x_t, t)`` at the newly unmasked positions, so the loss is their
cross-entropy (``objective="transitions"``). ``objective="nelbo"`` instead fits the MDLM NELBO on the
final E-step samples (equal in expectation up to the path/sample distinction).

DAV-KL adds ``λ · KL(p_θ(·|x_t) ‖ p_pre(·|x_t))`` summed over the masked positions of visited states
— on the predictive distributions, so it is not identically zero on one-hot states.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import torch

from dnadav.align.protocols import Trajectory
from dnadav.diffusion.masked import Denoiser, nelbo, stratified_times, x0_log_probs
from dnadav.diffusion.schedule import Schedule
from dnadav.seq import MASK_INDEX

__all__ = [
    "DistillConfig",
    "TransitionBatch",
    "transition_pairs",
    "transition_batch",
    "transition_nll",
    "prior_kl",
    "distill_loss",
]

Objective = Literal["transitions", "nelbo"]


@dataclass
class DistillConfig:
    objective: Objective = "transitions"
    kl_weight: float = 0.0  # λ of DAV-KL (0 = plain DAV)

    def __post_init__(self) -> None:
        if self.objective not in ("transitions", "nelbo"):
            raise ValueError(f"objective must be transitions or nelbo; got {self.objective!r}")
        if self.kl_weight < 0:
            raise ValueError(f"kl_weight must be ≥ 0; got {self.kl_weight}")

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TransitionBatch:
    """Transitions ``x_t -> x_s`` taken by the E-step: tokens ``[N, L]``, times ``[N]``."""

    x_t: torch.Tensor
    x_s: torch.Tensor
    t: torch.Tensor
    x0: torch.Tensor  # the clean end of each transition's path


def transition_pairs(trajectory: Trajectory) -> torch.Tensor:
    """All (step, sequence) index pairs of a trajectory -> ``[T·B, 2]`` int64."""
    steps, batch = trajectory.num_steps, trajectory.states.shape[1]
    grid = torch.stack(torch.meshgrid(torch.arange(steps), torch.arange(batch), indexing="ij"), dim=-1)
    return grid.reshape(-1, 2)


def transition_batch(trajectory: Trajectory, pairs: torch.Tensor) -> TransitionBatch:
    """Gather the transitions named by ``pairs [N, 2]`` (step, sequence)."""
    step, sequence = pairs[:, 0], pairs[:, 1]
    states = trajectory.states
    return TransitionBatch(
        x_t=states[step, sequence],
        x_s=states[step + 1, sequence],
        t=trajectory.times.to(states.device)[step],
        x0=states[-1, sequence],
    )


def transition_nll(log_x0: torch.Tensor, x_t: torch.Tensor, x_s: torch.Tensor) -> torch.Tensor:
    """``-Σ_{i: x_t[i] = MASK, x_s[i] ≠ MASK} log x̂0[i, x_s[i]]`` -> ``[N]`` nats.

    The θ-dependent part of ``-log p_θ(x_s | x_t)``; the schedule's stay/unmask factors are constants.
    """
    newly_unmasked = (x_t == MASK_INDEX) & (x_s != MASK_INDEX)
    picked = log_x0.gather(-1, x_s.clamp(max=3)[..., None]).squeeze(-1)
    return -(picked * newly_unmasked).sum(dim=-1)


def prior_kl(log_x0: torch.Tensor, log_x0_prior: torch.Tensor, x_t: torch.Tensor) -> torch.Tensor:
    """``Σ_{masked i} KL(p_θ(x0_i | x_t) ‖ p_pre(x0_i | x_t))`` -> ``[N]`` nats."""
    per_position = (log_x0.exp() * (log_x0 - log_x0_prior)).sum(dim=-1)
    return (per_position * (x_t == MASK_INDEX)).sum(dim=-1)


def distill_loss(
    model: Denoiser,
    batch: TransitionBatch,
    config: DistillConfig,
    schedule: Schedule,
    prior: Denoiser | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Scalar M-step loss (mean over the batch, nats per sequence) and its logged parts."""
    parts: dict[str, torch.Tensor] = {}
    if config.objective == "transitions":
        log_x0 = x0_log_probs(model(batch.x_t, batch.t), batch.x_t)
        parts["transition_nll"] = transition_nll(log_x0, batch.x_t, batch.x_s).mean()
        loss = parts["transition_nll"]
        kl_states = batch.x_t
    else:
        t = stratified_times(len(batch.x0), generator, device=batch.x0.device)
        parts["nelbo"] = nelbo(model, batch.x0, schedule, t, generator).mean()
        loss = parts["nelbo"]
        kl_states, log_x0 = batch.x_t, None
    if config.kl_weight > 0:
        if prior is None:
            raise ValueError("kl_weight > 0 needs the frozen prior")
        if log_x0 is None:
            log_x0 = x0_log_probs(model(kl_states, batch.t), kl_states)
        with torch.no_grad():
            log_x0_prior = x0_log_probs(prior(kl_states, batch.t), kl_states)
        parts["prior_kl"] = prior_kl(log_x0, log_x0_prior, kl_states).mean()
        loss = loss + config.kl_weight * parts["prior_kl"]
    return loss, parts
