"""Pretrain the masked diffusion prior p_pre with Lightning (checkpointing, resume, DDP, EMA).

Held-out rows: the shipped DHS set and the Gosai table by their chromosome split; a user's file by
``dnadav.data.splits`` (its split or chromosome column, else a seeded ``valid_fraction`` of the rows).
The saved weights are the EMA (with a warm-up) or the live weights, whichever has the lower
held-out NELBO; a warning says when the EMA lost (``choose_weights``).
"""

from __future__ import annotations

import json
import math
import time
import warnings
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
from dnadav.errors import InputError
from dnadav.io import atomic_write_text, sha256_file

__all__ = [
    "HELD_OUT_LIMIT",
    "PretrainConfig",
    "TrainingSequences",
    "choose_weights",
    "load_training_sequences",
    "pretrain",
    "pretrain_config",
]

HELD_OUT_LIMIT = 2000  # held-out sequences scored for metrics.json and the EMA / live choice


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
    ema_decay: float | None = 0.999  # None or 0: no EMA (the live weights are saved)
    seed: int = 0
    devices: int | str = 1
    accelerator: str = "auto"
    strategy: str = "auto"
    precision: str = "32-true"
    max_minutes: float | None = None
    val_check_interval: int = 1000
    valid_fraction: float = 0.1  # a file without split or chromosome column: held-out share of its rows
    split_seed: int = 0  # that held-out split's seed


@dataclass(frozen=True)
class TrainingSequences:
    """Sequences by split (valid / test may be empty) and ``rule``: how the held-out rows were chosen."""

    train: list[str]
    valid: list[str]
    test: list[str]
    rule: str


def load_training_sequences(
    data: str, cell_type: str | None, table: str | None = None, *, valid_fraction: float = 0.1, split_seed: int = 0
) -> TrainingSequences:
    """The prior's sequences by split. ``data="gosai"``: the imported Gosai table's chromosome split
    (``table`` or the default import); ``"dhs"``: the shipped set (valid = chr2, test = chr1); a file:
    ``dnadav.data.splits.held_out_split`` with no test share (a chromosome column still holds out its
    test chromosome, so that the oracles' test rows stay unseen)."""
    if data == "gosai":
        from dnadav.data.gosai import load_gosai

        rows = load_gosai(table)
        parts = [rows.loc[rows["split"] == s, "seq"].tolist() for s in ("train", "valid", "test")]
        return TrainingSequences(*parts, rule="the imported Gosai table's chromosome split")
    if data == "dhs":
        from dnadav.data.dhs import load_dhs

        parts = [load_dhs(s, cell_type)["sequence"].tolist() for s in ("train", "valid", "test")]
        return TrainingSequences(*parts, rule="the shipped DHS split: valid = chr2, test = chr1")
    from dnadav.data import read_sequences
    from dnadav.data.splits import held_out_split

    sequences = read_sequences(data)
    held_out = held_out_split(sequences, valid_fraction=valid_fraction, test_fraction=0.0, seed=split_seed)
    parts = [[sequences.sequences[i] for i in held_out.rows(s)] for s in ("train", "valid", "test")]
    return TrainingSequences(*parts, rule=held_out.rule)


def _loader(sequences: list[str], batch_size: int, shuffle: bool, seed: int) -> DataLoader:
    dataset = TensorDataset(strings_to_tokens(sequences))
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator, drop_last=shuffle)


def _held_out_bits(model: torch.nn.Module, sequences: list[str], schedule) -> float:
    """Mean NELBO (bits per base) of up to ``HELD_OUT_LIMIT`` held-out sequences, seeded."""
    tokens = strings_to_tokens(sequences[:HELD_OUT_LIMIT])
    elbo = sequence_elbo(model, tokens, schedule, num_time_samples=8, generator=torch.Generator().manual_seed(0))
    return float(bits_per_base(-elbo, tokens.shape[1]).mean())


def choose_weights(module: PriorModule, valid: list[str], schedule) -> tuple[torch.nn.Module, str, dict]:
    """(weights to save, "ema" or "live", what the choice saw): the EMA unless the live weights have
    the lower held-out NELBO (then a warning); without an EMA, or without held-out rows, the one there is."""
    live = module.model.cpu().eval()
    if module.ema is None:
        return live, "live", {"saved_weights": "live (no EMA)"}
    ema = module.ema.cpu().eval()
    if not valid:
        return ema, "ema", {"saved_weights": "ema (no held-out rows to compare with)"}
    scores = {"ema": _held_out_bits(ema, valid, schedule), "live": _held_out_bits(live, valid, schedule)}
    notes = {f"valid_nelbo_bits_per_base_{k}": v for k, v in scores.items()}
    if scores["ema"] <= scores["live"]:
        return ema, "ema", {"saved_weights": "ema", **notes}
    warnings.warn(
        f"the EMA weights score {scores['ema']:.3f} bits/base on the held-out rows, worse than the live weights' "
        f"{scores['live']:.3f}: saving the live weights (train longer or lower --ema-decay for the EMA to help)",
        stacklevel=2,
    )
    return live, "live", {"saved_weights": "live (the EMA was worse on the held-out rows)", **notes}


