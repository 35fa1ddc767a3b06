"""A warm start from data: one E-step whose proposal is the prior's own training data.

DAV's E-step draws its proposals from the model and tilts them towards η ∝ p·exp(r/α). The prior p was
fitted to a data set, so the data themselves are draws from the law the prior only approximates, and
they are natural by construction. ``warm_start`` scores N data samples once each with the reward
(N reward calls, no network row), resamples ``kept`` of them with weights w_i ∝ exp(r_i/α) —
systematic resampling, so sample i is kept ⌊kept·w_i⌋ or ⌈kept·w_i⌉ times: a self-normalised importance
sample of p_data·exp(r/α) — with α solved so that the weights' Kish ESS is ``target_ess`` of N
(``dnadav.core.importance.ess_temperature``: scale-free, whatever the reward's units), and fits the
model to the kept samples with its own training loss (``ReverseProcess.sample_loss``, the forward KL
from the resampled law to the model), ``steps`` AdamW steps of ``batch_size`` samples, the gradient norm
clipped at ``gradient_clip``; with ``tail_average`` > 0 the fitted weights are the mean of the iterates of the
last ``tail_average`` of the steps (tail averaging, which removes most of SGD's final-iterate noise; 0: the last
iterate). The fitted model is where DAV's iterations start and what they are
anchored to (docs/concepts.md, "A warm start from the training data").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from dnadav.core.batching import chunked_call
from dnadav.core.importance import effective_sample_size, ess_temperature, resample_counts
from dnadav.core.protocol import ReverseProcess
from dnadav.core.tail_average import TailAverage

__all__ = ["WarmStart", "WarmStartResult", "fit_clean_samples", "tilt_data", "warm_start"]


@dataclass(frozen=True)
class WarmStart:
    """The warm start's settings: ``steps`` optimiser steps (0: none), ``kept`` resampled data samples, α
    solved for a Kish ESS of ``target_ess`` × the data's size, AdamW at ``lr`` on ``batch_size`` samples
    per step with the gradient norm clipped at ``gradient_clip``; the weights kept are the mean of the
    iterates after each of the last ``round(tail_average × steps)`` steps (0: the last iterate)."""

    steps: int = 1600
    kept: int = 4096
    target_ess: float = 0.1
    batch_size: int = 64
    lr: float = 1e-3
    gradient_clip: float = 1.0
    tail_average: float = 0.0

    def __post_init__(self) -> None:
        if self.steps < 0 or self.kept < 1 or self.batch_size < 1:
            raise ValueError(f"warm start: steps ≥ 0, kept ≥ 1 and batch_size ≥ 1; got {self}")
        if not 0 <= self.tail_average <= 1:
            raise ValueError(f"warm start: tail_average must be a fraction in [0, 1]; got {self.tail_average}")
        if not 0 < self.target_ess < 1:
            raise ValueError(f"warm start: target_ess must be a fraction in (0, 1); got {self.target_ess}")


@dataclass(frozen=True)
class WarmStartResult:
    """What a warm start did: the kept indices into the data ``[kept]``, the solved α (reward units), the
    weights' Kish ESS, the mean reward of the data and of the kept samples, and the mean training loss
    (per dimension of a sample) of each tenth of the fit's steps."""

    kept: torch.Tensor
    temperature: float
    ess: float
    reward_mean_data: float
    reward_mean_kept: float
    losses: list[float]

    def record(self) -> dict:
        """The figures a run's card and manifest keep (no tensors)."""
        return {
            "temperature": self.temperature,
            "ess": self.ess,
            "distinct_kept": int(self.kept.unique().numel()),
            "reward_mean_data": self.reward_mean_data,
            "reward_mean_kept": self.reward_mean_kept,
            "losses": self.losses,
        }


