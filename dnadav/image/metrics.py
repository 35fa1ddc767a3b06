"""Before/after numbers for the digits world: share and confidence of the target digit under the
held-out classifier, pixel-space diversity, and nearest-neighbour distances (memorisation)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["class_probabilities", "reading", "confident_share", "realism", "share_read_as", "ensemble_reading",
           "mean_pairwise_l2", "mean_nearest_l2", "digit_report"]  # fmt: skip

CONFIDENT = 0.9  # the docs' realism: read as some class with probability above this


@torch.no_grad()
def class_probabilities(images: torch.Tensor, classifiers: Sequence[torch.nn.Module]) -> torch.Tensor:
    """Class probabilities of ``images [N, 1, H, W]`` under each classifier -> ``[K, N, classes]`` (one pass each)."""
    return torch.stack([torch.softmax(c(images.float()), dim=-1) for c in classifiers])


def reading(probabilities: torch.Tensor, digit: int, threshold: float = CONFIDENT) -> tuple[float, float]:
    """``probabilities [K, N, classes]`` -> (share read as ``digit``, share read as any class with
    probability > ``threshold``), each the mean over the K classifiers and the N images."""
    share = float((probabilities.argmax(-1) == digit).float().mean())
    return share, float((probabilities.max(-1).values > threshold).float().mean())


def confident_share(images: torch.Tensor, classifier, threshold: float = CONFIDENT) -> float:
    """The share of ``images [N, 1, H, W]`` that ``classifier`` reads as any class with probability >
    ``threshold`` (one network's view; the docs' realism averages it over an ensemble: ``realism``)."""
    return reading(class_probabilities(images, [classifier]), 0, threshold)[1]


def realism(images: torch.Tensor, classifiers: Sequence[torch.nn.Module], threshold: float = CONFIDENT) -> float:
    """The docs' realism of ``images [N, 1, H, W]``: ``confident_share`` averaged over ``classifiers``
    (an ensemble trained alike with other seeds; ``dnadav.image.rewards.load_digit_ensemble``)."""
    return reading(class_probabilities(images, classifiers), 0, threshold)[1]


def share_read_as(images: torch.Tensor, digit: int, classifiers: Sequence[torch.nn.Module]) -> float:
    """Share of ``images`` whose most probable class is ``digit``, averaged over ``classifiers``."""
    return reading(class_probabilities(images, classifiers), digit)[0]


def ensemble_reading(images: torch.Tensor, digit: int, classifiers: Sequence[torch.nn.Module]) -> tuple[float, float]:
    """``(share_read_as, realism)`` of ``images`` under ``classifiers`` from one pass of each network."""
    return reading(class_probabilities(images, classifiers), digit)


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
    eval_ensemble: Sequence[torch.nn.Module] | None = None,
) -> dict[str, float]:
    """``images [N, 1, 16, 16]`` in [0, 1] -> share classified as ``digit``, its mean probability and
    the confident share under ``eval_classifier``; with ``eval_ensemble`` the same share and realism
    averaged over the ensemble (``eval_ensemble_share_digit``, ``eval_realism``: the docs' measures);
    diversity and nearest distances (to ``train_images`` and, when given, the ``searched`` images).
    Every classifier runs once: ``eval_classifier`` may be a member of ``eval_ensemble`` (the shipped
    ensemble's first member is the evaluation classifier)."""
    ensemble = list(eval_ensemble or [])
    others = [c for c in ensemble if c is not eval_classifier]
    probabilities = class_probabilities(images, [eval_classifier, *others])  # [K, N, classes], eval_classifier first
    share, confident = reading(probabilities[:1], digit)
    report = {
        "eval_share_digit": share,
        "eval_prob_digit": float(probabilities[0, :, digit].mean()),
        "eval_confident_share": confident,
        "diversity_l2": mean_pairwise_l2(images),
        "nearest_train_l2": mean_nearest_l2(images, train_images),
    }
    if eval_ensemble is not None:
        members = probabilities if len(others) < len(ensemble) else probabilities[1:]
        report["eval_ensemble_share_digit"], report["eval_realism"] = reading(members, digit)
    if searched is not None:
        report["nearest_searched_l2"] = mean_nearest_l2(images, searched)
    return report
