"""Train an oracle with Lightning: one thin module and one trainer for both oracle kinds.

* ``data="dhs"`` (classifier, cross-entropy): the four DHS cell types + a dinucleotide-shuffled
  background class. Train rows come from the chosen chromosome set only (train split), model
  selection sees the valid split (chr2) and the reported metrics the test split (chr1). The reward
  and evaluation oracles use disjoint chromosome sets, as DRAKES did.
* ``data="gosai"`` (regressor, MSE): an imported Gosai MPRA table (``dnadav data import-gosai``),
  predicting hepg2 / k562 / sknsh activity, split by the table's chromosome split.
* ``data=FILE`` (a user's FASTA / CSV / TSV / HDF5, ``dnadav.oracles.user_data``): the ``target``
  column(s) of the file (or of a ``labels`` table), regression or classification; held-out rows by
  the file's split or chromosome column, else a seeded stratified split; ``role`` picks one of two
  disjoint halves of the train rows.

Both get reverse-complement augmentation; the maths lives in plain functions, Lightning only runs it.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Literal

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from dnadav.dna.tokens import reverse_complement_onehot, tokens_to_onehot
from dnadav.io import atomic_write_text, sha256_file
from dnadav.oracles.card import write_card
from dnadav.oracles.cnn import ConvClassifier, ConvClassifierConfig, ConvRegressor
from dnadav.oracles.metrics import classification_metrics, expected_calibration_error, regression_metrics
from dnadav.oracles.registry import save_oracle
from dnadav.oracles.train_data import gosai_rows, labelled_dhs, prepare_data, subsample
from dnadav.oracles.user_data import fold_scale

__all__ = [
    "REWARD_CHROMOSOMES",
    "EVAL_CHROMOSOMES",
    "GOSAI_REWARD_CHROMOSOMES",
    "GOSAI_EVAL_CHROMOSOMES",
    "gosai_chromosomes",
    "OracleTrainConfig",
    "OracleModule",
    "labelled_dhs",
    "gosai_rows",
    "oracle_loss",
    "prepare_data",
    "random_reverse_complement",
    "classification_metrics",
    "expected_calibration_error",
    "train_command",
    "train_oracle",
]

REWARD_CHROMOSOMES = tuple(f"chr{i}" for i in range(3, 10))
EVAL_CHROMOSOMES = tuple(f"chr{i}" for i in range(10, 23)) + ("chrX", "chrY")
# DRAKES's Gosai oracles (drakes_dna/train_oracle.py): one trained on chr1–11, one on chr12–22.
GOSAI_REWARD_CHROMOSOMES = tuple(f"chr{i}" for i in range(1, 12))
GOSAI_EVAL_CHROMOSOMES = tuple(f"chr{i}" for i in range(12, 23))
REPRODUCIBILITY_NOTE = (
    "training is seeded (data order, background shuffles, initialisation, augmentation); re-running the command "
    "on the same hardware and software reproduces these metrics up to floating-point noise."
)
Task = Literal["classification", "regression"]


@dataclass
class OracleTrainConfig:
    role: Literal["reward", "eval"] = "reward"
    data: str = "dhs"  # "dhs", "gosai" or a user's sequence file (FASTA / CSV / TSV / HDF5)
    table: str | None = None  # data="gosai": the imported gosai.h5 (or a raw dataset.csv)
    # train rows from these; None = every train row (dhs, gosai) / the role's half (a file)
    chromosomes: tuple[str, ...] | None = REWARD_CHROMOSOMES
    target: str | None = None  # default scored class / column: HepG2 (dhs) or hepg2 (gosai); a file: its label column(s)
    labels: str | None = None  # a file: a CSV/TSV of labels joined on the record ids (else the file's own columns)
    task: Literal["regression", "classification"] | None = None  # a file: None = from the label column
    valid_fraction: float = 0.1  # a file without split or chromosome column: held-out shares of the rows
    test_fraction: float = 0.1
    split_seed: int = 0  # the held-out split's own seed (the same for the reward and the eval oracle)
    all_train_rows: bool = False  # a file: train on both halves of the train rows (one oracle for both roles)
    network: ConvClassifierConfig = field(default_factory=ConvClassifierConfig)
    epochs: int = 10
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0
    devices: int | str = 1
    accelerator: str = "auto"
    strategy: str = "auto"
    max_minutes: float | None = None  # stop training after this wall time (Lightning max_time)
    max_rows: int | None = None  # random subset of each split, for smoke tests only

    @property
    def is_file(self) -> bool:
        """True when ``data`` names a user's file (not the shipped ``dhs`` or the imported ``gosai``)."""
        return self.data not in ("dhs", "gosai")


