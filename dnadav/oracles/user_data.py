"""A user's labelled file as an oracle's train / valid / test rows (``oracle train --data FILE``).

The held-out split follows ``dnadav.data.splits`` (a split column, whole chromosomes, or a seeded
split stratified by the label); the train rows are then cut into the reward and evaluation halves
and ``role`` picks one, so ``--role reward`` and ``--role eval`` give two oracles trained on
disjoint rows and judged on the same held-out ones. Regression targets are standardised on the
train rows for training (``TargetScale``) and the scale is folded back into the network's last
layer, so the saved oracle predicts in the file's own units.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from dnadav.data.labels import LabelledData, read_labelled
from dnadav.data.splits import held_out_split, reward_eval_halves
from dnadav.dna.tokens import strings_to_tokens
from dnadav.errors import InputError

__all__ = ["PreparedData", "TargetScale", "file_data", "fold_scale"]

Data = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class TargetScale:
    """Per-output mean and standard deviation ``[K]`` of the train targets (regression)."""

    mean: np.ndarray
    std: np.ndarray

    def standardise(self, targets: torch.Tensor) -> torch.Tensor:
        return (targets - torch.from_numpy(self.mean).float()) / torch.from_numpy(self.std).float()


@dataclass(frozen=True)
class PreparedData:
    """An oracle's rows: ``splits`` = (train, valid, test) as (tokens ``[N, L]``, targets), the output
    (class) ``names``, the task, the default scored output and ``notes`` for its config and card."""

    splits: tuple[Data, Data, Data]
    names: tuple[str, ...]
    task: str
    target: str
    length: int
    notes: dict = field(default_factory=dict)
    scale: TargetScale | None = None


def _rows(data: LabelledData, rows: np.ndarray) -> Data:
    tokens = strings_to_tokens([data.table.sequences[i] for i in rows]) if len(rows) else torch.zeros(0, 0, dtype=torch.long)
    targets = torch.from_numpy(data.targets[rows].copy())
    return tokens, targets


def _train_rows(config, data: LabelledData, held_out, halves: dict[str, np.ndarray]) -> tuple[np.ndarray, str]:
    """The rows this oracle trains on, and which: its role's half, every train row, or given chromosomes."""
    if config.chromosomes:
        if held_out.chromosomes is None:
            raise InputError(f"{data.table.source}: --chromosomes needs a chromosome column (chrom, chromosome, chr)")
        rows = held_out.rows("train")
        rows = rows[np.isin(held_out.chromosomes[rows], list(config.chromosomes))]
        return rows, f"the train rows on {', '.join(config.chromosomes)}"
    if config.all_train_rows:
        return held_out.rows("train"), "every train row (both halves)"
    return halves[config.role], f"the {config.role} half"


def file_data(config) -> PreparedData:
    """``config`` (an ``OracleTrainConfig`` whose ``data`` is a file) -> its ``PreparedData``."""
    data = read_labelled(config.data, config.target or "", labels=config.labels, task=config.task)
    strata = data.strata
    held_out = held_out_split(
        data.table,
        valid_fraction=config.valid_fraction,
        test_fraction=config.test_fraction,
        seed=config.split_seed,
        strata=strata,
    )
    halves, halves_rule = reward_eval_halves(held_out, config.split_seed, strata)
    train, which = _train_rows(config, data, held_out, halves)
    for part, rows in (("train", train), ("valid", held_out.rows("valid")), ("test", held_out.rows("test"))):
        if not len(rows):
            raise InputError(f"{data.table.source}: no {part} rows for this oracle ({held_out.rule}; {which})")
    splits = (_rows(data, train), _rows(data, held_out.rows("valid")), _rows(data, held_out.rows("test")))
    scale = None
    if data.task == "regression":
        values = data.targets[train]
        std = values.std(axis=0)
        scale = TargetScale(values.mean(axis=0).astype(np.float64), np.where(std > 0, std, 1.0).astype(np.float64))
    notes = {
        "columns": list(data.columns),
        "task": data.task,
        "split_rule": held_out.rule,
        "halves_rule": halves_rule,
        "train_rows_rule": which,
        "rows_without_label": data.missing,
        "rows": {"train": int(len(train)), "valid": int(len(held_out.rows("valid"))), "test": int(len(held_out.rows("test")))},
    }
    return PreparedData(splits, data.names, data.task, data.target, len(data.table.sequences[0]), notes, scale)


@torch.no_grad()
def fold_scale(network: torch.nn.Module, scale: TargetScale) -> None:
    """Fold ``y = mean + std · ŷ`` into the last ``Linear`` of ``network.head`` (in place, exact): the
    network trained on standardised targets then predicts in the file's units."""
    last = network.head[-1]
    std = torch.from_numpy(scale.std).to(last.weight)
    last.weight.mul_(std[:, None])
    last.bias.mul_(std).add_(torch.from_numpy(scale.mean).to(last.bias))
