"""Oracle checkpoints and names: ``load_oracle("hepg2", role="eval")`` or ``load_oracle("path/to/dir:K562")``.

A checkpoint is a folder with ``model.pt`` (a plain state dict, loaded with ``weights_only=True``;
nothing is ever unpickled) and ``config.json`` (``kind``: classifier or regressor, ``class_names``,
``network``: the architecture, ``default_target``, and training metadata).

Names: ``hepg2``, ``k562``, ``gm12878``, ``hesc`` (any case) are the shipped DHS classifiers scored
for that cell type; ``role`` picks ``oracles/dhs_reward`` (trained on chr3–chr9) or
``oracles/dhs_eval`` (chr10–chr22, X, Y). Anything else is, optionally followed by ``:TARGET`` to
pick the scored class / output column (default: the config's ``default_target``):

* a checkpoint folder (``model.pt`` + ``config.json``): the same oracle for both roles;
* a **pair folder** holding ``reward/`` and ``eval/`` checkpoint folders (``dnadav oracle train
  --out PAIR/reward`` and ``--out PAIR/eval``): ``role`` picks one, so ``--oracle PAIR`` gives
  align / design / evaluate disjoint reward and evaluation oracles;
* DRAKES's oracle folder (``reward_oracle_ft.ckpt`` = reward, ``reward_oracle_eval.ckpt`` = eval) or
  one such ``.ckpt`` file: gReLU Enformer regressors rebuilt offline (``dnadav.published``);
* ``FILE.py:NAME[:OUTPUT]``: your own PyTorch module or scoring function ``NAME`` in a Python file
  (``dnadav.oracles.user``; loading it **runs the file's code**), and in Python any such module or
  callable object itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch

from dnadav.assets import asset_root
from dnadav.checkpoint_format import (
    MAX_BLOCKS,
    MAX_KERNEL,
    MAX_LENGTH,
    MAX_WIDTH,
    build_checked,
    check_sizes,
    read_checkpoint,
    save_checkpoint,
)
from dnadav.errors import InputError, shown
from dnadav.oracles.base import CellTypeOracle, RegressionOracle
from dnadav.oracles.cnn import ConvClassifier, ConvClassifierConfig, ConvRegressor

__all__ = [
    "Role",
    "Kind",
    "SHIPPED_ORACLES",
    "DHS_CLASSES",
    "save_oracle",
    "load_oracle",
    "list_oracles",
    "load_published_oracle",
    "oracle_folder",
]

Role = Literal["reward", "eval"]
Kind = Literal["classifier", "regressor"]
DHS_CLASSES: tuple[str, ...] = ("HepG2", "K562", "GM12878", "hESC", "shuffled")
# name -> target class of the shipped DHS classifiers (oracles/dhs_reward, oracles/dhs_eval)
SHIPPED_ORACLES = {"hepg2": "HepG2", "k562": "K562", "gm12878": "GM12878", "hesc": "hESC"}
_SHIPPED_FOLDERS = {"reward": "dhs_reward", "eval": "dhs_eval"}
_NETWORKS = {"classifier": ConvClassifier, "regressor": ConvRegressor}
# The sizes a config.json's ``network`` may ask for (checked before anything is built).
NETWORK_LIMITS = {
    "num_outputs": MAX_BLOCKS,
    "channels": MAX_WIDTH,
    "first_kernel": MAX_KERNEL,
    "kernels": MAX_KERNEL,
    "dilations": MAX_KERNEL,
    "pool": MAX_KERNEL,
    "length": MAX_LENGTH,
}


def save_oracle(
    directory: str | Path,
    network: ConvClassifier,
    kind: Kind,
    class_names: tuple[str, ...],
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write ``model.pt`` (plain state dict) + ``config.json`` into ``directory`` (``dnadav.checkpoint_format``).

    ``class_names`` names the network's outputs (classes or regression targets); ``metadata`` (e.g.
    ``default_target``, training config) is merged into config.json.
    """
    if kind not in _NETWORKS:
        raise ValueError(f"kind must be one of {', '.join(_NETWORKS)}; got {kind!r}")
    if len(class_names) != network.config.num_outputs:
        raise ValueError(f"{len(class_names)} class names for a network with {network.config.num_outputs} outputs")
    config = {"kind": kind, "class_names": list(class_names), "network": network.config.to_dict(), **(metadata or {})}
    return save_checkpoint(directory, network, config)


