"""DAV's M-step: forward-KL distillation of the E-step's trajectories into the model, written once
against ``dnadav.core.protocol.ReverseProcess``.

Minimising ``KL(η ‖ p_θ)`` over the E-step's path distribution η = maximising the likelihood of the
transitions it actually took (``objective="transitions"``): ``process.transition_log_prob``, which
for masked DNA is the cross-entropy of x̂0_θ at the newly unmasked positions and for a Gaussian step
the log-density of the chosen next state. ``objective="nelbo"`` instead fits the model's own
training loss (``process.sample_loss``) on the final E-step samples. ``objective="paper"`` is the
DAV paper's recipe: the process's ``clean_target_loss`` against the x̂0 of the chosen child (recorded
by the search with ``record_clean=True``; for masked DNA the cross-entropy at every position still
masked in x_t against its argmax, weighted by ``(α_s − α_t)/α_t``), with the first ``skip_steps`` of
the grid's steps left out (a count, or a fraction of T when < 1). ``objective="children"`` is the
Rao-Blackwellised form of ``"transitions"``: at each visited state it fits *all* M children the
search proposed, each weighted by its normalised selection weight w̄_j (recorded by the search with
``record_children=True``): ``−Σ_j w̄_j log p_θ(c_j | x_t)``. Its expectation given the children is the
transition NLL of the kept child, so it fits the same target with less variance: where the search had
no choice (equal weights) it is the model's own step averaged over M draws, and the information the
search added sits where its weights were uneven (docs/concepts.md, "The M-step").

DAV-KL adds ``λ · process.divergence(p_θ, p_ref)`` at the visited states, an anchor to the frozen
reference model (the prior).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Literal

import torch

from dnadav.core.protocol import ReverseProcess
from dnadav.core.trajectory import Trajectory

__all__ = [
    "DistillConfig",
    "TransitionBatch",
    "transition_pairs",
    "transition_batch",
    "distill_loss",
    "paper_loss",
    "paper_kept_steps",
    "children_nll",
    "step_weighted",
]

Objective = Literal["transitions", "nelbo", "paper", "children"]
StepWeighting = Literal["likelihood", "variance"]


@dataclass
class DistillConfig:
    objective: Objective = "transitions"
    kl_weight: float = 0.0  # λ of DAV-KL (0 = plain DAV)
    skip_steps: float = 0.0  # objective="paper": leading grid steps left out (count, or fraction of T if < 1)
    # "likelihood": each transition's NLL as it is; "variance": times the step's variance σ² (Gaussian
    # processes: the NLL ‖x_s − μ_θ‖²/2σ² becomes ‖x_s − μ_θ‖²/2, so no step outweighs the others by 1/σ²)
    step_weighting: StepWeighting = "likelihood"

    def __post_init__(self) -> None:
        if self.objective not in ("transitions", "nelbo", "paper", "children"):
            raise ValueError(f"objective must be transitions, nelbo, paper or children; got {self.objective!r}")
        if not self.skip_steps >= 0:
            raise ValueError(f"skip_steps must be ≥ 0; got {self.skip_steps}")
        if self.step_weighting not in ("likelihood", "variance"):
            raise ValueError(f"step_weighting must be likelihood or variance; got {self.step_weighting!r}")
        if self.step_weighting == "variance" and self.objective not in ("transitions", "children"):
            raise ValueError("step_weighting='variance' weighs transition NLLs: use objective transitions or children")
        if not self.kl_weight >= 0:
            raise ValueError(f"kl_weight must be ≥ 0; got {self.kl_weight}")

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TransitionBatch:
    """Transitions ``x_t -> x_s`` taken by the E-step: states ``[N, ...]``, grid times ``t``, ``s`` ``[N]``."""

    x_t: torch.Tensor
    x_s: torch.Tensor
    t: torch.Tensor
    x0: torch.Tensor  # the clean end of each transition's path
    s: torch.Tensor | None = None
    context: torch.Tensor | None = None
    step: torch.Tensor | None = None  # [N] grid index of t
    clean_target: torch.Tensor | None = None  # [N, ...] recorded plug-in x̂0 at x_s (objective="paper")
    num_steps: int | None = None  # T of the trajectory
    children: torch.Tensor | None = None  # [N, M, ...] every child proposed at x_t (objective="children")
    child_log_weights: torch.Tensor | None = None  # [N, M] their log selection weights (unnormalised)


def transition_pairs(trajectory: Trajectory) -> torch.Tensor:
    """All (step, sequence) index pairs of a trajectory -> ``[T·B, 2]`` int64."""
    steps, batch = trajectory.num_steps, trajectory.states.shape[1]
    grid = torch.stack(torch.meshgrid(torch.arange(steps), torch.arange(batch), indexing="ij"), dim=-1)
    return grid.reshape(-1, 2)


def transition_batch(trajectory: Trajectory, pairs: torch.Tensor, reward_temperature: float | None = None) -> TransitionBatch:
    """Gather the transitions named by ``pairs [N, 2]`` (step, sequence); with a trajectory that holds
    its children, also each step's children and their log selection weights at ``reward_temperature``
    (the α the search ran at)."""
    step, sequence = pairs[:, 0], pairs[:, 1]
    children = log_weights = None
    if trajectory.children is not None and reward_temperature is not None:
        children = trajectory.children[step, sequence]
        log_weights = trajectory.selection_log_weights(reward_temperature)[step, sequence]
    states = trajectory.states
    times = trajectory.times.to(states.device)
    return TransitionBatch(
        x_t=states[step, sequence],
        x_s=states[step + 1, sequence],
        t=times[step],
        x0=states[-1, sequence],
        s=times[step + 1],
        context=None if trajectory.context is None else trajectory.context[sequence],
        step=step,
        clean_target=None if trajectory.clean is None else trajectory.clean[step, sequence],
        num_steps=trajectory.num_steps,
        children=children,
        child_log_weights=log_weights,
    )


def paper_kept_steps(config: DistillConfig, batch: TransitionBatch) -> torch.Tensor:
    """``[N]`` bool: the transitions the paper's M-step keeps (all but the first ``skip_steps`` grid steps)."""
    if batch.step is None or batch.num_steps is None:
        raise ValueError("objective='paper' needs transitions gathered by transition_batch")
    skip = config.skip_steps * batch.num_steps if config.skip_steps < 1 else config.skip_steps
    return batch.step >= round(skip)


