"""Thin Lightning module for training a masked diffusion prior: the maths lives in ``masked.py``."""

from __future__ import annotations

import copy

import pytorch_lightning as pl
import torch

from dnadav.dna.backbone import ConvDenoiser
from dnadav.dna.masked import nelbo, stratified_times
from dnadav.dna.schedule import Schedule

__all__ = ["PriorModule", "bits_per_base", "ema_decay_at"]


def bits_per_base(nelbo_nats: torch.Tensor, length: int) -> torch.Tensor:
    """Convert per-sequence NELBO in nats to bits per base."""
    return nelbo_nats / (length * torch.log(torch.tensor(2.0)))


def ema_decay_at(decay: float, updates: int) -> float:
    """The EMA decay of update number ``updates`` (0-based) under a warm-up: ``min(decay, (1 + n) / (10 + n))``.

    Without a warm-up an EMA of decay 0.999 still holds ``0.999^n`` of the random initial weights
    after n updates (85 % after 167); with it the average starts from the trained weights (0.1 at the
    first update) and reaches ``decay`` after about ``10 / (1 − decay)`` updates."""
    return min(decay, (1.0 + updates) / (10.0 + updates))


class PriorModule(pl.LightningModule):
    """Minimises the continuous-time NELBO of ``tokens [B, L]`` batches; optional EMA weights (with a
    warm-up, ``ema_decay_at``)."""

    def __init__(
        self,
        model: ConvDenoiser,
        schedule: Schedule,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        ema_decay: float | None = 0.999,
        seed: int = 0,
    ):
        super().__init__()
        self.model = model
        self.schedule = schedule
        self.lr, self.weight_decay = lr, weight_decay
        self.ema_decay = ema_decay
        self.ema = copy.deepcopy(model).requires_grad_(False) if ema_decay else None
        self.seed = seed
        self._generator: torch.Generator | None = None

    def generator(self) -> torch.Generator:
        """Per-rank generator (distinct stream on every DDP rank)."""
        if self._generator is None or self._generator.device != self.device:
            self._generator = torch.Generator(self.device).manual_seed(self.seed * 1000 + self.global_rank)
        return self._generator

    def loss(self, tokens: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Mean NELBO in bits per base over the batch."""
        t = stratified_times(len(tokens), generator, device=tokens.device)
        return bits_per_base(nelbo(self.model, tokens, self.schedule, t, generator), tokens.shape[1]).mean()

    def training_step(self, batch: tuple[torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self.loss(batch[0], self.generator())
        self.log("train/nelbo_bpb", loss, prog_bar=True)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor], batch_idx: int) -> None:
        generator = torch.Generator(self.device).manual_seed(batch_idx)
        self.log("valid/nelbo_bpb", self.loss(batch[0], generator), prog_bar=True, sync_dist=True)

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        if self.ema is not None:
            # global_step counts optimiser steps and is restored on resume, so the warm-up resumes too
            decay = ema_decay_at(self.ema_decay, max(0, self.global_step - 1))
            with torch.no_grad():
                for ema_param, param in zip(self.ema.parameters(), self.model.parameters()):
                    ema_param.lerp_(param.detach(), 1.0 - decay)

    def configure_optimizers(self):
        return torch.optim.AdamW(self.model.parameters(), lr=self.lr, weight_decay=self.weight_decay)

    def final_model(self) -> ConvDenoiser:
        """The EMA weights when kept, else the raw weights."""
        return self.ema if self.ema is not None else self.model
