"""A time-conditioned dilated residual 1-D CNN denoiser (in the spirit of the DRAKES / Dirichlet
flow-matching DNA backbone), sized for CPU by default.

``forward(x_t [B, L] int64 with MASK = 4, t [B] float in [0, 1]) -> logits [B, L, 4]``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

import torch
from torch import nn

from dnadav.dna.tokens import NUM_BASES, VOCAB_SIZE

__all__ = ["ConvDenoiserConfig", "ConvDenoiser"]


@dataclass
class ConvDenoiserConfig:
    """Architecture of ``ConvDenoiser``. ``dilations`` cycle over ``num_blocks`` residual blocks."""

    channels: int = 128
    num_blocks: int = 8
    kernel_size: int = 9
    dilations: tuple[int, ...] = (1, 2, 4, 8)
    time_embedding_dim: int = 64
    dropout: float = 0.1
    time_conditioned: bool = True
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.dilations = tuple(self.dilations)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> ConvDenoiserConfig:
        """From a config.json ``backbone`` entry; unknown keys are refused (ValueError), missing ones
        take their defaults."""
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown backbone option(s) {sorted(unknown)}; expected some of {sorted(known)}")
        return cls(**values)


def fourier_time_features(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal features of ``t [B]`` -> ``[B, dim]`` (frequencies 1 .. 1000, log-spaced)."""
    half = dim // 2
    frequencies = torch.exp(torch.linspace(0.0, math.log(1000.0), half, device=t.device))
    angles = 2 * math.pi * t[:, None].float() * frequencies[None]
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


def pointwise(conv: nn.Conv1d, h: torch.Tensor) -> torch.Tensor:
    """A kernel-1 ``conv`` applied to ``h [B, C, L]`` -> ``[B, C_out, L]`` as one matrix product over the
    B·L positions: the same map as ``conv(h)`` to float rounding (~1e-6 in the logits), and on CPU
    faster than torch's convolution kernel for a 1×1 filter (docs/benchmarks.md, "denoiser pointwise layers").
    The parameters stay the ``Conv1d``'s, so checkpoints are unchanged."""
    return nn.functional.linear(h.transpose(1, 2), conv.weight.squeeze(-1), conv.bias).transpose(1, 2)


class ResidualBlock(nn.Module):
    """LayerNorm → dilated conv → GELU → + time shift → conv → dropout, with a skip connection."""

    def __init__(self, channels: int, kernel_size: int, dilation: int, time_dim: int, dropout: float):
        super().__init__()
        padding = dilation * (kernel_size - 1) // 2
        self.norm = nn.GroupNorm(1, channels)
        self.conv1 = nn.Conv1d(channels, channels, kernel_size, padding=padding, dilation=dilation)
        self.time_shift = nn.Linear(time_dim, channels)
        self.conv2 = nn.Conv1d(channels, channels, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor, time_embedding: torch.Tensor) -> torch.Tensor:
        """``h [B, C, L]``, ``time_embedding [B, time_dim]`` -> ``[B, C, L]``."""
        update = nn.functional.gelu(self.conv1(self.norm(h)))
        update = update + self.time_shift(time_embedding)[..., None]
        return h + self.dropout(pointwise(self.conv2, nn.functional.gelu(update)))


class ConvDenoiser(nn.Module):
    """Predicts ``p(x0 | x_t)`` logits over A/C/G/T for every position."""

    def __init__(self, config: ConvDenoiserConfig | None = None):
        super().__init__()
        self.config = config or ConvDenoiserConfig()
        c = self.config
        self.embed = nn.Embedding(VOCAB_SIZE, c.channels)
        self.time_mlp = nn.Sequential(
            nn.Linear(c.time_embedding_dim, c.time_embedding_dim),
            nn.GELU(),
            nn.Linear(c.time_embedding_dim, c.time_embedding_dim),
        )
        self.blocks = nn.ModuleList(
            ResidualBlock(c.channels, c.kernel_size, c.dilations[i % len(c.dilations)], c.time_embedding_dim, c.dropout)
            for i in range(c.num_blocks)
        )
        self.out_norm = nn.GroupNorm(1, c.channels)
        self.out = nn.Conv1d(c.channels, NUM_BASES, 1)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if x_t.dim() != 2:
            raise ValueError(f"ConvDenoiser expects tokens [B, L]; got shape {tuple(x_t.shape)}")
        if not self.config.time_conditioned:
            t = torch.zeros_like(t)
        time_embedding = self.time_mlp(fourier_time_features(t, self.config.time_embedding_dim))
        h = self.embed(x_t).transpose(1, 2)
        for block in self.blocks:
            h = block(h, time_embedding)
        return pointwise(self.out, nn.functional.gelu(self.out_norm(h))).transpose(1, 2)
