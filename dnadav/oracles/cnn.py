"""A compact 1-D CNN over one-hot DNA, with reverse-complement averaging.

``ConvClassifier``: ``onehot [B, 4, L] -> logits [B, num_outputs]``; ``ConvRegressor`` is the same
network read as ``predictions [B, num_targets]`` (e.g. Gosai MPRA activity). Global max+mean pooling
makes them length-agnostic; outputs are averaged over the sequence and its reverse complement, so
``f(x) == f(RC(x))`` exactly and input gradients flow through both strands.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import nn

from dnadav.dna.tokens import reverse_complement_onehot  # re-exported: its home is dnadav.dna.tokens

__all__ = ["ConvClassifierConfig", "ConvClassifier", "ConvRegressor", "reverse_complement_onehot"]


@dataclass
class ConvClassifierConfig:
    """Architecture of ``ConvClassifier`` / ``ConvRegressor`` (saved in every checkpoint's config.json).

    conv(first_kernel) -> max-pool(pool) -> one conv per entry of ``kernels`` (with ``dilations``,
    default 1) -> global max + mean pooling -> 2-layer head -> ``num_outputs``.
    ``length`` records the training length; the network itself accepts any L ≥ ``pool``.
    """

    num_outputs: int = 5
    channels: int = 128
    first_kernel: int = 19
    kernels: tuple[int, ...] = (7, 5)
    dilations: tuple[int, ...] | None = None
    pool: int = 4
    dropout: float = 0.2
    length: int = 200

    def __post_init__(self) -> None:
        self.kernels = tuple(self.kernels)
        self.dilations = tuple(self.dilations) if self.dilations is not None else (1,) * len(self.kernels)
        if len(self.dilations) != len(self.kernels):
            raise ValueError(f"dilations {self.dilations} must have one entry per kernel {self.kernels}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ConvClassifierConfig:
        """From a config.json entry; unknown keys are refused, missing ones take their defaults."""
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown network option(s) {sorted(unknown)}; expected some of {sorted(known)}")
        return cls(**values)


class ConvClassifier(nn.Module):
    """``onehot [B, 4, L] -> logits [B, num_outputs]``, averaged over both strands."""

    def __init__(self, config: ConvClassifierConfig | None = None):
        super().__init__()
        self.config = c = config or ConvClassifierConfig()
        layers: list[nn.Module] = [
            nn.Conv1d(4, c.channels, c.first_kernel, padding=c.first_kernel // 2),
            nn.BatchNorm1d(c.channels),
            nn.ReLU(),
            nn.MaxPool1d(c.pool),
            nn.Dropout(c.dropout),
        ]
        for kernel, dilation in zip(c.kernels, c.dilations):
            padding = dilation * (kernel // 2)  # keeps the length for odd kernels
            layers += [
                nn.Conv1d(c.channels, c.channels, kernel, padding=padding, dilation=dilation),
                nn.BatchNorm1d(c.channels),
                nn.ReLU(),
            ]
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Dropout(c.dropout), nn.Linear(2 * c.channels, c.channels), nn.ReLU(), nn.Linear(c.channels, c.num_outputs)
        )

    def _one_strand(self, onehot: torch.Tensor) -> torch.Tensor:
        h = self.body(onehot)
        return self.head(torch.cat([h.amax(dim=-1), h.mean(dim=-1)], dim=-1))

    def forward(self, onehot: torch.Tensor) -> torch.Tensor:
        return 0.5 * (self._one_strand(onehot) + self._one_strand(reverse_complement_onehot(onehot)))


class ConvRegressor(ConvClassifier):
    """The same network with ``num_outputs`` read as regression targets: ``predictions [B, num_targets]``.

    A separate class so that checkpoints say what their outputs mean (``kind: regressor``) and the
    trainer picks the MSE loss; the maths is shared.
    """