def paper_loss(process, prediction: torch.Tensor, batch: TransitionBatch, config: DistillConfig) -> torch.Tensor:
    """The paper's M-step per transition ``[N]``: the process's ``clean_target_loss`` (for masked DNA
    ``(α_s − α_t)/α_t · Σ_{i masked in x_t} −log x̂0_θ(x_t)[i, argmax x̂0(x_s)_i]``), zero on skipped steps."""
    if batch.clean_target is None:
        raise ValueError("objective='paper' needs the search to record x̂0 (SearchConfig(record_clean=True))")
    if not hasattr(process, "clean_target_loss"):
        raise ValueError(f"objective='paper' needs a process with clean_target_loss; {type(process).__name__} has none")
    loss = process.clean_target_loss(prediction, batch.x_t, batch.t, batch.s, batch.clean_target)
    return torch.where(paper_kept_steps(config, batch), loss, torch.zeros_like(loss))


def children_nll(process, prediction: torch.Tensor, batch: TransitionBatch) -> torch.Tensor:
    """``−Σ_j w̄_j log p_θ(c_j | x_t)`` per transition ``[N]``: the M children ``batch.children
    [N, M, ...]`` under the one prediction at ``x_t``, weighted by ``softmax(child_log_weights)``."""
    if batch.children is None or batch.child_log_weights is None:
        raise ValueError("objective='children' needs the search to record its children (SearchConfig(record_children=True))")
    n, m = batch.child_log_weights.shape
    rows = lambda x: x.repeat_interleave(m, dim=0)  # noqa: E731  row i·M + j: child j of transition i
    log_p = process.transition_log_prob(
        rows(prediction), rows(batch.x_t), batch.children.reshape(n * m, *batch.children.shape[2:]), rows(batch.t), rows(batch.s)
    ).view(n, m)
    weights = torch.softmax(batch.child_log_weights.float(), dim=1)
    return -(weights * log_p).sum(dim=1)


def step_weighted(process, per_transition: torch.Tensor, batch: TransitionBatch, config: DistillConfig) -> torch.Tensor:
    """``per_transition [N]`` times the step variance σ²(t, s) when ``config.step_weighting`` is
    "variance" (the process must define ``step_variance``); unchanged otherwise."""
    if config.step_weighting == "likelihood":
        return per_transition
    if not hasattr(process, "step_variance"):
        raise ValueError(f"step_weighting='variance' needs a Gaussian process; {type(process).__name__} has no step variance")
    return per_transition * process.step_variance(batch.t, batch.s).to(per_transition)


def distill_loss(
    process: ReverseProcess,
    batch: TransitionBatch,
    config: DistillConfig,
    reference: Callable | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Scalar M-step loss for ``process.network`` (mean over the batch, nats per path step) and its
    logged parts. ``reference`` is the frozen reference network of DAV-KL (needed when λ > 0)."""
    parts: dict[str, torch.Tensor] = {}
    prediction = None
    if config.objective == "transitions":
        prediction = process.predict(batch.x_t, batch.t, batch.context)
        nll = -process.transition_log_prob(prediction, batch.x_t, batch.x_s, batch.t, batch.s)
        parts["transition_nll"] = step_weighted(process, nll, batch, config).mean()
        loss = parts["transition_nll"]
    elif config.objective == "children":
        prediction = process.predict(batch.x_t, batch.t, batch.context)
        parts["children_nll"] = step_weighted(process, children_nll(process, prediction, batch), batch, config).mean()
        loss = parts["children_nll"]
    elif config.objective == "paper":
        prediction = process.predict(batch.x_t, batch.t, batch.context)
        parts["paper_x0_ce"] = paper_loss(process, prediction, batch, config).mean()
        loss = parts["paper_x0_ce"]
    else:
        parts["nelbo"] = process.sample_loss(process.network, batch.x0, batch.context, generator).mean()
        loss = parts["nelbo"]
    if config.kl_weight > 0:
        if reference is None:
            raise ValueError("kl_weight > 0 needs the frozen reference model")
        if prediction is None:
            prediction = process.predict(batch.x_t, batch.t, batch.context)
        with torch.no_grad():
            reference_prediction = process.predict(batch.x_t, batch.t, batch.context, network=reference)
        parts["prior_kl"] = process.divergence(prediction, reference_prediction, batch.x_t, batch.t, batch.s).mean()
        loss = loss + config.kl_weight * parts["prior_kl"]
    return loss, parts