def gosai_chromosomes(role: str) -> tuple[str, ...]:
    """DRAKES's training chromosomes for the Gosai ``role`` (reward: chr1–11, eval: chr12–22); rows on
    the table's valid / test chromosomes stay out of training either way."""
    return GOSAI_REWARD_CHROMOSOMES if role == "reward" else GOSAI_EVAL_CHROMOSOMES


def oracle_loss(outputs: torch.Tensor, targets: torch.Tensor, task: Task) -> torch.Tensor:
    """Cross-entropy (classification, ``targets [B]``) or mean squared error (regression, ``targets [B, K]``)."""
    if task == "classification":
        return torch.nn.functional.cross_entropy(outputs, targets)
    return torch.nn.functional.mse_loss(outputs, targets)


def random_reverse_complement(onehot: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Each sequence of ``onehot [B, 4, L]`` replaced by its reverse complement (``dnadav.dna.tokens``) with
    probability 1/2 -> ``[B, 4, L]``; the coin flips come from ``generator`` (None: torch's default one)."""
    flip = torch.rand(len(onehot), generator=generator, device=onehot.device) < 0.5
    return torch.where(flip[:, None, None], reverse_complement_onehot(onehot), onehot)


class OracleModule(pl.LightningModule):
    """Thin Lightning wrapper: the loss is ``oracle_loss`` on reverse-complement-augmented one-hots."""

    def __init__(self, network: ConvClassifier, task: Task, lr: float, weight_decay: float):
        super().__init__()
        self.network, self.task, self.lr, self.weight_decay = network, task, lr, weight_decay

    def training_step(self, batch, batch_idx):
        tokens, targets = batch
        loss = oracle_loss(self.network(random_reverse_complement(tokens_to_onehot(tokens))), targets, self.task)
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        tokens, targets = batch
        outputs = self.network(tokens_to_onehot(tokens))
        self.log("valid/loss", oracle_loss(outputs, targets, self.task), prog_bar=True, sync_dist=True)
        if self.task == "classification":
            self.log("valid/accuracy", (outputs.argmax(-1) == targets).float().mean(), prog_bar=True, sync_dist=True)

    def configure_optimizers(self):
        optimiser = torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=self.trainer.max_epochs)
        return [optimiser], [schedule]


@torch.no_grad()
def predict(network: ConvClassifier, tokens: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """``tokens [N, L] -> outputs [N, K]`` in eval mode on the CPU."""
    network.eval()
    return torch.cat([network(tokens_to_onehot(tokens[i : i + batch_size])) for i in range(0, len(tokens), batch_size)])


def train_command(config: OracleTrainConfig, out_dir: str | Path) -> str:
    """The ``dnadav oracle train`` command line that reproduces ``config`` (written into the card)."""
    defaults = REWARD_CHROMOSOMES if config.role == "reward" else EVAL_CHROMOSOMES
    parts = ["dnadav oracle train", f"--data {config.data}", f"--role {config.role}"]
    if config.table:
        parts.append(f"--table {config.table}")
    if config.is_file:
        parts += [f"--labels {config.labels}"] if config.labels else []
        parts += [f"--task {config.task}"] if config.task else []
        if config.chromosomes:
            parts.append(f"--chromosomes {','.join(config.chromosomes)}")
        elif config.all_train_rows:
            parts.append("--chromosomes all")
        for name, default in (("valid_fraction", 0.1), ("test_fraction", 0.1), ("split_seed", 0)):
            if getattr(config, name) != default:
                parts.append(f"--{name.replace('_', '-')} {getattr(config, name)}")
    elif config.chromosomes is None and config.data == "dhs":
        parts.append("--chromosomes all")
    elif config.chromosomes is not None and (config.data == "gosai" or config.chromosomes != defaults):
        parts.append(f"--chromosomes {','.join(config.chromosomes)}")
    if config.target:
        parts.append(f"--target {config.target}")
    if config.network.channels != ConvClassifierConfig.channels:
        parts.append(f"--channels {config.network.channels}")
    parts += [f"--epochs {config.epochs}", f"--batch-size {config.batch_size}", f"--lr {config.lr}", f"--seed {config.seed}"]
    for name in ("max_minutes", "max_rows"):
        if getattr(config, name) is not None:
            parts.append(f"--{name.replace('_', '-')} {getattr(config, name)}")
    for name, default in (("accelerator", "auto"), ("devices", 1), ("strategy", "auto")):
        if getattr(config, name) != default:
            parts.append(f"--{name} {getattr(config, name)}")
    return " ".join([*parts, f"--out {out_dir}", "--force"])


def _hardware(trainer: pl.Trainer) -> str:
    if torch.cuda.is_available() and trainer.strategy.root_device.type == "cuda":
        return f"{trainer.num_devices} × {torch.cuda.get_device_name(trainer.strategy.root_device)}"
    return f"CPU, {trainer.num_devices} process(es) × {torch.get_num_threads()} threads"


def train_oracle(config: OracleTrainConfig, out_dir: str | Path, progress: bool = True) -> dict:
    """Train, evaluate on the held-out splits and save an oracle into ``out_dir``.

    Writes model.pt + config.json (``save_oracle``), metrics.json and card.md; returns the metrics
    (``{}`` on DDP ranks other than 0, which write nothing).
    """
    out_dir = Path(out_dir)
    pl.seed_everything(config.seed, workers=True, verbose=False)
    started = time.time()
    prepared = prepare_data(config)
    names, target, task = prepared.names, prepared.target, prepared.task
    kind = "classifier" if task == "classification" else "regressor"
    sizes = {**config.network.to_dict(), "length": prepared.length}
    if config.data != "dhs":
        sizes["num_outputs"] = len(names)
    network = (ConvClassifier if kind == "classifier" else ConvRegressor)(ConvClassifierConfig(**sizes))
    train, valid, test = (subsample(d, config.max_rows, config.seed + i) for i, d in enumerate(prepared.splits))
    fit_train, fit_valid = train, valid
    if prepared.scale is not None:  # standardised targets for training; the scale is folded back below
        fit_train, fit_valid = (train[0], prepared.scale.standardise(train[1])), (valid[0], prepared.scale.standardise(valid[1]))
    processes = config.devices if isinstance(config.devices, int) else 1
    batches = max(1, math.ceil(len(train[0]) / (config.batch_size * processes)))  # per epoch and process
    trainer = pl.Trainer(
        max_epochs=config.epochs,
        log_every_n_steps=min(50, batches),  # Lightning's 50, or every epoch when an epoch is shorter (small sets)
        max_time=timedelta(minutes=config.max_minutes) if config.max_minutes else None,
        accelerator=config.accelerator,
        devices=config.devices,
        strategy=config.strategy,
        enable_progress_bar=progress,
        enable_model_summary=False,
        logger=pl.loggers.CSVLogger(out_dir, name="logs"),
        enable_checkpointing=False,
        default_root_dir=out_dir,
        deterministic=True,
    )
    trainer.fit(
        OracleModule(network, task, config.lr, config.weight_decay),
        DataLoader(
            TensorDataset(*fit_train),
            batch_size=config.batch_size,
            shuffle=True,
            generator=torch.Generator().manual_seed(config.seed),
        ),
        DataLoader(TensorDataset(*fit_valid), batch_size=1024),
    )
    if trainer.global_rank != 0:
        return {}
    network = network.cpu().eval()
    if prepared.scale is not None:
        fold_scale(network, prepared.scale)
    background = "shuffled" if config.data == "dhs" else None
    evaluate = (
        (lambda d: classification_metrics(predict(network, d[0]), d[1], names, target, background))
        if kind == "classifier"
        else (lambda d: regression_metrics(predict(network, d[0]), d[1], names))
    )
    command = train_command(config, out_dir)
    metrics = {
        "role": config.role,
        "train_rows": int(len(train[0])),
        "train_minutes": (time.time() - started) / 60,
        "epochs_completed": int(trainer.current_epoch),
        "hardware": _hardware(trainer),
        "command": command,
        "valid": evaluate(valid),
        "test": evaluate(test),
    }
    metadata = {
        "default_target": target,
        "role": config.role,
        "train_config": asdict(config),
        "data": f"{config.data}: {prepared.notes['split_rule']}",
        **({"user_data": prepared.notes} if config.is_file else {}),
    }
    save_oracle(out_dir, network, kind, names, metadata)
    metrics["model_sha256"] = sha256_file(out_dir / "model.pt")
    metrics["model_bytes"] = (out_dir / "model.pt").stat().st_size
    atomic_write_text(out_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    write_card(out_dir, command, REPRODUCIBILITY_NOTE)
    return metrics
