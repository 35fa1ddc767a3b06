"""One pass of the forward-KL children M-step over given transition rows, for the bench scripts that fit
one E-step by hand (``bench/vmpo_mstep.py``, ``bench/mstep_passes.py``). The align job's own M-step is
``dnadav.dna.em``; this is the same loss (``dnadav.core.distill``, ``objective="children"``) without
Lightning, so a script can judge the model between passes."""

from __future__ import annotations

import torch

from dnadav.core.distill import DistillConfig, distill_loss, transition_batch

CHILDREN = DistillConfig(objective="children")


def children_pass(
    process,
    trajectory,
    pairs: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    alpha: float,
    batch_size: int,
    generator: torch.Generator,
    clip: float = 1.0,
    after_step=None,
) -> tuple[list[float], list[float]]:
    """One shuffled pass over ``pairs`` [P, 2] (transition rows of ``trajectory``) in minibatches of
    ``batch_size``: Adam-style steps of ``optimizer`` on the children loss at reward temperature
    ``alpha`` (nats), the gradient norm clipped at ``clip``. The network is put in train mode (dropout
    on, as the align M-step); ``after_step()``, if given, runs after every optimizer step (e.g. a weight
    average's update). Returns (per-step losses, per-step gradient norms before clipping)."""
    process.network.train()
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    order = pairs[torch.randperm(len(pairs), generator=generator)]
    losses, norms = [], []
    for first in range(0, len(order), batch_size):
        with torch.enable_grad():
            batch = transition_batch(trajectory, order[first : first + batch_size], alpha)
            loss, _ = distill_loss(process, batch, CHILDREN)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(parameters, clip)))
        optimizer.step()
        if after_step is not None:
            after_step()
        losses.append(float(loss.detach()))
    return losses, norms


def held_out_loss(process, trajectory, pairs: torch.Tensor, alpha: float, batch_size: int = 512) -> float:
    """Mean children loss per transition row over ``pairs`` (held-out rows), in eval mode (dropout off)."""
    process.network.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for first in range(0, len(pairs), batch_size):
            rows = pairs[first : first + batch_size]
            loss, _ = distill_loss(process, transition_batch(trajectory, rows, alpha), CHILDREN)
            total, count = total + float(loss) * len(rows), count + len(rows)
    return total / count
