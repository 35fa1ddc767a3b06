"""A compact 1-D CNN over one-hot DNA, with reverse-complement averaging.

``ConvClassifier``: ``onehot [B, 4, L] -> logits [B, num_outputs]``. Global max+mean pooling makes it
length-agnostic; predictions are averaged over the sequence and its reverse complement (input
gradients flow through both).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

__all__ = ["ConvClassifierConfig", "ConvClassifier", "reverse_complement_onehot"]


@dataclass
class ConvClassifierConfig:
    num_outputs: int = 5
    channels: int = 128
    first_kernel: int = 19
    kernels: tuple[int, ...] = (7, 5)
    pool: int = 4
    dropout: float = 0.2

    def to_dict(self) -> dict:
        return asdict(self)


def reverse_complement_onehot(onehot: torch.Tensor) -> torch.Tensor:
    """Reverse complement of ``onehot [B, 4, L]`` in ACGT order (flip both axes)."""
    return onehot.flip(1).flip(2)


class ConvClassifier(nn.Module):
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
        for kernel in c.kernels:
            layers += [nn.Conv1d(c.channels, c.channels, kernel, padding=kernel // 2), nn.BatchNorm1d(c.channels), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Dropout(c.dropout), nn.Linear(2 * c.channels, c.channels), nn.ReLU(), nn.Linear(c.channels, c.num_outputs)
        )

    def _one_strand(self, onehot: torch.Tensor) -> torch.Tensor:
        h = self.body(onehot)
        return self.head(torch.cat([h.amax(dim=-1), h.mean(dim=-1)], dim=-1))

    def forward(self, onehot: torch.Tensor) -> torch.Tensor:
        return 0.5 * (self._one_strand(onehot) + self._one_strand(reverse_complement_onehot(onehot)))
