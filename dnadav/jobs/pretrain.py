"""Pretrain the masked diffusion prior p_pre with Lightning (checkpointing, resume, DDP, EMA)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from dnadav.dna.backbone import ConvDenoiser, ConvDenoiserConfig
from dnadav.dna.checkpoint import save_denoiser
from dnadav.dna.masked import sequence_elbo
from dnadav.dna.module import PriorModule, bits_per_base
from dnadav.dna.schedule import ScheduleName, make_schedule
from dnadav.dna.tokens import strings_to_tokens
from dnadav.io import atomic_write_text, sha256_file

__all__ = ["PretrainConfig", "load_training_sequences", "pretrain"]


@dataclass
class PretrainConfig:
    """Everything that defines a prior-training run (saved next to the checkpoint)."""

    data: str = "dhs"  # "dhs", "gosai" (the imported MPRA table, split by chromosome) or a sequence file
    table: str | None = None  # data="gosai": the imported gosai.h5 (default: ~/.cache/dnadav/gosai)
    cell_type: str | None = None  # restrict DHS to one cell type (None = all four)
    backbone: ConvDenoiserConfig = field(default_factory=lambda: ConvDenoiserConfig(channels=96, num_blocks=8))
    schedule: ScheduleName = "loglinear"
    max_steps: int = 20000
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 0.01
    ema_decay: float | None = 0.999
    seed: int = 0
    devices: int | str = 1
    accelerator: str = "auto"
    strategy: str = "auto"
    precision: str = "32-true"
    max_minutes: float | None = None
    val_check_interval: int = 1000


def load_training_sequences(data: str, cell_type: str | None, table: str | None = None) -> dict[str, list[str]]:
    """Sequences by split: ``{"train": [...], "valid": [...], "test": [...]}`` (valid/test may be empty).

    ``data="gosai"``: the imported Gosai table's chromosome split (``table`` or the default import).
    """
    if data == "gosai":
        from dnadav.data.gosai import load_gosai

        rows = load_gosai(table)
        return {s: rows.loc[rows["split"] == s, "seq"].tolist() for s in ("train", "valid", "test")}
    if data == "dhs":
        from dnadav.data.dhs import load_dhs

        return {s: load_dhs(s, cell_type)["sequence"].tolist() for s in ("train", "valid", "test")}
    from dnadav.data import read_sequences

    table = read_sequences(data)
    return {"train": table.sequences, "valid": [], "test": []}


def _loader(sequences: list[str], batch_size: int, shuffle: bool, seed: int) -> DataLoader:
    dataset = TensorDataset(strings_to_tokens(sequences))
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator, drop_last=shuffle)


def pretrain(config: PretrainConfig, out_dir: str | Path, resume: bool = True, progress: bool = True) -> dict:
    """Train (or resume) a prior into ``out_dir``: ``checkpoints/last.ckpt`` for resume, then the
    final EMA weights as ``model.pt`` + ``config.json`` and held-out ``metrics.json``."""
    out_dir = Path(out_dir)
    pl.seed_everything(config.seed, workers=True, verbose=False)
    splits = load_training_sequences(config.data, config.cell_type, config.table)
    length = len(splits["train"][0])
    schedule = make_schedule(config.schedule)
    module = PriorModule(ConvDenoiser(config.backbone), schedule, config.lr, config.weight_decay, config.ema_decay, config.seed)
    checkpoint = pl.callbacks.ModelCheckpoint(dirpath=out_dir / "checkpoints", save_last=True, every_n_train_steps=500)
    trainer = pl.Trainer(
        max_steps=config.max_steps,
        max_time={"minutes": config.max_minutes} if config.max_minutes else None,
        accelerator=config.accelerator,
        devices=config.devices,
        strategy=config.strategy,
        precision=config.precision,
        callbacks=[checkpoint],
        val_check_interval=config.val_check_interval if splits["valid"] else None,
        check_val_every_n_epoch=None if splits["valid"] else 1,
        limit_val_batches=8 if splits["valid"] else 0,
        logger=pl.loggers.CSVLogger(out_dir, name="logs"),
        # Lightning's 50, or every epoch when an epoch is shorter (small sets; drop_last batches)
        log_every_n_steps=max(1, min(50, len(splits["train"]) // config.batch_size)),
        enable_progress_bar=progress,
        enable_model_summary=False,
        default_root_dir=out_dir,
    )
    last = out_dir / "checkpoints" / "last.ckpt"
    started = time.time()
    trainer.fit(
        module,
        _loader(splits["train"], config.batch_size, True, config.seed),
        _loader(splits["valid"], config.batch_size, False, config.seed) if splits["valid"] else None,
        ckpt_path=str(last) if resume and last.exists() else None,
    )
    if trainer.global_rank != 0:
        return {}
    model = module.final_model().cpu().eval()
    metrics = {"train_minutes": (time.time() - started) / 60, "steps": trainer.global_step, "length": length}
    if splits["valid"]:
        held_out = strings_to_tokens(splits["valid"][:2000])
        elbo = sequence_elbo(model, held_out, schedule, num_time_samples=8, generator=torch.Generator().manual_seed(0))
        metrics["valid_nelbo_bits_per_base"] = float(bits_per_base(-elbo, length).mean())
        metrics["valid_elbo_nats_per_sequence"] = float(elbo.mean())
    save_denoiser(out_dir, model, {"schedule": config.schedule, "length": length, "train_config": asdict(config)})
    metrics["model_sha256"] = sha256_file(out_dir / "model.pt")
    metrics["model_bytes"] = (out_dir / "model.pt").stat().st_size
    atomic_write_text(out_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return metrics
