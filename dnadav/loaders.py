"""Load the shipped (or a user's) denoisers and oracles by name or folder, with one-line errors.

``load_model("hepg2")`` -> a ``ConvDenoiser`` in eval mode: ``net(x_t [B, L] int64, t [B] float)
-> logits [B, L, 4]``. ``load_oracle("hepg2", role="eval")`` -> a ``CellTypeOracle`` (or
``RegressionOracle``) with ``reward(onehot [B, 4, L]) -> [B]`` and ``probability(onehot) -> [B]``.
Both read checkpoints through ``dnadav.checkpoints`` (``weights_only=True``; a bad folder is an
``InputError`` naming it). Every loaded module carries ``checkpoint_dir`` (its folder, for manifests)
and ``length`` (the sequence length it was trained on, or None when its config does not say).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch

from dnadav.checkpoints import load_state, read_checkpoint
from dnadav.errors import InputError

__all__ = ["Role", "load_model", "load_oracle", "oracle_length"]

Role = Literal["reward", "eval"]


def load_model(name_or_path: str | Path = "hepg2", device: torch.device | str = "cpu") -> torch.nn.Module:
    """A shipped model (``hepg2`` = ``hepg2_aligned``, ``dhs`` = ``dhs_prior``) or a folder with
    model.pt + config.json, in eval mode. ``.config_dict`` holds its config.json."""
    from dnadav.diffusion.checkpoint import load_denoiser, model_length, resolve_model_dir

    model, config = load_denoiser(name_or_path, device)
    model.config_dict = config
    model.checkpoint_dir = resolve_model_dir(name_or_path)
    model.length = model_length(config)
    return model


def _target_of(name_or_path: str | Path) -> str | None:
    """``"folder:K562"`` -> ``"K562"`` (a path that exists as given is never split)."""
    text = str(name_or_path)
    if ":" in text and not Path(text).exists():
        _, _, target = text.rpartition(":")
        if "/" not in target and "\\" not in target:
            return target or None
    return None


def load_oracle(name_or_path: str | Path = "hepg2", role: Role = "eval", device: torch.device | str = "cpu"):
    """A shipped oracle (``hepg2``, ``k562``, ``gm12878``, ``hesc``: the DHS classifier scored for
    that cell type) or a checkpoint folder (``folder`` or ``folder:TARGET``), in eval mode.

    ``role``: ``"eval"`` (default: the held-out oracle designs are judged by) or ``"reward"`` (the
    one alignment optimises); for a folder both roles are that folder."""
    from dnadav.oracles import CellTypeOracle, ConvClassifier, ConvClassifierConfig, ConvRegressor, RegressionOracle
    from dnadav.oracles.registry import SHIPPED_ORACLES, list_oracles, oracle_folder

    if role not in ("reward", "eval"):
        raise InputError(f"role must be reward or eval; got {role!r}")
    key = str(name_or_path).lower()
    directory = oracle_folder(name_or_path, role)
    if key not in SHIPPED_ORACLES and not directory.is_dir():
        raise InputError(
            f"{name_or_path}: not a shipped oracle (choose one of {', '.join(list_oracles())}) "
            "nor a folder with model.pt and config.json (optionally followed by :TARGET)"
        )
    state, config = read_checkpoint(directory, device)
    kinds = {"classifier": (ConvClassifier, CellTypeOracle), "regressor": (ConvRegressor, RegressionOracle)}
    if config.get("kind") not in kinds:
        raise InputError(f"{directory}/config.json: kind must be classifier or regressor; got {config.get('kind')!r}")
    network_class, wrapper = kinds[config["kind"]]
    try:
        network = network_class(ConvClassifierConfig.from_dict(dict(config["network"])))
        names = tuple(config["class_names"])
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(f"{directory}/config.json: bad network description ({error})") from None
    load_state(network, state, directory)
    target = SHIPPED_ORACLES[key] if key in SHIPPED_ORACLES else _target_of(name_or_path)
    target = target or config.get("default_target") or names[0]
    if target not in names:
        raise InputError(f"{name_or_path}: target {target!r} is not one of the oracle's outputs {', '.join(names)}")
    oracle = wrapper(network, names, target).to(device).eval()
    oracle.checkpoint_dir = directory
    oracle.length = oracle_length(oracle)
    return oracle


def oracle_length(oracle) -> int | None:
    """The sequence length an oracle was trained on (its network config's ``length``), else None."""
    network = getattr(oracle, "network", None)
    length = getattr(getattr(network, "config", None), "length", None)
    return int(length) if length is not None else getattr(oracle, "length", None)
