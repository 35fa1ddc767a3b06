"""VMPO off-policy on the E-step's weighted particles: an M-step alternative to DAV's forward-KL
distillation (``dnadav.core.distill``), offered for comparison only (not DAV's default).

The variance objective needs no on-policy samples: any sampling law with full support has the same
minimiser. The per-sequence search (``dnadav.core.search`` with ``record_children=True``) leaves at
each visited state x_t of its chosen paths M children ``c_j`` drawn from the E-step's proposal, with
their discounted values and selection weights ``w̄_j = softmax_j(γ^n V(c_j)/α + log p/q)``. At each such
state, with ``Φ(c) = γ^n V(c)/α`` and ``u_j`` the children's weights (``"selection"``: w̄_j, the
E-step's tilted law; ``"uniform"``: 1/M, the proposal's own law):

    log w_j = Φ(c_j) + log p_ref(c_j | x_t) − log p_θ(c_j | x_t)
    L(θ) = mean over visited states of ½ Σ_j u_j (log w_j − Σ_i u_i log w_i)²

the u-weighted variance of the log weights among siblings. The parent's potential Φ(x_t) is the
same for all siblings, so it cancels against their mean (the exact per-state E[log w], no learned
M_φ needed). Zero loss at every state means ``p_θ(c | x_t) ∝ p_ref(c | x_t) exp(Φ(c))`` on the
children: the per-step tilted transition of the prior, with no compounding of the model's own law
across EM iterations. Compare ``objective="children"`` (``−Σ_j w̄_j log p_θ(c_j | x_t)``): its gradient
is ``−Σ_j w̄_j ∇log p_θ(c_j)``, this one's ``−Σ_j u_j (log w_j − mean) ∇log p_θ(c_j)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch

from dnadav.core.protocol import ReverseProcess
from dnadav.core.trajectory import Trajectory

__all__ = ["ParticleConfig", "ParticleBatch", "particle_batch", "particle_loss", "particle_m_step"]

ChildWeighting = Literal["selection", "uniform"]


@dataclass
class ParticleConfig:
    reward_temperature: float = 0.1  # α the search ran at (its selection weights and Φ = γ^n V / α)
    weighting: ChildWeighting = "selection"  # u_j: the search's selection weights, or 1/M
    kl_weight: float = 0.0  # β of the per-step KL to the reference at the visited states

    def __post_init__(self) -> None:
        if not self.reward_temperature > 0 or not self.kl_weight >= 0:
            raise ValueError("reward_temperature must be > 0 and kl_weight ≥ 0")
        if self.weighting not in ("selection", "uniform"):
            raise ValueError(f"weighting must be selection or uniform; got {self.weighting!r}")


@dataclass(frozen=True)
class ParticleBatch:
    """N visited states ``x_t [N, ...]`` at grid times ``t``, ``s [N]``, their children
    ``[N, M, ...]``, potentials ``phi [N, M]`` (Φ = γ^n V/α), weights ``u [N, M]`` (rows sum to 1)."""

    x_t: torch.Tensor
    t: torch.Tensor
    s: torch.Tensor
    children: torch.Tensor
    phi: torch.Tensor
    u: torch.Tensor
    context: torch.Tensor | None = None


def particle_batch(trajectory: Trajectory, pairs: torch.Tensor, config: ParticleConfig) -> ParticleBatch:
    """Gather the visited states named by ``pairs [N, 2]`` (step, sequence) with their recorded children."""
    if trajectory.children is None or trajectory.child_potential is None:
        raise ValueError("the off-policy VMPO loss needs the search's children: SearchConfig(record_children=True)")
    step, sequence = pairs[:, 0], pairs[:, 1]
    alpha = config.reward_temperature
    phi = trajectory.child_potential[step, sequence] / alpha
    if config.weighting == "selection":
        u = torch.softmax(trajectory.selection_log_weights(alpha)[step, sequence].float(), dim=1)
    else:
        u = torch.full_like(phi, 1.0 / phi.shape[1])
    times = trajectory.times.to(trajectory.states.device)
    context = None if trajectory.context is None else trajectory.context[sequence]
    x_t = trajectory.states[step, sequence]
    return ParticleBatch(x_t, times[step], times[step + 1], trajectory.children[step, sequence], phi, u, context)


def _children_log_prob(process: ReverseProcess, prediction: torch.Tensor, batch: ParticleBatch) -> torch.Tensor:
    """``log p(c_j | x_t)`` of every child under one prediction per state -> ``[N, M]``."""
    n, m = batch.u.shape
    rows = lambda x: x.repeat_interleave(m, dim=0)  # noqa: E731  row i·M + j: child j of state i
    children = batch.children.reshape(n * m, *batch.children.shape[2:])
    return process.transition_log_prob(rows(prediction), rows(batch.x_t), children, rows(batch.t), rows(batch.s)).view(n, m)


def particle_loss(
    process: ReverseProcess, batch: ParticleBatch, config: ParticleConfig, reference: Callable
) -> tuple[torch.Tensor, dict[str, float]]:
    """The siblings' u-weighted half variance of ``log w`` (module docstring), mean over states, plus
    β · the step KL to ``reference`` at the states; and its logged parts."""
    prediction = process.predict(batch.x_t, batch.t, batch.context)
    with torch.no_grad():
        reference_prediction = process.predict(batch.x_t, batch.t, batch.context, reference)
        log_ref = _children_log_prob(process, reference_prediction, batch)
    log_w = batch.phi.to(log_ref) + log_ref - _children_log_prob(process, prediction, batch)
    u = batch.u.to(log_w)
    mean = (u * log_w).sum(dim=1, keepdim=True).detach()
    variance = (0.5 * u * (log_w - mean).pow(2)).sum(dim=1).mean()
    loss, parts = variance, {"log_weight_variance": float(variance.detach())}
    if config.kl_weight > 0:
        kl = process.divergence(prediction, reference_prediction, batch.x_t, batch.t, batch.s).mean()
        parts["prior_kl"] = float(kl.detach())
        loss = loss + config.kl_weight * kl
    parts["loss"] = float(loss.detach())
    return loss, parts


def particle_m_step(
    process: ReverseProcess,
    trajectory: Trajectory,
    config: ParticleConfig,
    reference: Callable,
    epochs: int = 1,
    batch_size: int = 256,
    lr: float = 1e-3,
    generator: torch.Generator | None = None,
) -> list[dict[str, float]]:
    """One M-step of off-policy VMPO on ``process.network`` in place: ``epochs`` passes over the
    trajectory's (step, sequence) pairs in shuffled minibatches of ``batch_size`` -> loss parts per
    minibatch. A stand-alone driver for comparisons with the forward-KL M-step."""
    steps, sequences = trajectory.num_steps, trajectory.states.shape[1]
    pairs = torch.stack(torch.meshgrid(torch.arange(steps), torch.arange(sequences), indexing="ij"), -1).reshape(-1, 2)
    parameters = [p for p in process.network.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(parameters, lr=lr)
    history = []
    for _ in range(epochs):
        order = pairs[torch.randperm(len(pairs), generator=generator)]
        for first in range(0, len(order), batch_size):
            with torch.enable_grad():
                loss, parts = particle_loss(
                    process, particle_batch(trajectory, order[first : first + batch_size], config), config, reference
                )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
            optimizer.step()
            history.append(parts)
    return history
