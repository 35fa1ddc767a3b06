"""Masked discrete diffusion over A/C/G/T (MDLM-style, subs parameterisation)."""

from dnadav.dna.backbone import ConvDenoiser, ConvDenoiserConfig
from dnadav.dna.checkpoint import load_denoiser, load_prior, save_denoiser
from dnadav.dna.masked import Denoiser, mask_tokens, nelbo, sequence_elbo, x0_log_probs
from dnadav.dna.sampler import MaskedDiffusion, sample, time_grid, transition_log_prob
from dnadav.dna.schedule import CosineSchedule, LogLinearSchedule, Schedule, make_schedule

__all__ = [
    "ConvDenoiser",
    "ConvDenoiserConfig",
    "CosineSchedule",
    "Denoiser",
    "LogLinearSchedule",
    "MaskedDiffusion",
    "Schedule",
    "load_denoiser",
    "load_prior",
    "make_schedule",
    "mask_tokens",
    "nelbo",
    "sample",
    "save_denoiser",
    "sequence_elbo",
    "time_grid",
    "transition_log_prob",
    "x0_log_probs",
]
