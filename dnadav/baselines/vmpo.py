"""VMPO (Ou et al. 2026, *Diffusion Alignment Beyond KL: Variance Minimisation as Effective Policy
Optimiser*, arXiv 2602.12229): alignment as minimising the variance of the log importance weights of
the SMC view of denoising, written once against the reverse-process protocol.

The target is the tilted path law ``p*(τ) ∝ p_ref(τ) exp(r(x0)/α)``. With a potential Φ on the
states (``potential="value"``: ``Φ(x_k) = γ^(T−k) r(x̂0(x_k))/α``, the E-step's soft value;
``"terminal"``: Φ = 0 before the end) and ``Φ(x_T) = r(x_T)/α``, one step's log weight is

    log w_k = Φ(x_{k+1}) − Φ(x_k) + log p_ref(x_{k+1} | x_k) − log p_θ(x_{k+1} | x_k)

and the path's ``log W = Σ_k log w_k = r(x_T)/α − Φ(x_0) + log p_ref(τ) − log p_θ(τ)``. The loss, on
paths drawn from a stop-gradient copy of the model, with a learned baseline M_φ:

    granularity="step":  ½ Σ_k E[(log w_k − M_φ(k))²]      granularity="path":  ½ E[(log W − M_φ)²]

θ sees M_φ as a constant and M_φ sees log w as one, so M_φ(k) regresses on E[log w_k] (its optimum)
while θ lowers the variance. On-policy, ``E[∇ log p_θ] = 0`` makes the baseline drop out of θ's
expected gradient: the path form's is ``−E[(log W) ∇ log p_θ(τ)] = ∇ KL(p_θ ‖ p*)`` (the reverse-KL
gradient, the paper's equivalence; the ½ makes it exact), and the step form's is
``∇ Σ_k E_{x_k}[KL(p_θ(·|x_k) ‖ p̃(·|x_k))]`` with the states held fixed, p̃ ∝ p_ref · exp(Φ(x_{k+1})) —
the same at T = 1 or when Φ is the exact soft value at the optimum. A zero variance means a constant
log W on the support: p_θ = p*. ``kl_weight`` adds β · the per-step KL to the reference, as the
reference implementation does. The off-policy form on the E-step's particles is in
``dnadav.baselines.vmpo_particles``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch

from dnadav.baselines.policy_loop import fit_policy, masked_finetune
from dnadav.baselines.rollouts import PolicyGradientConfig, Rollouts, add_path_kl, path_log_probs, weighted_mean
from dnadav.core.protocol import ReverseProcess
from dnadav.core.trajectory import RewardFn

__all__ = ["VmpoConfig", "StepBaseline", "potentials", "log_weights", "vmpo_loss", "train", "finetune"]

Potential = Literal["value", "terminal"]
Granularity = Literal["step", "path"]


@dataclass
class VmpoConfig(PolicyGradientConfig):
    reward_temperature: float = 0.1  # α of the target p_ref · exp(r/α)
    potential: Potential = "value"  # Φ at intermediate states: the soft value r(x̂0)/α, or none
    discount: float = 1.0  # γ of the value potential (γ^(steps left))
    granularity: Granularity = "step"  # one log weight per step (baseline M_φ(k)), or per path
    baseline_lr: float = 1e-2  # Adam lr of M_φ

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.reward_temperature > 0 or not 0 < self.discount <= 1:
            raise ValueError(
                f"reward_temperature must be > 0 and discount in (0, 1]; got {self.reward_temperature}, {self.discount}"
            )
        if self.potential not in ("value", "terminal") or self.granularity not in ("step", "path"):
            raise ValueError(
                f"potential must be value|terminal and granularity step|path; got {self.potential!r}, {self.granularity!r}"
            )

    def oracle_calls_per_path(self) -> int:
        """The value potential scores every state x_0..x_{T−1} and the clean end: T + 1 calls."""
        return self.num_steps + 1 if self.potential == "value" else 1

    def reference_passes(self) -> int:
        return 1  # log p_ref of every transition (the KL term reuses the same prediction)


class StepBaseline(torch.nn.Module):
    """M_φ: one learned scalar per grid step ``[T]`` (granularity "step") or one for the path ``[1]``."""

    def __init__(self, num_steps: int, granularity: Granularity = "step"):
        super().__init__()
        self.table = torch.nn.Parameter(torch.zeros(num_steps if granularity == "step" else 1))

    def forward(self) -> torch.Tensor:
        return self.table


def potentials(rollouts: Rollouts, config: VmpoConfig) -> torch.Tensor:
    """Φ of every visited state ``[T+1, B]`` (nats): ``γ^(T−k) V(x_k) / α`` (value) or ``r/α`` at the
    end and 0 before (terminal)."""
    alpha, steps = config.reward_temperature, rollouts.num_steps
    if config.potential == "terminal":
        phi = torch.zeros(steps + 1, rollouts.batch_size, device=rollouts.rewards.device)
        return torch.cat([phi[:-1], (rollouts.rewards / alpha)[None]])
    if rollouts.values is None:
        raise ValueError("potential='value' needs rollouts sampled with values=True")
    left = torch.arange(steps, -1, -1, device=rollouts.values.device, dtype=rollouts.values.dtype)
    return config.discount ** left[:, None] * rollouts.values / alpha


def log_weights(
    process: ReverseProcess, rollouts: Rollouts, config: VmpoConfig, reference: Callable
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``log w_k`` of every transition ``[T, B]`` (differentiable in θ through ``−log p_θ``), and the
    model's and the reference's predictions ``[T·B, ...]``."""
    log_p, prediction = path_log_probs(process, rollouts)
    with torch.no_grad():
        log_ref, reference_prediction = path_log_probs(process, rollouts, reference)
    phi = potentials(rollouts, config).to(log_p)
    return phi[1:] - phi[:-1] + log_ref - log_p, prediction, reference_prediction


