"""The rows an oracle trains on, by data kind: the shipped DHS set (with its shuffled background
class), an imported Gosai table, or a user's labelled file (``dnadav.oracles.user_data``) ->
``PreparedData`` (train / valid / test, output names, task, default target)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dnadav.data.dhs import CELL_TYPES, load_dhs
from dnadav.data.gosai import GOSAI_TARGETS, gosai_arrays
from dnadav.dna.tokens import strings_to_tokens
from dnadav.errors import InputError
from dnadav.oracles.registry import DHS_CLASSES
from dnadav.oracles.shuffle import dinucleotide_shuffle
from dnadav.oracles.user_data import PreparedData, file_data

__all__ = ["Data", "gosai_rows", "labelled_dhs", "prepare_data", "subsample"]

Data = tuple[torch.Tensor, torch.Tensor]  # tokens [N, L], targets [N] (class index) or [N, K] (float)


def labelled_dhs(split: str, chromosomes: tuple[str, ...] | None, seed: int) -> Data:
    """``tokens [N, L]`` and labels ``[N]`` (0..3 cell types, 4 = shuffled background).

    The background class holds dinucleotide shuffles of a random quarter of the real rows, so it is
    about as large as each cell-type class (the four real classes are balanced in the DHS set).
    """
    table = load_dhs(split, chromosomes=chromosomes)
    tokens = strings_to_tokens(table["sequence"].tolist())
    labels = torch.tensor(table["cell_type"].map(CELL_TYPES.index).to_numpy())
    rng = np.random.default_rng(seed)
    chosen = torch.from_numpy(rng.choice(len(tokens), size=len(tokens) // 4, replace=False))
    shuffled = dinucleotide_shuffle(tokens[chosen], rng)
    return torch.cat([tokens, shuffled]), torch.cat([labels, torch.full((len(shuffled),), 4)])


def gosai_rows(table_path: str | Path, split: str, chromosomes: tuple[str, ...] | None = None) -> Data:
    """``tokens [N, L]`` and activities ``[N, 3]`` (hepg2, k562, sknsh) of one split of a Gosai table
    (the imported ``gosai.h5``, a legacy ``gosai.tsv.gz`` or a raw ``dataset.csv``, split here);
    ``chromosomes`` restricts the train split only (valid / test stay whole)."""
    tokens, targets, _ = gosai_arrays(table_path, split, chromosomes if split == "train" else None)
    return torch.from_numpy(tokens.astype(np.int64)), torch.from_numpy(targets.copy())


def subsample(data: Data, max_rows: int | None, seed: int) -> Data:
    if max_rows is None or len(data[0]) <= max_rows:
        return data
    keep = torch.from_numpy(np.random.default_rng(seed).choice(len(data[0]), size=max_rows, replace=False))
    return data[0][keep], data[1][keep]


def prepare_data(config) -> PreparedData:
    """The train / valid / test rows of ``config``'s data (an ``OracleTrainConfig``), its output names,
    task and default target."""
    if config.is_file:
        return file_data(config)
    if config.data == "dhs":
        splits = tuple(
            labelled_dhs(s, c, config.seed + i)
            for i, (s, c) in enumerate([("train", config.chromosomes), ("valid", None), ("test", None)])
        )
        names, task, target, note = DHS_CLASSES, "classification", config.target or "HepG2", "valid = chr2, test = chr1"
    else:
        if config.table is None:
            raise InputError("--data gosai needs --table (the gosai.h5 written by `dnadav data import-gosai`)")
        splits = tuple(gosai_rows(config.table, s, config.chromosomes) for s in ("train", "valid", "test"))
        names, task, target, note = GOSAI_TARGETS, "regression", config.target or "hepg2", "the imported table's split column"
    if target not in names:
        raise InputError(f"--target must be one of {', '.join(names)}; got {target!r}")
    return PreparedData(splits, names, task, target, int(splits[0][0].shape[1]), {"split_rule": note})  # type: ignore[arg-type]
