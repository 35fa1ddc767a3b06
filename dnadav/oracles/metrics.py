"""Held-out metrics of oracles (pure functions of predictions and labels)."""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import roc_auc_score

__all__ = ["expected_calibration_error", "classification_metrics", "regression_metrics"]


def expected_calibration_error(probability: np.ndarray, outcome: np.ndarray, bins: int = 10) -> float:
    """Mean |accuracy − confidence| over equal-width probability bins, weighted by bin size."""
    edges = np.linspace(0, 1, bins + 1)
    index = np.clip(np.digitize(probability, edges) - 1, 0, bins - 1)
    total = 0.0
    for b in range(bins):
        chosen = index == b
        if chosen.any():
            total += chosen.mean() * abs(outcome[chosen].mean() - probability[chosen].mean())
    return float(total)


def _auroc(positive: np.ndarray, score: np.ndarray) -> float:
    return float(roc_auc_score(positive, score)) if 0 < positive.sum() < len(positive) else float("nan")


def classification_metrics(
    logits: torch.Tensor,
    labels: torch.Tensor,
    class_names: tuple[str, ...],
    target: str = "HepG2",
    background: str | None = "shuffled",
) -> dict[str, float]:
    """``logits [N, K]``, ``labels [N]`` -> accuracy, per-class one-vs-rest AUROC, ``target``-vs-other
    real classes AUROC (rows labelled ``background`` excluded; only when there is such a class) and the
    ECE of the ``target`` probability. An AUROC whose class is absent (or the only one present) is NaN."""
    probs = torch.softmax(logits.float(), dim=-1).numpy()
    y = labels.numpy()
    metrics: dict[str, float] = {"accuracy": float((probs.argmax(1) == y).mean()), "n": int(len(y))}
    for i, name in enumerate(class_names):
        metrics[f"auroc_{name}"] = _auroc(y == i, probs[:, i])
    t = class_names.index(target)
    if background is not None and background in class_names:
        real = y != class_names.index(background)
        metrics[f"auroc_{target}_vs_other_cell_types"] = _auroc(y[real] == t, probs[real, t])
    metrics[f"ece_{target}"] = expected_calibration_error(probs[:, t], (y == t).astype(float))
    return metrics


def regression_metrics(predictions: torch.Tensor, targets: torch.Tensor, names: tuple[str, ...]) -> dict[str, float]:
    """``predictions, targets [N, K]`` -> MSE, Pearson and Spearman correlation per named column."""
    p, y = predictions.float().numpy(), targets.float().numpy()
    metrics: dict[str, float] = {"n": int(len(y)), "mse": float(((p - y) ** 2).mean())}
    for i, name in enumerate(names):
        constant = np.ptp(p[:, i]) == 0 or np.ptp(y[:, i]) == 0
        metrics[f"pearson_{name}"] = float("nan") if constant else float(pearsonr(p[:, i], y[:, i]).statistic)
        metrics[f"spearman_{name}"] = float("nan") if constant else float(spearmanr(p[:, i], y[:, i]).statistic)
        metrics[f"mse_{name}"] = float(((p[:, i] - y[:, i]) ** 2).mean())
    return metrics
