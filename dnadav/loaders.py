"""Load the shipped (or a user's) denoisers and oracles by name or folder, with one-line errors.

``load_model("hepg2")`` -> a ``ConvDenoiser`` in eval mode: ``net(x_t [B, L] int64, t [B] float)
-> logits [B, L, 4]``. ``load_oracle("hepg2", role="eval")`` -> a ``CellTypeOracle`` (or
``RegressionOracle``) with ``reward(onehot [B, 4, L]) -> [B]`` and ``probability(onehot) -> [B]``.
Both read checkpoints through ``dnadav.checkpoint_format`` (``weights_only=True``; a bad folder is an
``InputError`` naming it). Every loaded module carries ``checkpoint_file`` (its weights file, for manifests)
and ``length`` (the sequence length it was trained on, or None when its config does not say).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch

__all__ = ["Role", "load_model", "load_oracle", "oracle_length"]

Role = Literal["reward", "eval"]


def load_model(name_or_path: str | Path = "hepg2", device: torch.device | str = "cpu") -> torch.nn.Module:
    """A shipped model (``hepg2`` = ``hepg2_aligned``, ``dhs`` = ``dhs_prior``), a folder with
    model.pt + config.json, or a published DRAKES MDLM ``.ckpt`` (raw weights, as DRAKES sampled;
    see ``dnadav.published``), in eval mode. ``.config_dict`` holds its config, ``.checkpoint_file``
    the weights file (for manifests), ``.length`` the length it was trained on."""
    from dnadav.dna.checkpoint import model_length
    from dnadav.published.dispatch import load_denoiser_any

    model, config = load_denoiser_any(name_or_path, device)
    model.config_dict = config
    model.length = model_length(config)
    return model


def load_oracle(name_or_path: str | Path = "hepg2", role: Role = "eval", device: torch.device | str = "cpu"):
    """A shipped oracle (``hepg2``, ``k562``, ``gm12878``, ``hesc``: the DHS classifier scored for
    that cell type), a checkpoint folder (``folder`` or ``folder:TARGET``; a folder with ``reward/``
    and ``eval/``; DRAKES's ``reward_oracle_ft.ckpt`` / ``reward_oracle_eval.ckpt``) or a published
    ``.ckpt`` file, in eval mode (``dnadav.oracles.registry.load_oracle`` does the loading).

    ``role``: ``"eval"`` (default: the held-out oracle designs are judged by) or ``"reward"`` (the
    one alignment optimises). The result carries ``checkpoint_file`` (for manifests) and ``length``."""
    from dnadav.oracles.registry import load_oracle as load_registered

    oracle = load_registered(name_or_path, role, device)
    oracle.length = oracle_length(oracle)
    return oracle


def oracle_length(oracle) -> int | None:
    """The sequence length an oracle was trained on (its network config's ``length``), else None."""
    network = getattr(oracle, "network", None)
    length = getattr(getattr(network, "config", None), "length", None)
    return int(length) if length is not None else getattr(oracle, "length", None)
