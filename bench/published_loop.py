"""A faithful re-implementation of the published DAV/SVDD E-step's *loop structure*, for timing only.

Per reverse step the published code makes one denoiser call on the B current states, then, for
each of the M candidates in turn, samples a candidate for every sequence from that prediction,
calls the denoiser on the B candidates (batch B) to get x̂0, and scores x̂0's argmax with the reward
oracle (batch B); the candidate weights are softmax(r/α) per sequence. No x̂0 is reused across steps.
The maths of one step (the masked reverse step, the plug-in value, the per-sequence choice) is the
same as ``dnadav.core.search``: only the batching and the reuse differ, which is what the
comparison in ``bench/bench_speed.py`` measures. Not used by the package.
"""

from __future__ import annotations

import torch

from dnadav.core.gumbel import gumbel_argmax
from dnadav.dna.sampler import MaskedDiffusion


@torch.no_grad()
def published_loop_search(
    denoiser, reward_fn, num_sequences: int, length: int, num_children: int, num_steps: int, temperature: float, generator
) -> tuple[torch.Tensor, int]:
    """(final tokens ``[B, L]``, network calls) of the published loop structure."""
    process = MaskedDiffusion(denoiser, length, max_batch=None)  # the published code calls at batch B
    times = process.time_grid(num_steps)
    x = process.initial_state(num_sequences)
    calls = 0
    for k in range(num_steps):
        t, s = float(times[k]), float(times[k + 1])
        prediction = process.predict(x, torch.full((num_sequences,), t))
        calls += 1
        candidates, values = [], []
        for _ in range(num_children):
            child = process.propose(prediction, x, t, s, 1, generator).children  # [B, L]
            child_prediction = process.predict(child, torch.full((num_sequences,), s))
            calls += 1
            values.append(reward_fn(process.clean_estimate(child_prediction, child, None, generator)))
            candidates.append(child)
        stacked = torch.stack(candidates, dim=1)  # [B, M, L]
        choice = gumbel_argmax(torch.stack(values, dim=1) / temperature, generator, dim=1)
        x = stacked[torch.arange(num_sequences), choice]
    return x, calls
