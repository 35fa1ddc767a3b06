"""Baselines compared against DAV (docs/benchmarks.md, docs/baselines.md): DRAKES-style reverse-KL
fine-tuning (``drakes``), DDPO (``ddpo``), VMPO on-policy (``vmpo``) and off-policy on the E-step's
particles (``vmpo_particles``). DDPO and VMPO are written against the reverse-process protocol."""

from dnadav.baselines.ddpo import DdpoConfig, ddpo_loss
from dnadav.baselines.drakes import DrakesConfig, drakes_loss, finetune, relaxed_trajectory
from dnadav.baselines.image_finetune import finetune_pipeline
from dnadav.baselines.rollouts import PolicyGradientConfig, Rollouts, sample_rollouts
from dnadav.baselines.vmpo import StepBaseline, VmpoConfig, vmpo_loss
from dnadav.baselines.vmpo_particles import ParticleConfig, particle_loss

__all__ = [
    "DdpoConfig",
    "DrakesConfig",
    "ParticleConfig",
    "PolicyGradientConfig",
    "Rollouts",
    "StepBaseline",
    "VmpoConfig",
    "ddpo_loss",
    "drakes_loss",
    "finetune",
    "finetune_pipeline",
    "particle_loss",
    "relaxed_trajectory",
    "sample_rollouts",
    "vmpo_loss",
]
