"""Train a DHS cell-type oracle with Lightning: four cell types + a dinucleotide-shuffled background.

Train rows come from the chosen chromosome set only (train split), model selection uses the valid
split (chr2) and the reported metrics the test split (chr1); reward and evaluation oracles use
disjoint chromosome sets, as DRAKES did.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from sklearn.metrics import roc_auc_score
from torch.utils.data import DataLoader, TensorDataset

from dnadav.data.dhs import CELL_TYPES, load_dhs
from dnadav.io import atomic_write_text, sha256_file
from dnadav.oracles.cnn import ConvClassifier, ConvClassifierConfig, reverse_complement_onehot
from dnadav.oracles.registry import DHS_CLASSES, save_oracle
from dnadav.oracles.shuffle import dinucleotide_shuffle
from dnadav.seq import strings_to_tokens, tokens_to_onehot

__all__ = [
    "REWARD_CHROMOSOMES",
    "EVAL_CHROMOSOMES",
    "OracleTrainConfig",
    "labelled_dhs",
    "classification_metrics",
    "train_oracle",
]

REWARD_CHROMOSOMES = tuple(f"chr{i}" for i in range(3, 10))
EVAL_CHROMOSOMES = tuple(f"chr{i}" for i in range(10, 23)) + ("chrX", "chrY")


@dataclass
class OracleTrainConfig:
    role: str = "reward"
    chromosomes: tuple[str, ...] = REWARD_CHROMOSOMES
    network: ConvClassifierConfig = field(default_factory=ConvClassifierConfig)
    epochs: int = 10
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0
    devices: int | str = 1
    accelerator: str = "auto"
    strategy: str = "auto"


def labelled_dhs(split: str, chromosomes: tuple[str, ...] | None, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``tokens [N, L]`` and labels ``[N]`` (0..3 cell types, 4 = shuffled background).

    The background class holds dinucleotide shuffles of a random quarter of the real rows, so it is
    about as large as each cell-type class.
    """
    table = load_dhs(split, chromosomes=chromosomes)
    tokens = strings_to_tokens(table["sequence"].tolist())
    labels = torch.tensor(table["cell_type"].map(CELL_TYPES.index).to_numpy())
    rng = np.random.default_rng(seed)
    chosen = torch.from_numpy(rng.choice(len(tokens), size=len(tokens) // 4, replace=False))
    shuffled = dinucleotide_shuffle(tokens[chosen], rng)
    return torch.cat([tokens, shuffled]), torch.cat([labels, torch.full((len(shuffled),), 4)])


class ClassifierModule(pl.LightningModule):
    def __init__(self, network: ConvClassifier, lr: float, weight_decay: float):
        super().__init__()
        self.network, self.lr, self.weight_decay = network, lr, weight_decay

    def training_step(self, batch, batch_idx):
        tokens, labels = batch
        onehot = tokens_to_onehot(tokens)
        flip = torch.rand(len(onehot), device=onehot.device) < 0.5  # reverse-complement augmentation
        onehot = torch.where(flip[:, None, None], reverse_complement_onehot(onehot), onehot)
        loss = torch.nn.functional.cross_entropy(self.network(onehot), labels)
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        tokens, labels = batch
        logits = self.network(tokens_to_onehot(tokens))
        self.log("valid/loss", torch.nn.functional.cross_entropy(logits, labels), prog_bar=True, sync_dist=True)
        self.log("valid/accuracy", (logits.argmax(-1) == labels).float().mean(), prog_bar=True, sync_dist=True)

    def configure_optimizers(self):
        optimiser = torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=self.trainer.max_epochs)
        return [optimiser], [schedule]


@torch.no_grad()
def predict_logits(network: ConvClassifier, tokens: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    network.eval()
    return torch.cat([network(tokens_to_onehot(tokens[i : i + batch_size])) for i in range(0, len(tokens), batch_size)])


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


def classification_metrics(logits: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Accuracy, per-class one-vs-rest AUROC, HepG2-vs-rest AUROC among real sequences, HepG2 ECE."""
    probs = torch.softmax(logits, dim=-1).numpy()
    y = labels.numpy()
    metrics = {"accuracy": float((probs.argmax(1) == y).mean()), "n": int(len(y))}
    for i, name in enumerate(DHS_CLASSES):
        metrics[f"auroc_{name}"] = float(roc_auc_score(y == i, probs[:, i]))
    real = y < 4
    hepg2 = DHS_CLASSES.index("HepG2")
    metrics["auroc_HepG2_vs_other_cell_types"] = float(roc_auc_score(y[real] == hepg2, probs[real, hepg2]))
    metrics["ece_HepG2"] = expected_calibration_error(probs[:, hepg2], (y == hepg2).astype(float))
    return metrics


def train_oracle(config: OracleTrainConfig, out_dir: str | Path, progress: bool = True) -> dict:
    """Train, evaluate on the test chromosome and save an oracle (model.pt, config.json, metrics.json)."""
    out_dir = Path(out_dir)
    pl.seed_everything(config.seed, workers=True, verbose=False)
    started = time.time()
    train = labelled_dhs("train", config.chromosomes, config.seed)
    valid = labelled_dhs("valid", None, config.seed + 1)
    test = labelled_dhs("test", None, config.seed + 2)
    network = ConvClassifier(config.network)
    generator = torch.Generator().manual_seed(config.seed)
    trainer = pl.Trainer(
        max_epochs=config.epochs,
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
        ClassifierModule(network, config.lr, config.weight_decay),
        DataLoader(TensorDataset(*train), batch_size=config.batch_size, shuffle=True, generator=generator),
        DataLoader(TensorDataset(*valid), batch_size=1024),
    )
    if trainer.global_rank != 0:
        return {}
    network = network.cpu().eval()
    metrics = {
        "role": config.role,
        "train_rows": int(len(train[0])),
        "train_minutes": (time.time() - started) / 60,
        "valid": classification_metrics(predict_logits(network, valid[0]), valid[1]),
        "test": classification_metrics(predict_logits(network, test[0]), test[1]),
    }
    save_oracle(
        out_dir,
        network,
        "classifier",
        DHS_CLASSES,
        {
            "default_target": "HepG2",
            "role": config.role,
            "train_config": asdict(config),
            "data": "dhs (datasets/dhs): train split of the chromosomes in train_config; valid = chr2, test = chr1",
        },
    )
    metrics["model_sha256"] = sha256_file(out_dir / "model.pt")
    metrics["model_bytes"] = (out_dir / "model.pt").stat().st_size
    atomic_write_text(out_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return metrics
