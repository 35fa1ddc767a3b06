"""The reverse (denoising) process of masked diffusion over A/C/G/T: ``MaskedDiffusion``, the DNA
implementation of ``dnadav.core.protocol.ReverseProcess``, shared by plain sampling, the DAV E-step and
the M-step's transition likelihood.

For a position masked at time t, stepping to s < t: stay masked with probability
``(1 - alpha_s) / (1 - alpha_t)``, else unmask to base v with ``(alpha_s - alpha_t) / (1 - alpha_t) · x̂0_v``.
Unmasked positions never change. Shapes: tokens ``[B, L]``; ``alpha_t``, ``alpha_s`` ``[B]``;
``x0_log_probs`` ``[B, L, 4]`` (from ``dnadav.dna.masked.x0_log_probs``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import torch

from dnadav.core.batching import chunked_call, resolve_max_batch
from dnadav.core.gumbel import gumbel_argmax
from dnadav.core.protocol import Guidance, Proposal, sample_process
from dnadav.dna.masked import LOG_ZERO, Denoiser, nelbo, stratified_times, x0_log_probs
from dnadav.dna.schedule import LogLinearSchedule, Schedule
from dnadav.dna.tokens import MASK_INDEX, NUM_BASES, tokens_to_onehot

__all__ = [
    "time_grid",
    "kept_log_probs",
    "unmask_log_probs",
    "reverse_log_probs",
    "transition_log_prob",
    "StepConstraint",
    "MaskedDiffusion",
    "sample",
]


def time_grid(num_steps: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """``num_steps + 1`` times from 1 down to 0 (uniform). The last step lands on t = 0, where
    ``alpha = 1``, so every position still masked is unmasked (the final denoise)."""
    if num_steps < 1:
        raise ValueError(f"num_steps must be ≥ 1; got {num_steps}")
    return torch.linspace(1.0, 0.0, num_steps + 1, device=device)


def kept_log_probs(x: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Every token stays what it is (MASK included): log one-hot of ``x [B, L]`` over the 5 tokens -> ``[B, L, 5]``
    (0 at ``x``, ``LOG_ZERO`` elsewhere)."""
    kept = torch.nn.functional.one_hot(x, NUM_BASES + 1).bool()
    return torch.where(
        kept, torch.zeros((), dtype=dtype, device=x.device), torch.full((), LOG_ZERO, dtype=dtype, device=x.device)
    )


def unmask_log_probs(log_x0: torch.Tensor) -> torch.Tensor:
    """A masked position unmasked now: its base drawn from ``log_x0 [B, L, 4]``, MASK impossible -> ``[B, L, 5]``."""
    return torch.cat([log_x0, torch.full_like(log_x0[..., :1], LOG_ZERO)], dim=-1)


def reverse_log_probs(log_x0: torch.Tensor, x_t: torch.Tensor, alpha_t: torch.Tensor, alpha_s: torch.Tensor) -> torch.Tensor:
    """``log p(x_s | x_t)`` per position over the 5 tokens (A, C, G, T, MASK) -> ``[B, L, 5]``."""
    stay = ((1.0 - alpha_s) / (1.0 - alpha_t)).clamp(0.0, 1.0)[:, None, None]
    log_unmask = torch.log((1.0 - stay).clamp_min(1e-30)) + log_x0
    log_stay = torch.log(stay.clamp_min(1e-30)).expand(*log_x0.shape[:2], 1)
    log_stay = torch.where(stay > 0, log_stay, torch.full_like(log_stay, LOG_ZERO))
    masked_row = torch.cat([log_unmask, log_stay], dim=-1)
    return torch.where((x_t == MASK_INDEX)[..., None], masked_row, kept_log_probs(x_t, masked_row.dtype))


def transition_log_prob(
    log_x0: torch.Tensor, x_t: torch.Tensor, x_s: torch.Tensor, alpha_t: torch.Tensor, alpha_s: torch.Tensor
) -> torch.Tensor:
    """``log p(x_s | x_t)`` summed over positions -> ``[B]`` (differentiable in ``log_x0``)."""
    per_position = reverse_log_probs(log_x0, x_t, alpha_t, alpha_s).gather(-1, x_s[..., None]).squeeze(-1)
    return per_position.sum(dim=-1)


def _children_log_prob(rows: torch.Tensor, children: torch.Tensor) -> torch.Tensor:
    """``Σ_i log rows[n, i, children[n·M + j, i]]`` for ``rows [N, L, 5]``, ``children [N·M, L]`` -> ``[N·M]``."""
    n, length, vocab = rows.shape
    grouped = children.view(n, -1, length)
    picked = rows[:, None].expand(n, grouped.shape[1], length, vocab).gather(-1, grouped[..., None]).squeeze(-1)
    return picked.sum(dim=-1).reshape(-1)


