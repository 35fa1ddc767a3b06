"""The embedded digits world: scikit-learn's 8×8 handwritten digits upsampled to 16×16, the two
disjoint halves the reward and evaluation classifiers are trained on, and that classifier.

Images are ``[N, 1, 16, 16]`` float in [0, 1] (ink = 1); the DDPM sees them scaled to [-1, 1].
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["DIGITS_SIZE", "load_digit_images", "digit_halves", "DigitClassifier"]

DIGITS_SIZE = 16


def load_digit_images(size: int = DIGITS_SIZE) -> tuple[torch.Tensor, torch.Tensor]:
    """All 1,797 digits -> ``(images [1797, 1, size, size] in [0, 1], labels [1797] int64)``
    (bilinear upsampling of the 8×8 grey levels 0..16)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32)[:, None] / 16.0
    if size != 8:
        images = nn.functional.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
    return images.clamp(0.0, 1.0), torch.tensor(digits.target, dtype=torch.long)


def digit_halves(num: int = 1797, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two disjoint index halves ``(reward_half, eval_half)`` of a seeded permutation of ``num`` rows."""
    order = torch.randperm(num, generator=torch.Generator().manual_seed(seed))
    return order[: num // 2].sort().values, order[num // 2 :].sort().values


class DigitClassifier(nn.Module):
    """A small CNN over ``[B, 1, 16, 16]`` images in [0, 1] -> class logits ``[B, 10]``."""

    def __init__(self, channels: int = 32):
        super().__init__()
        self.config = {"channels": channels}
        c = channels
        self.body = nn.Sequential(
            nn.Conv2d(1, c, 3, padding=1), nn.SiLU(),
            nn.Conv2d(c, c, 3, padding=1), nn.SiLU(), nn.MaxPool2d(2),
            nn.Conv2d(c, 2 * c, 3, padding=1), nn.SiLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(2 * c * 16, 64), nn.SiLU(), nn.Linear(64, 10),
        )  # fmt: skip

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(images)
