"""The DAV E-step over masked DNA: ``search`` runs ``dnadav.core.search.search_process`` on a
``MaskedDiffusion`` around a denoiser (tokens ``[N, L]``, reward on one-hot ``[N, 4, L]``)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from dnadav.core.search import SearchConfig, SearchResult, search_process
from dnadav.core.trajectory import RewardFn
from dnadav.dna.masked import Denoiser
from dnadav.dna.sampler import MaskedDiffusion, StepConstraint
from dnadav.dna.schedule import Schedule

__all__ = ["search"]


def search(
    denoiser: Denoiser,
    reward_fn: RewardFn,
    num_sequences: int,
    length: int,
    config: SearchConfig | None = None,
    schedule: Schedule | None = None,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    on_step: Callable[[int], None] | None = None,
    constraint: StepConstraint | None = None,
    max_batch: int | str | None = "auto",
) -> SearchResult:
    """The E-step over masked DNA: ``num_sequences`` sequences of ``length`` from all-MASK (or from a
    constraint's fixed positions). ``reward_fn`` takes one-hot ``[N, 4, L]``. ``max_batch`` rows per
    network and oracle call. See ``search_process``."""
    process = MaskedDiffusion(denoiser, length, schedule, device, constraint, max_batch)
    return search_process(process, reward_fn, num_sequences, config, generator, on_step=on_step, max_batch=max_batch)
