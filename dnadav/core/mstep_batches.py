"""One M-step's plan: the batches of transitions it fits, who judges its passes, and its tail average.

Three ways to fit an E-step's transitions (``EMConfig``): ``inner_epochs`` passes in one shuffled order
(nobody judges a pass); passes judged on held-out sequences of the same E-step (``holdout_fraction`` > 0,
``fit_control.HeldOutStopper``); or passes judged on naturalness (``mstep_min_naturalness``,
``pass_guard.PassGuard``). With ``mstep_average`` > 0 the weights each block of steps ends with — a
judged pass, or the whole M-step when no pass is judged — are the mean of its last iterates
(``tail_average.TailAverage``), so the judge judges the mean. Every order is drawn from a stream seeded
by (seed, iteration), so it does not depend on how often Lightning iterates the loader and a resumed
run draws the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader, TensorDataset

from dnadav.core.config import EMConfig
from dnadav.core.distill import transition_pairs
from dnadav.core.fit_control import HeldOutStopper, held_out_passes
from dnadav.core.move_limit import MoveMeter
from dnadav.core.pass_guard import PassGuard, Score, guarded_passes
from dnadav.core.ranks import stream_seed
from dnadav.core.tail_average import TailAverage, loader_tail_average
from dnadav.core.trajectory import Trajectory

__all__ = ["MStepPlan", "mstep_plan"]


@dataclass
class MStepPlan:
    """``loader`` of transition pairs [batch, 2] (step, sequence); ``judge`` of its passes (None: none);
    ``averager`` (None: the last iterate is kept); ``held_out`` sequence indices [H] (empty: none)."""

    loader: DataLoader
    judge: HeldOutStopper | PassGuard | None
    averager: TailAverage | None
    held_out: torch.Tensor


def mstep_plan(
    trajectory: Trajectory,
    current: int,
    config: EMConfig,
    iteration: int,
    parameters: Iterable[torch.nn.Parameter],
    loss_of: Callable[[torch.Tensor], float],
    meter_of: Callable[[torch.Tensor], MoveMeter] | None = None,
    pass_score: Score | None = None,
) -> MStepPlan:
    """The plan of iteration ``iteration``'s M-step over ``trajectory`` (its ``current`` leading sequences
    from this E-step, the rest replayed ones, never held out);
    ``loss_of(held-out pairs)`` and ``meter_of(held-out pairs)`` judge held-out passes, ``pass_score``
    guarded ones."""
    held_out = torch.zeros(0, dtype=torch.long)
    judge = None
    if config.holdout_fraction > 0:
        generator = torch.Generator().manual_seed(stream_seed(config.seed, iteration, 0, 6))
        loader, judge, held_out = held_out_passes(
            trajectory, config.holdout_fraction, config, loss_of, generator, meter_of, current
        )
    else:
        generator = torch.Generator().manual_seed(stream_seed(config.seed, iteration, 0, 2))
        if config.mstep_min_naturalness is not None:  # the passes kept by naturalness (no reward call)
            score_seed = stream_seed(config.seed, iteration, 0, 7)
            loader, judge = guarded_passes(trajectory, config, pass_score, score_seed, generator)
        else:
            pairs = transition_pairs(trajectory).repeat(config.inner_epochs, 1)
            order = torch.randperm(len(pairs), generator=generator)
            loader = DataLoader(TensorDataset(pairs[order].cpu()), batch_size=config.batch_size, shuffle=False)
    passes = config.inner_epochs if judge is not None else None  # judged passes: one block each
    averager = loader_tail_average(parameters, loader, passes, config.mstep_average)
    return MStepPlan(loader, judge, averager, held_out)