class StepConstraint(Protocol):
    """Hard sequence constraints enforced during sampling (``dnadav.constraints``)."""

    def initial_state(self, num: int, length: int) -> torch.Tensor:
        """All-MASK tokens ``[num, L]`` with the fixed positions filled in."""
        ...

    def sample_step(
        self, step_log_probs: torch.Tensor, x_t: torch.Tensor, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One draw per row from the product distribution ``step_log_probs [N, L, 5]`` conditioned on
        the result staying completable to an allowed sequence -> ``(x_s [N, L], log_prob [N])``."""
        ...


class MaskedDiffusion:
    """Masked (absorbing-state) diffusion over A/C/G/T around one denoiser, as a ``ReverseProcess``.

    States are tokens ``[N, L]`` (MASK = 4); a prediction is ``log x̂0 [N, L, 4]`` (subs
    parameterisation); the grid runs from t = 1 (all MASK) to t = 0; ``context`` is unused (None).
    With a ``constraint``, sampling starts from its fixed positions and every step is drawn from
    the model's step restricted to completable states (q = p: the constrained step is the model).
    ``max_batch`` rows go through the network per call (``dnadav.core.batching``; "auto" = the device's
    measured default; results do not depend on it).
    """

    parent_lookahead = True  # clean_estimate keeps a child's own bases, so a parent's x̂0 values its children

    def __init__(
        self,
        network: Denoiser,
        length: int,
        schedule: Schedule | None = None,
        device: torch.device | str | None = None,
        constraint: StepConstraint | None = None,
        max_batch: int | str | None = "auto",
    ):
        self.network = network
        self.length = length
        self.schedule = schedule or LogLinearSchedule()
        self._device = None if device is None else torch.device(device)
        self.constraint = constraint
        self.max_batch = max_batch

    @property
    def device(self) -> torch.device:
        """The device given at construction, else the network's (it follows the module when moved)."""
        if self._device is not None:
            return self._device
        parameter = next(self.network.parameters(), None) if isinstance(self.network, torch.nn.Module) else None
        return parameter.device if parameter is not None else torch.device("cpu")

    def time_grid(self, num_steps: int) -> torch.Tensor:
        return time_grid(num_steps, self.device)

    def initial_state(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.constraint is not None:
            return self.constraint.initial_state(num, self.length).to(self.device)
        return torch.full((num, self.length), MASK_INDEX, dtype=torch.long, device=self.device)

    def predict(
        self, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor | None = None, network: Callable | None = None
    ) -> torch.Tensor:
        network = network or self.network
        logits = chunked_call(network, x, t, max_batch=resolve_max_batch(self.max_batch, x.device))
        return x0_log_probs(logits, x)

    def step_log_probs(self, prediction: torch.Tensor, x: torch.Tensor, t: float, s: float) -> torch.Tensor:
        """The model's step ``log p(x_s | x_t)`` per position ``[N, L, 5]``."""
        batch = x.shape[0]
        alpha_t = self.schedule.alpha(torch.full((batch,), float(t), device=x.device))
        alpha_s = self.schedule.alpha(torch.full((batch,), float(s), device=x.device))
        return reverse_log_probs(prediction, x, alpha_t, alpha_s)

    def propose(
        self,
        prediction: torch.Tensor,
        x: torch.Tensor,
        t: float,
        s: float,
        num_children: int,
        generator: torch.Generator | None,
        guidance: Guidance | None = None,
    ) -> Proposal:
        log_p_rows = self.step_log_probs(prediction, x, t, s)
        if self.constraint is not None:
            if guidance is not None:
                raise ValueError("a gradient-guided proposal cannot be combined with hard constraints")
            children, _ = self.constraint.sample_step(
                log_p_rows.repeat_interleave(num_children, dim=0), x.repeat_interleave(num_children, dim=0), generator
            )
            return Proposal(children)
        log_q_rows = log_p_rows
        if guidance is not None:
            log_q_rows = self.step_log_probs(_gradient_tilted(prediction, x, guidance), x, t, s)
        batch, length, vocab = log_q_rows.shape
        children = gumbel_argmax(log_q_rows[:, None], generator, shape=(batch, num_children, length, vocab))
        children = children.view(batch * num_children, length)
        if guidance is None:
            return Proposal(children)
        return Proposal(children, _children_log_prob(log_p_rows, children), _children_log_prob(log_q_rows, children))

    def clean_estimate(
        self, prediction: torch.Tensor, x: torch.Tensor, num_samples: int | None, generator: torch.Generator | None
    ) -> torch.Tensor:
        masked = x == MASK_INDEX
        if num_samples is None:
            return tokens_to_onehot(torch.where(masked, prediction.argmax(dim=-1), x))
        draws = gumbel_argmax(prediction[None], generator, shape=(num_samples, *prediction.shape))
        draws = torch.where(masked[None], draws, x[None])  # [K, N, L]
        return tokens_to_onehot(draws.flatten(0, 1))

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        return tokens_to_onehot(x)

    def transition_log_prob(
        self, prediction: torch.Tensor, x_t: torch.Tensor, x_s: torch.Tensor, t: torch.Tensor, s: torch.Tensor
    ) -> torch.Tensor:
        """``Σ_{i: x_t[i] = MASK, x_s[i] ≠ MASK} log x̂0[i, x_s[i]]`` -> ``[N]``: the θ-dependent part of
        ``log p_θ(x_s | x_t)`` (the schedule's stay/unmask factors are constants)."""
        newly_unmasked = (x_t == MASK_INDEX) & (x_s != MASK_INDEX)
        picked = prediction.gather(-1, x_s.clamp(max=NUM_BASES - 1)[..., None]).squeeze(-1)
        return (picked * newly_unmasked).sum(dim=-1)

    def divergence(
        self, prediction: torch.Tensor, reference: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor, s: torch.Tensor
    ) -> torch.Tensor:
        """Exact ``KL(p_θ(x_s | x_t) ‖ p_ref(x_s | x_t))`` of one reverse step ``t -> s`` -> ``[N]`` nats.

        Both steps keep a masked position masked with the same probability, so the KL is the
        unmasking probability ``(α_s − α_t) / (1 − α_t)`` times ``Σ_{masked i} KL(x̂0_θ,i ‖ x̂0_ref,i)``.
        """
        per_position = (prediction.exp() * (prediction - reference)).sum(dim=-1)
        predictive = (per_position * (x_t == MASK_INDEX)).sum(dim=-1)
        alpha_t, alpha_s = self.schedule.alpha(t), self.schedule.alpha(s)
        unmask = ((alpha_s - alpha_t) / (1.0 - alpha_t)).clamp(0.0, 1.0)
        return unmask * predictive

    def clean_target_loss(
        self, prediction: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor, s: torch.Tensor, clean_target: torch.Tensor
    ) -> torch.Tensor:
        """The DAV paper's M-step term per transition ``[N]`` (nats): ``(α_s − α_t)/α_t`` times
        ``Σ_{i: x_t[i] = MASK} −log x̂0_θ(x_t)[i, argmax clean_target_i]``, with ``prediction [N, L, 4]``
        (log x̂0 at x_t) and ``clean_target [N, 4, L]`` the recorded one-hot x̂0 at the chosen child."""
        target = clean_target.argmax(dim=1)  # [N, L]
        picked = prediction.gather(-1, target[..., None]).squeeze(-1)
        alpha_t, alpha_s = self.schedule.alpha(t), self.schedule.alpha(s)
        weight = (alpha_s - alpha_t) / alpha_t.clamp_min(1e-8)
        return -weight * (picked * (x_t == MASK_INDEX)).sum(dim=-1)

    def sample_loss(
        self, network: Callable, x0: torch.Tensor, context: torch.Tensor | None, generator: torch.Generator | None
    ) -> torch.Tensor:
        """Single-sample NELBO per sequence at stratified times (nats)."""
        t = stratified_times(len(x0), generator, device=x0.device)
        return nelbo(network, x0, self.schedule, t, generator)


def _gradient_tilted(log_x0: torch.Tensor, x_t: torch.Tensor, guidance: Guidance) -> torch.Tensor:
    """Proposal x̂0: ``log_softmax(log x̂0 + scale · ∂r/∂x̂0)`` at masked positions (classifier guidance)."""
    with torch.enable_grad():
        probs = log_x0.exp().detach().requires_grad_(True)
        gradient = torch.autograd.grad(guidance.reward_fn(probs.transpose(1, 2)).sum(), probs)[0]
    tilted = torch.log_softmax(log_x0 + guidance.scale * gradient, dim=-1)
    return torch.where((x_t == MASK_INDEX)[..., None], tilted, log_x0)


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
    constraint: StepConstraint | None = None,
    max_batch: int | str | None = "auto",
) -> torch.Tensor:
    """Ancestral sampling from all-MASK to clean sequences -> ``tokens [num_sequences, length]``.

    All sequences advance together (one batched denoiser call per step, ``max_batch`` rows at a
    time). Sets eval mode for the call and restores the module's previous mode. ``on_step(k)`` is
    called after step k (progress bars). With a ``constraint``, every draw honours it.
    """
    process = MaskedDiffusion(denoiser, length, schedule, device, constraint, max_batch)
    return sample_process(process, num_sequences, num_steps, generator, on_step=on_step)
