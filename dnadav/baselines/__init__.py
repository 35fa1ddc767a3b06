"""Baselines compared against DAV (docs/benchmarks.md): DRAKES-style reverse-KL fine-tuning."""

from dnadav.baselines.drakes import DrakesConfig, drakes_loss, finetune, relaxed_trajectory

__all__ = ["DrakesConfig", "drakes_loss", "finetune", "relaxed_trajectory"]
