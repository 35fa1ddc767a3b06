"""DAV over masked DNA: the core EM loop (``dnadav.core.em.DAVModule``) driving a ``MaskedDiffusion``
around the denoiser being aligned."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from dnadav.core.em import DAVModule
from dnadav.core.trajectory import RewardFn
from dnadav.dna.config import AlignConfig
from dnadav.dna.sampler import MaskedDiffusion, StepConstraint
from dnadav.dna.schedule import Schedule

__all__ = ["MaskedDAVModule"]


class MaskedDAVModule(DAVModule):
    """``DAVModule`` over ``MaskedDiffusion(model, config.length, schedule)``. ``constraint`` (a
    ``StepConstraint``) is enforced on every E-step path, so the M-step trains on constrained paths."""

    def __init__(
        self,
        model: torch.nn.Module,
        reward_fn: RewardFn,
        config: AlignConfig,
        schedule: Schedule | None = None,
        prior: torch.nn.Module | None = None,
        evaluate: Callable[[torch.nn.Module, torch.Generator], dict[str, float]] | None = None,
        frozen_modules: Sequence[torch.nn.Module] = (),
        constraint: StepConstraint | None = None,
        max_batch: int | str | None = "auto",
        select: Callable[[dict[str, float]], float | None] | None = None,
        pass_score: Callable[[torch.nn.Module, torch.Generator], float] | None = None,
    ):
        process = MaskedDiffusion(model, config.length, schedule, constraint=constraint, max_batch=max_batch)
        options = {"max_batch": max_batch, "select": select, "pass_score": pass_score}
        super().__init__(model, reward_fn, config, process, prior, evaluate, frozen_modules, **options)
        self.schedule = schedule
