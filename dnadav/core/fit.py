"""``fit_em``: drive a ``DAVModule`` through its EM iterations with a Lightning trainer, checkpointing
after every iteration so an interrupted run resumes where it stopped."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytorch_lightning as pl
import torch

from dnadav.core.em import DAVModule

__all__ = ["fit_em"]


class _ReleaseProcessGroup(pl.Callback):
    """Destroys the distributed process group when the fit is over: a spawned rank that exits with
    it still alive can abort in gloo's threads at interpreter exit ("terminate called without an
    active exception"), which fails the run after it has finished."""

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.barrier()
            torch.distributed.destroy_process_group()


def fit_em(
    module: DAVModule,
    out_dir: str | Path,
    *,
    devices: int | str = 1,
    accelerator: str = "auto",
    strategy: str = "auto",
    resume: bool = True,
    progress: bool = True,
    callbacks: list[pl.Callback] | None = None,
) -> pl.Trainer:
    """Fit ``module.config.iterations`` EM iterations, checkpointing after each into
    ``out_dir/checkpoints/last.ckpt`` and resuming from it when present and ``resume``."""
    out_dir = Path(out_dir)
    # save_top_k=1 without a monitor keeps the newest iteration; Lightning writes last.ckpt only
    # alongside a saved checkpoint, so this is what makes an interrupted run resumable.
    checkpoints = pl.callbacks.ModelCheckpoint(
        dirpath=out_dir / "checkpoints", filename="iteration-{epoch}", save_last=True, every_n_epochs=1, save_top_k=1
    )
    trainer = pl.Trainer(
        max_epochs=module.config.iterations,
        accelerator=accelerator,
        devices=devices,
        strategy=strategy,
        reload_dataloaders_every_n_epochs=1,
        callbacks=[*(callbacks or []), checkpoints, _ReleaseProcessGroup()],  # the run's own files before last.ckpt
        logger=pl.loggers.CSVLogger(out_dir, name="logs"),
        enable_progress_bar=progress,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        log_every_n_steps=1,
        default_root_dir=out_dir,
        gradient_clip_val=getattr(module.config, "gradient_clip", None),
    )
    last = out_dir / "checkpoints" / "last.ckpt"
    with warnings.catch_warnings():
        # resuming writes into the run's own checkpoint folder, which is expected to exist
        warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")
        trainer.fit(module, ckpt_path=str(last) if resume and last.exists() else None)
    return trainer
