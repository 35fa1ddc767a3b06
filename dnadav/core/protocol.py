"""The reverse-process protocol: what every modality implements so that plain sampling, the DAV
E-step (``dnadav.core.search``) and the M-step (``dnadav.core.distill``) can drive it.

A reverse process walks a batch of states from pure noise (grid index 0) to clean samples (grid
index T) on a time grid of its own. States are tensors with the batch first — masked DNA tokens
``[N, L]`` (``dnadav.dna.sampler.MaskedDiffusion``), image latents ``[N, C, H, W]``
(``dnadav.image``). ``context`` is ``None`` or a per-row conditioning tensor ``[N, ...]`` (e.g.
prompt embeddings) that follows its row into children and through resampling. A *prediction* is
whatever one batched network call returns for a batch of states (DNA: ``log x̂0 [N, L, 4]``;
images: the noise prediction); it is indexed by rows like a tensor.

There is one reverse step in the code base: ``ReverseProcess.propose``. ``sample_process`` below
calls it with one child per state; the E-step calls it with M children per state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch

from dnadav.core.modes import eval_mode

__all__ = ["Guidance", "Proposal", "ReverseProcess", "repeat_rows", "sample_process"]


@dataclass(frozen=True)
class Guidance:
    """Tilt the proposal q toward higher reward by the reward's gradient at x̂0, scaled by ``scale``."""

    reward_fn: Callable[[torch.Tensor], torch.Tensor]
    scale: float


@dataclass(frozen=True)
class Proposal:
    """``num_children`` children per state, rows ordered state-major (row ``i·M + j`` is child j of state i).

    ``log_p`` and ``log_q`` ``[N·M]`` are ``log p_θ(x_s | x_t)`` and ``log q(x_s | x_t)`` of each child
    under the model and the proposal; both are ``None`` when q = p (their difference is then 0).
    """

    children: torch.Tensor
    log_p: torch.Tensor | None = None
    log_q: torch.Tensor | None = None

    @property
    def log_ratio(self) -> torch.Tensor | None:
        """``log p − log q`` per child ``[N·M]``, or ``None`` when q = p."""
        if self.log_p is None or self.log_q is None:
            return None
        return self.log_p - self.log_q


class ReverseProcess(Protocol):
    """A modality's reverse (denoising) process around one network.

    Optional: ``clean_target_loss(prediction, x_t, t, s, clean_target) -> [N]``, the per-transition
    loss against a recorded clean estimate, which the paper's M-step (``objective="paper"``) needs.
    Optional: ``parent_lookahead = True`` where ``clean_estimate(parent's prediction, child)`` tells children
    apart (the masked process keeps each child's newly clean positions), which the E-step's
    ``lookahead="parent"`` needs."""

    network: Callable  # the model sampled and aligned (a torch module is put in eval mode by the drivers)

    def time_grid(self, num_steps: int) -> torch.Tensor:
        """``[T + 1]`` grid times from noise (index 0) to clean (index T), on the process's device."""
        ...

    def initial_state(self, num: int, generator: torch.Generator | None) -> torch.Tensor:
        """``num`` states at grid index 0 -> ``[num, ...]``."""
        ...

    def predict(
        self, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor | None, network: Callable | None = None
    ) -> torch.Tensor:
        """One batched call of ``network`` (default: ``self.network``) on states ``x [N, ...]`` at times
        ``t [N]`` -> prediction ``[N, ...]``. Differentiable when called with grad enabled."""
        ...

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
        """The reverse step ``x_t -> x_s`` (``s`` is the next grid time): ``num_children`` draws per state
        from q (the model's step, or its gradient-tilted version when ``guidance`` is given)."""
        ...

    def clean_estimate(
        self, prediction: torch.Tensor, x: torch.Tensor, num_samples: int | None, generator: torch.Generator | None
    ) -> torch.Tensor:
        """The reward's input for the model's predicted clean sample x̂0 at states ``x [N, ...]``:
        the plug-in estimate ``[N, ...]`` when ``num_samples`` is None, else ``num_samples`` draws
        ``[K·N, ...]`` (draw-major)."""
        ...

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        """The reward's input for clean states ``x [N, ...]`` (grid index T)."""
        ...

    def transition_log_prob(
        self, prediction: torch.Tensor, x_t: torch.Tensor, x_s: torch.Tensor, t: torch.Tensor, s: torch.Tensor
    ) -> torch.Tensor:
        """``log p_θ(x_s | x_t)`` per row ``[N]`` up to terms that do not depend on ``prediction``
        (differentiable in it): what the M-step maximises."""
        ...

    def divergence(
        self, prediction: torch.Tensor, reference: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor, s: torch.Tensor
    ) -> torch.Tensor:
        """``KL(p_θ(·|x_t) ‖ p_ref(·|x_t))`` of one reverse step per row ``[N]`` (nats), from the two
        networks' predictions at the same states: DAV-KL's anchor to the reference model."""
        ...

    def sample_loss(
        self, network: Callable, x0: torch.Tensor, context: torch.Tensor | None, generator: torch.Generator | None
    ) -> torch.Tensor:
        """The model's training loss (an upper bound on ``-log p_θ(x0)`` or a weighted denoising loss)
        on clean samples ``x0 [N, ...]`` -> ``[N]``."""
        ...


def repeat_rows(context: torch.Tensor | None, times: int) -> torch.Tensor | None:
    """Each row repeated ``times`` times in place (row-major, like ``Proposal.children``); None stays None."""
    return None if context is None or times == 1 else context.repeat_interleave(times, dim=0)


@torch.no_grad()
def sample_process(
    process: ReverseProcess,
    num: int,
    num_steps: int,
    generator: torch.Generator | None = None,
    context: torch.Tensor | None = None,
    on_step: Callable[[int], None] | None = None,
    path: list[torch.Tensor] | None = None,
) -> torch.Tensor:
    """Ancestral sampling: ``num`` states from grid index 0 to clean -> ``[num, ...]``.

    All rows advance together (one network call per step). ``on_step(k)`` is called after step k.
    ``path``: when given, every state from grid index 0 to clean is appended to it (T + 1 tensors).
    """
    with eval_mode(process.network):
        times = process.time_grid(num_steps).tolist()
        x = process.initial_state(num, generator)
        if path is not None:
            path.append(x)
        for k, (t, s) in enumerate(zip(times[:-1], times[1:])):
            prediction = process.predict(x, torch.full((x.shape[0],), t, device=x.device), context)
            x = process.propose(prediction, x, t, s, 1, generator).children
            if path is not None:
                path.append(x)
            if on_step is not None:
                on_step(k)
    return x
