"""Layers of the Enformer trunk as gReLU builds it (gReLU 1.0.x over enformer-pytorch 0.8), written
for dnadav so the DRAKES oracles load without gReLU, enformer-pytorch or the 939 MB human weights.

Attribute names follow the published state-dict layout (``norm.layer``, ``pool.layer``,
``mha.to_rel_k`` …), so a gReLU checkpoint's keys load unchanged. Shapes: ``[B, C, L]`` for the
convolutional parts, ``[B, L, C]`` inside the transformer.

* ``enformer_gelu(x) = sigmoid(1.702 x) · x`` (Enformer's GELU approximation).
* ``AttentionPool``: softmax-weighted pooling over windows of ``pool_size`` with per-channel logits
  from a 1×1 ``Conv2d``; an odd length is padded at the end and the pad masked out.
* ``RelativeAttention``: multi-head attention with Enformer's relative positional basis
  (exponential, central-mask and gamma features of the signed distance, ``6 · F`` features).
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = [
    "AttentionPool",
    "ConvBlock",
    "EnformerGELU",
    "Layer",
    "RelativeAttention",
    "enformer_gelu",
    "exponential_channels",
    "relative_positional_basis",
]


def enformer_gelu(x: torch.Tensor) -> torch.Tensor:
    """``sigmoid(1.702 x) · x``."""
    return torch.sigmoid(1.702 * x) * x


class EnformerGELU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return enformer_gelu(x)


class Layer(nn.Module):
    """Holds one module as ``.layer`` (gReLU wraps its norms, pools and activations this way)."""

    def __init__(self, layer: nn.Module):
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)


def exponential_channels(start: int, end: int, num: int, divisible_by: int) -> list[int]:
    """``num`` channel counts growing geometrically from ``start`` to ``end``, rounded to ``divisible_by``."""
    base = math.exp(math.log(end / start) / (num - 1))
    return [int(round(start * base**i / divisible_by) * divisible_by) for i in range(num)]


class AttentionPool(nn.Module):
    """``[B, C, L] -> [B, C, ceil(L / pool_size)]``."""

    def __init__(self, channels: int, pool_size: int = 2):
        super().__init__()
        self.pool_size = pool_size
        self.to_attn_logits = nn.Conv2d(channels, channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, length = x.shape
        pad = length % self.pool_size  # as enformer-pytorch: exact for pool_size 2, the only size used
        padded = torch.zeros(batch, 1, length + pad, dtype=torch.bool, device=x.device)
        padded[..., length:] = True
        x = nn.functional.pad(x, (0, pad))
        windows = x.view(batch, channels, -1, self.pool_size)
        logits = self.to_attn_logits(windows)
        logits = logits.masked_fill(padded.view(batch, 1, -1, self.pool_size), -torch.finfo(logits.dtype).max)
        return (windows * logits.softmax(dim=-1)).sum(dim=-1)


class ConvBlock(nn.Module):
    """gReLU ``ConvBlock`` with order "NACDR": BatchNorm -> GELU -> Conv("same") [-> + input] [-> AttentionPool].

    Residual blocks keep the channel count (so the input is added unchanged); dropout is 0 at inference.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, residual: bool = False, pool: bool = False):
        super().__init__()
        if residual and in_channels != out_channels:
            raise ValueError("residual ConvBlocks keep the channel count")
        self.norm = Layer(nn.BatchNorm1d(in_channels))
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, padding="same")
        self.pool = Layer(AttentionPool(out_channels)) if pool else Layer(nn.Identity())
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(enformer_gelu(self.norm(x)))
        return self.pool(h + x if self.residual else h)


def relative_positional_basis(length: int, num_features: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Enformer's relative position features of distances ``-(L-1) .. L-1`` -> ``[2L - 1, num_features]``.

    ``num_features`` = 6·F: F exponential-decay, F central-mask and F gamma-pdf features of |d|,
    then the same multiplied by sign(d).
    """
    if num_features % 6:
        raise ValueError(f"number of relative position features must be divisible by 6; got {num_features}")
    per_kind = num_features // 6
    distances = torch.arange(-length + 1, length)
    absolute = distances.abs()[:, None].float()
    half_life = 2 ** torch.linspace(3.0, math.log(length) / math.log(2.0), per_kind)
    exponential = torch.exp(-math.log(2.0) / half_life[None] * absolute)
    widths = 2 ** torch.arange(1, per_kind + 1).float() - 1
    central = (widths[None] > absolute).float()
    stddev, start_mean = length / (2 * per_kind), length / per_kind
    mean = torch.linspace(start_mean, length, per_kind)[None]
    concentration, rate = (mean / stddev) ** 2, mean / stddev**2
    log_pdf = torch.xlogy(concentration - 1.0, absolute) - rate * absolute
    log_pdf = log_pdf - (torch.lgamma(concentration) - concentration * torch.log(rate))
    gamma = torch.exp(log_pdf) + 1e-8
    gamma = gamma / gamma.amax(dim=-1, keepdim=True)
    unsigned = torch.cat([exponential, central, gamma], dim=-1)
    return torch.cat([unsigned, torch.sign(distances)[:, None] * unsigned], dim=-1).to(dtype)


class RelativeAttention(nn.Module):
    """``[B, L, C] -> [B, L, C]``: content + relative-position attention (Transformer-XL style biases)."""

    def __init__(self, channels: int, heads: int, key_dim: int, num_position_features: int):
        super().__init__()
        value_dim = channels // heads
        self.heads, self.key_dim, self.num_position_features = heads, key_dim, num_position_features
        self.to_q = nn.Linear(channels, key_dim * heads, bias=False)
        self.to_k = nn.Linear(channels, key_dim * heads, bias=False)
        self.to_v = nn.Linear(channels, value_dim * heads, bias=False)
        self.to_out = nn.Linear(value_dim * heads, channels)
        self.to_rel_k = nn.Linear(num_position_features, key_dim * heads, bias=False)
        self.rel_content_bias = nn.Parameter(torch.zeros(1, heads, 1, key_dim))
        self.rel_pos_bias = nn.Parameter(torch.zeros(1, heads, 1, key_dim))

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(*x.shape[:-1], self.heads, -1).transpose(-3, -2)  # [B, H, L, d]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[1]
        q = self._split(self.to_q(x)) * self.key_dim**-0.5
        k, v = self._split(self.to_k(x)), self._split(self.to_v(x))
        content = (q + self.rel_content_bias) @ k.transpose(-1, -2)  # [B, H, L, L]
        basis = relative_positional_basis(length, self.num_position_features, self.to_rel_k.weight.dtype)
        rel_k = self.to_rel_k(basis.to(x.device)).view(2 * length - 1, self.heads, -1).transpose(0, 1)  # [H, 2L-1, d]
        by_distance = (q + self.rel_pos_bias) @ rel_k.transpose(-1, -2)[None]  # [B, H, L, 2L-1]
        # logits[i, j] uses distance j - i, stored at index (j - i) + L - 1
        index = torch.arange(length, device=x.device)[None, :] - torch.arange(length, device=x.device)[:, None] + length - 1
        positional = by_distance.gather(-1, index.expand(*by_distance.shape[:2], length, length))
        attention = (content + positional).softmax(dim=-1)
        out = (attention @ v).transpose(-3, -2).reshape(*x.shape[:-1], -1)
        return self.to_out(out)
