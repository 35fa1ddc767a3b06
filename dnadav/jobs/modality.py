"""The jobs over any modality: sample, search (the E-step at test time) and align a ``ReverseProcess``
the caller built — what a new modality runs before it has jobs of its own (docs/architecture.md,
"adding a modality"; tests/test_toy_modality.py runs a third one through it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from dnadav.core.config import EMConfig
from dnadav.core.distill import DistillConfig
from dnadav.core.protocol import ReverseProcess, sample_process
from dnadav.core.search import SearchConfig, search_process
from dnadav.jobs.options import option

__all__ = ["ModalityOptions", "align_process", "sample"]


@dataclass
class ModalityOptions:
    """Sampling (``children`` = 0), the E-step (``children`` M > 0) and DAV over one process."""

    num: int = option(16, "samples to draw (per EM iteration when aligning)")
    steps: int = option(32, "reverse steps T")
    children: int = option(0, "M children per sample per step (0 = plain sampling)", metavar="M")
    temperature: float = option(0.1, "reward temperature α of the search")
    mode: str = option("per_sequence", "E-step variant", choices=["per_sequence", "smc"])
    seed: int = option(0, "random seed")
    iterations: int = option(1, "EM iterations")
    inner_epochs: int = option(1, "M-step passes per iteration")
    batch_size: int = option(128, "transitions per M-step batch")
    lr: float = option(1e-3, "learning rate of the M-step")
    kl_weight: float = option(0.0, "λ of DAV-KL (needs a reference network)")

    def search(self) -> SearchConfig:
        children = max(self.children, 1)
        return SearchConfig(num_children=children, reward_temperature=self.temperature, num_steps=self.steps, mode=self.mode)

    def em(self) -> EMConfig:
        return EMConfig(
            iterations=self.iterations,
            sequences_per_iteration=self.num,
            search=self.search(),
            distill=DistillConfig(kl_weight=self.kl_weight),
            inner_epochs=self.inner_epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            seed=self.seed,
        )


def sample(
    process: ReverseProcess, options: ModalityOptions, reward_fn: Callable | None = None, context: torch.Tensor | None = None
) -> torch.Tensor:
    """``options.num`` clean states ``[num, ...]``: plain ancestral samples, or with ``children`` > 0
    the E-step's choices under ``reward_fn``."""
    generator = torch.Generator(process.time_grid(1).device).manual_seed(options.seed)
    if options.children == 0:
        return sample_process(process, options.num, options.steps, generator, context)
    if reward_fn is None:
        raise ValueError("children > 0 runs the search, which needs a reward_fn")
    return search_process(process, reward_fn, options.num, options.search(), generator, context).sequences


def align_process(
    network: torch.nn.Module,
    process: ReverseProcess,
    reward_fn: Callable,
    options: ModalityOptions,
    out: str | Path,
    reference: torch.nn.Module | None = None,
    **fit_options: Any,
):
    """DAV over ``process`` (whose network is ``network``) into ``out``; returns the fitted
    ``DAVModule`` (its ``history`` holds one record per iteration). ``fit_options`` go to ``fit_em``."""
    from dnadav.core.em import DAVModule
    from dnadav.core.fit import fit_em

    module = DAVModule(network, reward_fn, options.em(), process, prior=reference)
    fit_em(module, out, **fit_options)
    return module