def vmpo_loss(
    process: ReverseProcess,
    rollouts: Rollouts,
    config: VmpoConfig,
    reference: Callable,
    baseline: StepBaseline | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """θ's half-squared deviation of the log weights from the (detached) baseline, plus M_φ's own
    regression on the (detached) log weights, plus β · the path KL; weighted over paths by
    ``rollouts.weights``. ``baseline=None``: the batch's weighted mean of each step's log w (no M_φ)."""
    log_w, prediction, reference_prediction = log_weights(process, rollouts, config, reference)
    if config.granularity == "path":
        log_w = log_w.sum(dim=0, keepdim=True)  # [1, B]
    weights = rollouts.weights
    if baseline is None:
        uniform = torch.full((log_w.shape[1],), 1.0 / log_w.shape[1], device=log_w.device)
        m = (log_w.detach() * (uniform if weights is None else weights.to(log_w))).sum(dim=1)
    else:
        m = baseline().to(log_w)
    policy = weighted_mean(0.5 * (log_w - m.detach()[:, None]).pow(2).sum(dim=0), weights)
    regression = weighted_mean(0.5 * (log_w.detach() - m[:, None]).pow(2).sum(dim=0), weights)
    loss = policy + regression
    parts = {"log_weight_variance": float(policy.detach()), "log_weight_mean": float(log_w.detach().mean())}
    parts["baseline_mean"] = float(m.detach().mean())
    loss = add_path_kl(loss, parts, config.kl_weight, process, rollouts, prediction, reference_prediction)
    parts["loss"] = float(loss.detach())
    return loss, parts


def train(
    process: ReverseProcess,
    reward_fn: RewardFn,
    config: VmpoConfig,
    reference: Callable,
    context: torch.Tensor | None = None,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
) -> list[dict[str, float]]:
    """VMPO on ``process.network`` in place (any reverse process; ``reference`` is the frozen p_ref
    of the target) with a learned ``StepBaseline`` -> history."""
    baseline = StepBaseline(config.num_steps, config.granularity).to(process.time_grid(1).device)
    groups = [{"params": list(baseline.parameters()), "lr": config.baseline_lr}]

    def loss_fn(rollouts: Rollouts, epoch: int):
        return vmpo_loss(process, rollouts, config, reference, baseline)

    values = config.potential == "value"
    return fit_policy(process, reward_fn, loss_fn, config, groups, values, context, on_step)


def finetune(
    prior: torch.nn.Module,
    reward_fn: RewardFn,
    length: int,
    config: VmpoConfig,
    schedule=None,
    device: torch.device | str = "cpu",
    on_step: Callable[[int, dict[str, float]], None] | None = None,
) -> tuple[torch.nn.Module, list[dict[str, float]]]:
    """VMPO on a copy of the DNA ``prior`` (frozen: p_ref of the target and the KL anchor) ->
    ``(model, history)``; the same call as ``dnadav.baselines.drakes.finetune``."""
    return masked_finetune(prior, train, reward_fn, length, config, schedule, device, on_step)