def _load_dir(directory: Path, target: str | None, device: str | torch.device) -> CellTypeOracle | RegressionOracle:
    state, config = read_checkpoint(directory)
    kind = config.get("kind")
    if not isinstance(kind, str) or kind not in _NETWORKS:
        raise InputError(f"{directory}/config.json: kind must be one of {', '.join(_NETWORKS)}; got {shown(kind)}")
    if not isinstance(config.get("network"), dict):
        raise InputError(f"{directory}/config.json: network must be a mapping of the architecture's sizes")
    check_sizes(config["network"], NETWORK_LIMITS, f"{directory}/config.json: network")
    names = config.get("class_names")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise InputError(f"{directory}/config.json: class_names must be a non-empty list of names; got {shown(names)}")
    names = tuple(names)
    try:
        network_config = ConvClassifierConfig.from_dict(dict(config["network"]))
        network = build_checked(lambda: _NETWORKS[kind](network_config), state, directory)
    except InputError:
        raise
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(f"{directory}/config.json: bad network description ({str(error)[:200]})") from None
    target = target or config.get("default_target") or names[0]
    if not isinstance(target, str) or target not in names:
        raise InputError(f"{directory}: target {shown(target)} is not one of the classes (outputs) {', '.join(names)}")
    wrapper = CellTypeOracle if kind == "classifier" else RegressionOracle
    oracle = wrapper(network, names, target).to(device).eval()
    oracle.config_dict = config
    oracle.checkpoint_file = directory / "model.pt"
    return oracle


def _split_target(name_or_path: str | Path) -> tuple[Path, str | None]:
    """``"dir:K562"`` -> (dir, "K562"); a path that exists as given is never split."""
    text = str(name_or_path)
    if ":" in text and not Path(text).exists():
        path, _, target = text.rpartition(":")
        if path and "/" not in target and "\\" not in target:
            return Path(path), target or None
    return Path(text), None


def _is_checkpoint_dir(path: Path) -> bool:
    return (path / "model.pt").is_file() and (path / "config.json").is_file()


def oracle_folder(name_or_path: str | Path, role: Role = "reward") -> Path:
    """The checkpoint folder a name or path refers to for ``role`` (see the module docstring); no loading."""
    if role not in _SHIPPED_FOLDERS:
        raise InputError(f"role must be reward or eval; got {role!r}")
    key = str(name_or_path).lower()
    if key in SHIPPED_ORACLES:
        return asset_root("oracles") / _SHIPPED_FOLDERS[role]
    from dnadav.oracles.user import split_python_spec

    python = split_python_spec(name_or_path)
    if python is not None:
        return python[0].parent
    directory, _ = _split_target(name_or_path)
    if directory.is_file():
        return directory.parent
    if not _is_checkpoint_dir(directory) and _is_checkpoint_dir(directory / role):
        return directory / role
    return directory


def load_oracle(
    name_or_path: Any, role: Role = "reward", device: str | torch.device = "cpu"
) -> CellTypeOracle | RegressionOracle:
    """A shipped oracle by name, a user's checkpoint folder (``folder`` or ``folder:TARGET``), a
    ``FILE.py:NAME`` oracle (runs the file's code) or a module / callable object (``as_oracle``), in
    eval mode.

    Raises InputError listing the shipped names when ``name_or_path`` is none of these.
    """
    from dnadav.oracles.user import as_oracle, is_python_oracle, load_python_oracle

    if not isinstance(name_or_path, (str, Path)):
        return as_oracle(name_or_path, role, device=device)
    if is_python_oracle(name_or_path):
        return load_python_oracle(name_or_path, role, device)
    directory = oracle_folder(name_or_path, role)
    key = str(name_or_path).lower()
    if key in SHIPPED_ORACLES:
        if not (directory / "model.pt").is_file():
            raise FileNotFoundError(f"{directory}/model.pt is missing from this installation; reinstall dnadav")
        return _load_dir(directory, SHIPPED_ORACLES[key], device)
    path, target = _split_target(name_or_path)
    from dnadav.published.dispatch import is_checkpoint_file, published_oracle_file

    if is_checkpoint_file(path):
        return load_published_oracle(path, target, device)
    published = published_oracle_file(directory, role)
    if published is not None and not _is_checkpoint_dir(directory):
        return load_published_oracle(published, target, device)
    if not _is_checkpoint_dir(directory):
        raise InputError(
            f"{name_or_path}: not a shipped oracle (choose one of {', '.join(list_oracles())}) "
            "nor a folder with model.pt and config.json, reward/ and eval/ such folders, DRAKES's "
            "reward_oracle_ft.ckpt / reward_oracle_eval.ckpt (optionally followed by :TARGET), or FILE.py:NAME"
        )
    try:
        return _load_dir(directory, target, device)
    except InputError:
        raise
    except ValueError as error:
        raise InputError(f"{name_or_path}: {error}") from None


def list_oracles() -> list[str]:
    """Shipped names accepted by ``load_oracle`` (each for ``role="reward"`` and ``role="eval"``)."""
    return sorted(SHIPPED_ORACLES)


def load_published_oracle(path: str | Path, target: str | None = None, device: torch.device | str = "cpu"):
    """A DRAKES/gReLU oracle ``.ckpt`` as a ``RegressionOracle`` scored on ``target`` (default hepg2)."""
    from dnadav.published.enformer_oracle import load_grelu_oracle

    network, names = load_grelu_oracle(path)
    target = target or ("hepg2" if "hepg2" in names else names[0])
    if target not in names:
        raise InputError(f"{path}: target {target!r} is not one of the oracle's tasks {', '.join(names)}")
    oracle = RegressionOracle(network, names, target).to(device).eval()
    oracle.checkpoint_file = Path(path)
    return oracle
