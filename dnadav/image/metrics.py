"""Before/after numbers for the digits world: share and confidence of the target digit under the
held-out classifier, pixel-space diversity, and nearest-neighbour distances (memorisation)."""

from __future__ import annotations

import torch

__all__ = ["confident_share", "mean_pairwise_l2", "mean_nearest_l2", "digit_report"]


@torch.no_grad()
def confident_share(images: torch.Tensor, classifier, threshold: float = 0.9) -> float:
    """The docs' realism measure: the share of ``images [N, 1, H, W]`` that ``classifier`` reads as any
    class with probability > ``threshold``."""
    return float((torch.softmax(classifier(images), dim=-1).max(-1).values > threshold).float().mean())


def mean_pairwise_l2(images: torch.Tensor) -> float:
    """Mean L2 distance between distinct images ``[N, ...]`` (pixels in [0, 1])."""
    flat = images.flatten(1).float()
    distances = torch.cdist(flat, flat)
    n = flat.shape[0]
    return float(distances.sum() / (n * (n - 1))) if n > 1 else 0.0


def mean_nearest_l2(images: torch.Tensor, bank: torch.Tensor) -> float:
    """Mean over ``images`` of the L2 distance to the nearest image of ``bank`` ``[M, ...]``."""
    return float(torch.cdist(images.flatten(1).float(), bank.flatten(1).float()).min(dim=1).values.mean())


@torch.no_grad()
def digit_report(
    images: torch.Tensor,
    digit: int,
    eval_classifier: torch.nn.Module,
    train_images: torch.Tensor,
    searched: torch.Tensor | None = None,
) -> dict[str, float]:
    """``images [N, 1, 16, 16]`` in [0, 1] -> share classified as ``digit``, its mean probability,
    diversity and nearest distances (to ``train_images`` and, when given, the ``searched`` images)."""
    probabilities = torch.softmax(eval_classifier(images.float()), dim=-1)
    report = {
        "eval_share_digit": float((probabilities.argmax(-1) == digit).float().mean()),
        "eval_prob_digit": float(probabilities[:, digit].mean()),
        "diversity_l2": mean_pairwise_l2(images),
        "nearest_train_l2": mean_nearest_l2(images, train_images),
    }
    if searched is not None:
        report["nearest_searched_l2"] = mean_nearest_l2(images, searched)
    return report
