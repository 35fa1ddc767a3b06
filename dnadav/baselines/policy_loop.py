"""The training loop the on-policy baselines share (DDPO, VMPO): sample a batch of paths from the
current model, take ``inner_epochs`` Adam steps of a loss on them, repeat; and its masked-DNA entry
point with the same signature as ``dnadav.baselines.drakes.finetune`` (the benchmark scripts call
all three the same way).

The loss is a function ``loss_fn(rollouts, epoch) -> (scalar, parts)``; the loop knows nothing of
its maths. The network runs in eval mode throughout (no dropout), so a sampled path's
``log p_old`` equals its log-probability under the model at the first inner epoch (ratio 1).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable

import torch

from dnadav.baselines.rollouts import PolicyGradientConfig, Rollouts, sample_rollouts
from dnadav.core.protocol import ReverseProcess
from dnadav.core.trajectory import RewardFn

__all__ = ["LossFn", "fit_policy", "masked_finetune", "trainable_copy"]

LossFn = Callable[[Rollouts, int], tuple[torch.Tensor, dict[str, float]]]


def fit_policy(
    process: ReverseProcess,
    reward_fn: RewardFn,
    loss_fn: LossFn,
    config: PolicyGradientConfig,
    parameter_groups: Iterable[dict] | None = None,
    values: bool = False,
    context: torch.Tensor | None = None,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
) -> list[dict[str, float]]:
    """Train ``process.network`` in place for ``config.iterations`` sampling rounds -> history (one
    dict per round: the last inner epoch's loss parts, the batch's mean reward, reward calls so far).

    ``parameter_groups``: extra Adam groups (VMPO's baseline, with its own lr); ``values``: record
    the soft value of every visited state (T more reward calls per path); ``context [B, ...]``: the
    conditioning of the B paths of every round (e.g. prompt embeddings), or None."""
    network = process.network
    network.eval()
    groups = [{"params": [p for p in network.parameters() if p.requires_grad]}, *(parameter_groups or [])]
    optimizer = torch.optim.Adam(groups, lr=config.lr)
    generator = torch.Generator(process.time_grid(1).device).manual_seed(config.seed)
    history, calls = [], 0
    for step in range(config.iterations):
        rollouts = sample_rollouts(process, reward_fn, config.batch_size, config.num_steps, generator, context, values)
        calls += config.batch_size * (config.num_steps + 1 if values else 1)
        for epoch in range(config.inner_epochs):
            with torch.enable_grad():
                loss, parts = loss_fn(rollouts, epoch)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
            if config.gradient_clip is not None:
                torch.nn.utils.clip_grad_norm_(groups[0]["params"], config.gradient_clip)
            optimizer.step()
        record = {**parts, "reward": float(rollouts.rewards.mean()), "oracle_calls": float(calls)}
        history.append(record)
        if on_step is not None:
            on_step(step, record)
    return history


def trainable_copy(prior: torch.nn.Module, device: torch.device | str) -> tuple[torch.nn.Module, torch.nn.Module]:
    """``(model, reference)`` for fine-tuning from ``prior``: a trainable copy and a frozen copy, both in
    eval mode on ``device``. The caller's ``prior`` is left as it is, so one loaded prior serves any
    number of runs (freezing it in place once made every later run's copy frozen: the DRAKES-style seed
    whose reward never rose, issue 20)."""
    model = copy.deepcopy(prior).to(device).eval().requires_grad_(True)
    reference = copy.deepcopy(prior).to(device).eval().requires_grad_(False)
    return model, reference


def masked_finetune(
    prior: torch.nn.Module,
    train: Callable[..., list[dict[str, float]]],
    reward_fn: RewardFn,
    length: int,
    config: PolicyGradientConfig,
    schedule=None,
    device: torch.device | str = "cpu",
    on_step: Callable[[int, dict[str, float]], None] | None = None,
) -> tuple[torch.nn.Module, list[dict[str, float]]]:
    """Fine-tune a copy of the DNA ``prior`` with ``train(process, reward_fn, config, reference,
    on_step=...)`` (``ddpo.train`` or ``vmpo.train``) -> ``(model, history)``; the prior stays frozen as
    the reference. ``reward_fn`` takes one-hot ``[B, 4, L]``."""
    from dnadav.dna.sampler import MaskedDiffusion  # the DNA modality, only for this entry point

    model, reference = trainable_copy(prior, device)
    process = MaskedDiffusion(model, length, schedule, device, max_batch=None)
    history = train(process, reward_fn, config, reference, on_step=on_step)
    return model.requires_grad_(False), history