def pretrain(config: PretrainConfig, out_dir: str | Path, resume: bool = True, progress: bool = True) -> dict:
    """Train (or resume) a prior into ``out_dir``: ``checkpoints/last.ckpt`` for resume, then the
    chosen weights (``choose_weights``) as ``model.pt`` + ``config.json`` and held-out ``metrics.json``."""
    out_dir = Path(out_dir)
    pl.seed_everything(config.seed, workers=True, verbose=False)
    splits = load_training_sequences(
        config.data, config.cell_type, config.table, valid_fraction=config.valid_fraction, split_seed=config.split_seed
    )
    if len(splits.train) < config.batch_size:
        raise InputError(
            f"{config.data}: {len(splits.train)} training sequences, fewer than one batch (--batch-size {config.batch_size})"
        )
    length = len(splits.train[0])
    schedule = make_schedule(config.schedule)
    ema_decay = config.ema_decay or None
    module = PriorModule(ConvDenoiser(config.backbone), schedule, config.lr, config.weight_decay, ema_decay, config.seed)
    checkpoint = pl.callbacks.ModelCheckpoint(dirpath=out_dir / "checkpoints", save_last=True, every_n_train_steps=500)
    valid = splits.valid
    trainer = pl.Trainer(
        max_steps=config.max_steps,
        max_time={"minutes": config.max_minutes} if config.max_minutes else None,
        accelerator=config.accelerator,
        devices=config.devices,
        strategy=config.strategy,
        precision=config.precision,
        callbacks=[checkpoint],
        val_check_interval=min(config.val_check_interval, config.max_steps) if valid else None,
        check_val_every_n_epoch=None if valid else 1,
        limit_val_batches=8 if valid else 0,
        logger=pl.loggers.CSVLogger(out_dir, name="logs"),
        # Lightning's 50, or every epoch when an epoch is shorter (small sets; drop_last batches)
        log_every_n_steps=max(1, min(50, len(splits.train) // config.batch_size)),
        enable_progress_bar=progress,
        enable_model_summary=False,
        default_root_dir=out_dir,
    )
    last = out_dir / "checkpoints" / "last.ckpt"
    started = time.time()
    trainer.fit(
        module,
        _loader(splits.train, config.batch_size, True, config.seed),
        _loader(valid, config.batch_size, False, config.seed) if valid else None,
        ckpt_path=str(last) if resume and last.exists() else None,
    )
    if trainer.global_rank != 0:
        return {}
    model, kind, choice = choose_weights(module, valid, schedule)
    metrics = {
        "train_minutes": (time.time() - started) / 60,
        "steps": trainer.global_step,
        "length": length,
        "held_out": splits.rule,
        "rows": {"train": len(splits.train), "valid": len(valid), "test": len(splits.test)},
        **choice,
    }
    if valid:
        bits = choice.get(f"valid_nelbo_bits_per_base_{kind}")
        bits = bits if bits is not None else _held_out_bits(model, valid, schedule)
        metrics["valid_nelbo_bits_per_base"] = bits
        metrics["valid_elbo_nats_per_sequence"] = -bits * length * math.log(2.0)
    if splits.test:
        metrics["test_nelbo_bits_per_base"] = _held_out_bits(model, splits.test, schedule)
    save_denoiser(out_dir, model, {"schedule": config.schedule, "length": length, "train_config": asdict(config)})
    metrics["model_sha256"] = sha256_file(out_dir / "model.pt")
    metrics["model_bytes"] = (out_dir / "model.pt").stat().st_size
    atomic_write_text(out_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return metrics


def pretrain_config(
    data: str | Path = "dhs",
    out: str | Path | None = None,
    *,
    force: bool = False,
    table: str | Path | None = None,
    cell_type: str | None = None,
    channels: int = 96,
    blocks: int = 8,
    steps: int = 20000,
    **fields,
) -> PretrainConfig:
    """The ``PretrainConfig`` of ``dnadav pretrain``'s options (``fields``: the config's other fields,
    e.g. batch_size, lr, ema_decay, valid_fraction, seed, max_minutes, devices); one-line InputError
    before any work for numbers no run can use, a missing file, or an ``out`` holding a trained model
    (unless ``force``)."""
    from dnadav.jobs.options import check_number

    for flag, value in (("--steps", steps), ("--batch-size", fields.get("batch_size")), ("--channels", channels)):
        check_number(flag, value, 1)
    check_number("--blocks", blocks, 1)
    check_number("--lr", fields.get("lr"), 0, strict=True)
    check_number("--max-minutes", fields.get("max_minutes"), 0, strict=True)
    check_number("--ema-decay", fields.get("ema_decay"), 0)
    if fields.get("ema_decay") is not None and not fields["ema_decay"] < 1:
        raise InputError(f"--ema-decay must be in [0, 1) (0: no EMA); got {fields['ema_decay']}")
    if not 0 <= fields.get("valid_fraction", 0.1) < 1:
        raise InputError(f"--valid-fraction must be a fraction in [0, 1); got {fields['valid_fraction']}")
    data = str(data)
    if cell_type is not None:
        from dnadav.data.dhs import CELL_TYPES

        if data != "dhs":
            raise InputError(f"--cell-type applies to --data dhs only; got --data {data}")
        if cell_type not in CELL_TYPES:
            raise InputError(f"--cell-type must be one of {', '.join(CELL_TYPES)}; got {cell_type!r}")
    if out is not None and (Path(out) / "model.pt").exists() and not force:
        raise InputError(f"{out}: already holds a trained model.pt; pass --force to retrain")
    if data == "gosai":
        from dnadav.data.gosai import default_gosai_table

        table = table or default_gosai_table()
    elif data != "dhs" and not Path(data).exists():
        raise InputError(f"{data}: no such file (use 'dhs' for the shipped DHS set or 'gosai' for the imported table)")
    return PretrainConfig(
        data=data,
        table=None if table is None else str(table),
        cell_type=cell_type,
        backbone=ConvDenoiserConfig(channels=channels, num_blocks=blocks),
        max_steps=steps,
        **fields,
    )
