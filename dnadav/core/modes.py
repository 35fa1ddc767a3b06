"""Train/eval mode for the duration of a call, restored afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["eval_mode"]


@contextmanager
def eval_mode(*networks: object) -> Iterator[None]:
    """Put every ``torch.nn.Module`` among ``networks`` in eval mode, and restore each one's own mode
    on exit (also on error). Other callables are passed over."""
    modules = [n for n in networks if isinstance(n, torch.nn.Module)]
    was_training = [m.training for m in modules]
    for module in modules:
        module.eval()
    try:
        yield
    finally:
        for module, training in zip(modules, was_training):
            module.train(training)
