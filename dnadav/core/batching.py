"""Row chunking for batched network and oracle calls: the one place that decides how many rows go
through a network at once.

On a CPU a very large call costs more per row than several moderate ones (cache pressure), while
on a GPU one large call wins. ``default_max_batch`` is the measured default per device kind
(``bench/bench_speed.py`` measures it; docs/benchmarks.md records the figures) and every call site
takes an override (``--max-batch`` on the CLI). Chunking never changes what is computed for a row,
only how many rows share a call.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["CPU_MAX_BATCH", "default_max_batch", "resolve_max_batch", "chunked_call"]

# Rows per call on a CPU, measured on 2 cores with the shipped ConvDenoiser and oracle CNN
# (bench/bench_speed.py: 64-row chunks were fastest of 16..512).
CPU_MAX_BATCH = 64


def default_max_batch(device: torch.device | str) -> int | None:
    """The measured default rows per call for a device kind: ``CPU_MAX_BATCH`` on CPU, no limit elsewhere."""
    return CPU_MAX_BATCH if torch.device(device).type == "cpu" else None


def resolve_max_batch(max_batch: int | str | None, device: torch.device | str) -> int | None:
    """``"auto"`` -> the device default; ``None`` or ``0`` -> no limit; a positive int as given."""
    if max_batch == "auto":
        return default_max_batch(device)
    if max_batch is None or max_batch == 0:
        return None
    if not isinstance(max_batch, int) or isinstance(max_batch, bool) or max_batch < 0:
        raise ValueError(f"max_batch must be a positive whole number, 0/None (no limit) or 'auto'; got {max_batch!r}")
    return max_batch


def chunked_call(fn: Callable[..., torch.Tensor], *rows: torch.Tensor, max_batch: int | None) -> torch.Tensor:
    """``fn(*rows)`` evaluated ``max_batch`` rows at a time and concatenated along dim 0.

    Every tensor in ``rows`` has the same leading (row) dimension; ``fn`` returns a tensor whose
    first dimension is that row dimension. With ``max_batch`` None, or at most ``max_batch`` rows,
    this is exactly one call.
    """
    total = rows[0].shape[0]
    if max_batch is None or total <= max_batch:
        return fn(*rows)
    return torch.cat([fn(*(r[i : i + max_batch] for r in rows)) for i in range(0, total, max_batch)])