def tilt_data(
    rewards: torch.Tensor, target_ess: float, kept: int, generator: torch.Generator | None
) -> tuple[torch.Tensor, float, float]:
    """Resample ``kept`` indices into ``rewards [N]`` with weights ∝ exp(r/α), α solved for a Kish ESS of
    ``target_ess``·N -> (indices ``[kept]`` ascending, α, ESS)."""
    rewards = rewards.detach().double()
    temperature = ess_temperature(rewards, target_ess)
    log_weights = rewards / temperature
    return resample_counts(log_weights, kept, generator), temperature, effective_sample_size(log_weights)


def fit_clean_samples(
    process: ReverseProcess,
    samples: torch.Tensor,
    settings: WarmStart,
    generator: torch.Generator | None,
) -> list[float]:
    """Fit ``process.network`` to clean ``samples [K, ...]`` with its training loss: ``settings.steps``
    AdamW steps, each on the next ``settings.batch_size`` samples of a fresh permutation per pass, the
    loss averaged per sample dimension, gradient norm clipped. -> the mean loss of each tenth of the steps.
    Dropout draws from torch's global stream: the fit seeds it from ``generator``'s seed (and restores the
    caller's global state after), so the fitted weights depend on ``generator`` alone; it runs with gradients
    on even when called under ``torch.no_grad()``."""
    cuda = [generator.device.index or 0] if generator is not None and generator.device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda), torch.enable_grad():  # a fit, whatever the caller's grad mode
        if generator is not None:
            torch.manual_seed((generator.initial_seed() + 1) % (2**63 - 1))
        return _fit(process, samples, settings, generator)


def _fit(process: ReverseProcess, samples: torch.Tensor, settings: WarmStart, generator: torch.Generator | None) -> list[float]:
    network = process.network
    parameters = [p for p in network.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(parameters, lr=settings.lr, weight_decay=0.0)
    dimensions = samples[0].numel()
    order = torch.empty(0, dtype=torch.long)
    tenth = max(1, settings.steps // 10)
    averager = TailAverage(parameters, [settings.steps - 1] if settings.steps else [], settings.tail_average)
    losses, running = [], []
    was_training = network.training
    network.train()
    for step in range(1, settings.steps + 1):
        if len(order) < settings.batch_size:
            fresh = torch.randperm(len(samples), generator=generator, device=generator.device if generator else "cpu")
            order = torch.cat([order, fresh.cpu()])
        batch, order = samples[order[: settings.batch_size].to(samples.device)], order[settings.batch_size :]
        loss = process.sample_loss(network, batch, None, generator).mean() / dimensions
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, settings.gradient_clip)
        optimiser.step()
        averager.after_step()  # after the last step: the mean of the last iterates
        running.append(float(loss.detach()))
        if step % tenth == 0 or step == settings.steps:
            losses.append(sum(running) / len(running))
            running = []
    network.train(was_training)
    return losses


def warm_start(
    process: ReverseProcess,
    data: torch.Tensor,
    reward_fn: Callable[[torch.Tensor], torch.Tensor],
    settings: WarmStart,
    generator: torch.Generator | None,
    max_batch: int | None = 1024,
) -> WarmStartResult:
    """Score clean ``data [N, ...]`` (process states at grid index T) once each with ``reward_fn`` on
    ``process.decode``, resample ``settings.kept`` by exp(r/α) (``tilt_data``) and fit ``process.network``
    to them in place (``fit_clean_samples``). Reward calls: N. Network rows: ``steps × batch_size``
    training rows, none for the E-step."""
    if len(data) < 2:
        raise ValueError(f"warm start: the data hold {len(data)} sample(s); it needs at least 2")
    with torch.no_grad():
        rewards = chunked_call(lambda x: reward_fn(process.decode(x)).float(), data, max_batch=max_batch).cpu()
    if not torch.isfinite(rewards).all():
        raise ValueError("warm start: the reward is not finite on every data sample")
    kept, temperature, ess = tilt_data(rewards, settings.target_ess, settings.kept, generator)
    losses = fit_clean_samples(process, data[kept.to(data.device)], settings, generator)
    return WarmStartResult(kept, temperature, ess, float(rewards.mean()), float(rewards[kept].mean()), losses)
