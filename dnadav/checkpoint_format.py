"""One on-disk format for every checkpoint kind (denoisers and oracles): a folder holding
``model.pt`` (a plain state dict: tensor names -> tensors, CPU) and ``config.json`` (what to build).

Saving and loading go through here so every kind gets the same guarantees: writes are atomic,
loading never unpickles objects (``torch.load(..., weights_only=True)``), and a bad checkpoint — a
pickle that is not plain tensors, a truncated file, weights of another architecture, a missing or
unreadable config — is an ``InputError`` naming the folder and the problem (the CLI exits with 2).
Kind-specific modules (``dnadav.dna.checkpoint``, the oracle registry) say *what* to build.
"""

from __future__ import annotations

import io
import json
import pickle
import struct
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import torch

from dnadav.errors import InputError, shown
from dnadav.io import atomic_write_bytes, atomic_write_text, read_json_object

__all__ = [
    "CONFIG_FILE",
    "MAX_BLOCKS",
    "MAX_KERNEL",
    "MAX_LENGTH",
    "MAX_WIDTH",
    "MODEL_FILE",
    "build_checked",
    "check_sizes",
    "load_state",
    "read_checkpoint",
    "read_config",
    "save_checkpoint",
]

MODEL_FILE = "model.pt"
CONFIG_FILE = "config.json"
# Limits on the sizes a config.json may ask for, checked before anything is built (a config is a
# user's file: channels = 10^7 would otherwise make torch try to allocate terabytes).
MAX_WIDTH = 65_536  # channels, hidden and embedding widths, outputs
MAX_BLOCKS = 1_024  # blocks, layers, entries of a per-layer list
MAX_KERNEL = 4_096  # kernel sizes, dilations, pooling widths
MAX_LENGTH = 1_000_000  # sequence lengths (bases)
Module = TypeVar("Module", bound=torch.nn.Module)


def save_checkpoint(directory: str | Path, module: torch.nn.Module, config: dict[str, Any], *, float32: bool = False) -> Path:
    """Write ``module``'s state dict (detached, CPU; cast to float32 if ``float32``) as ``model.pt``
    and ``config`` as ``config.json`` into ``directory`` (atomic writes). Returns ``directory``."""
    directory = Path(directory)
    state = {
        k: (v.detach().float() if float32 and v.is_floating_point() else v.detach()).cpu() for k, v in module.state_dict().items()
    }
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(directory / MODEL_FILE, buffer.getvalue())
    atomic_write_text(directory / CONFIG_FILE, json.dumps(config, indent=2, default=str) + "\n")
    return directory


def read_config(directory: str | Path) -> dict[str, Any]:
    """``config.json`` of a checkpoint folder as a dict; InputError if missing or not a JSON object."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise InputError(f"{directory}: no {CONFIG_FILE} beside {MODEL_FILE}; a checkpoint folder needs both")
    return read_json_object(path)


def read_checkpoint(directory: str | Path, device: torch.device | str = "cpu") -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(state dict, config) of a checkpoint folder, validated; InputError naming the problem."""
    directory = Path(directory)
    weights = directory / MODEL_FILE
    if not weights.is_file():
        raise InputError(f"{directory}: no {MODEL_FILE} (a checkpoint folder holds {MODEL_FILE} and {CONFIG_FILE})")
    config = read_config(directory)
    try:
        state = torch.load(weights, map_location=device, weights_only=True)
    except pickle.UnpicklingError as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InputError(f"{weights}: not a plain-tensor checkpoint; refusing to unpickle it ({reason[:160]})") from None
    except (KeyError, IndexError, TypeError, struct.error, UnicodeDecodeError, MemoryError, RecursionError):
        # bytes that are no checkpoint at all derail the weights-only unpickler in many ways
        raise InputError(f"{weights}: not a PyTorch checkpoint (unreadable as a saved state dict)") from None
    except (RuntimeError, EOFError, OSError, ValueError, AttributeError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InputError(f"{weights}: truncated or corrupt ({first[:160]})") from None
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise InputError(f"{weights}: expected a state dict of named tensors; got {type(state).__name__}")
    broken = next((k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())), None)
    if broken is not None:
        raise InputError(f"{weights}: weight {broken} holds nan or inf; the checkpoint is corrupt")
    return state, config


def check_sizes(values: Mapping[str, Any], limits: Mapping[str, int], where: str) -> None:
    """InputError unless each ``values[name]`` named in ``limits`` (when present) is a whole number in
    [1, limit], or a list/tuple of at most ``MAX_BLOCKS`` such numbers; the message names the field
    and the limit. Run on a config before anything is built from it."""
    for name, limit in limits.items():
        if name not in values or values[name] is None:
            continue
        value = values[name]
        items = list(value[: MAX_BLOCKS + 1]) if isinstance(value, (list, tuple)) else [value]
        if isinstance(value, (list, tuple)) and not 1 <= len(value) <= MAX_BLOCKS:
            raise InputError(f"{where}: {name} has {len(value)} entries; expected 1..{MAX_BLOCKS}")
        for item in items:
            if isinstance(item, bool) or not isinstance(item, int):
                raise InputError(f"{where}: {name} must be a whole number; got {shown(value)}")
            if not 1 <= item <= limit:
                raise InputError(f"{where}: {name} = {shown(item)} is outside 1..{limit} (the limit on sizes read from configs)")


def build_checked(build: Callable[[], Module], state: dict[str, torch.Tensor], directory: str | Path) -> Module:
    """``build()`` with ``state`` loaded, the shapes checked first on the meta device (no memory):
    a config asking for more (or other) weights than ``model.pt`` holds is an InputError before any
    allocation. ``build`` must be a pure constructor (it runs twice; the meta run draws no random numbers)."""
    with _shapes_only():
        shell = build()
    detail = _mismatch({k: tuple(v.shape) for k, v in shell.state_dict().items()}, state)
    if detail:
        raise InputError(f"{directory}: {MODEL_FILE} does not fit the architecture in {CONFIG_FILE} ({detail})")
    return load_state(build(), state, directory)


@contextmanager
def _shapes_only() -> Iterator[None]:
    """Construction on the meta device with ``torch.nn.init``'s in-place fillers as no-ops: a shell's
    weights are never read, and filling a meta tensor goes through torch's reference ops, whose first
    call imports ``torch._dynamo`` (~1.5 s of every command's start-up; docs/benchmarks.md "evaluate")."""
    names = [name for name in dir(torch.nn.init) if name.endswith("_") and not name.startswith("_")]
    fillers = {name: getattr(torch.nn.init, name) for name in names}
    try:
        for name in fillers:
            setattr(torch.nn.init, name, _unfilled)
        with torch.device("meta"):
            yield
    finally:
        for name, filler in fillers.items():
            setattr(torch.nn.init, name, filler)


def _unfilled(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    return tensor


def _mismatch(expected: Mapping[str, tuple[int, ...]], state: Mapping[str, torch.Tensor]) -> str | None:
    """What differs between the shapes an architecture wants and a state dict (None: they fit)."""
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k])]
    if wrong:
        k = wrong[0]
        return f"{k} has shape {tuple(state[k].shape)}, the architecture wants {tuple(expected[k])}"
    if missing:
        return f"{len(missing)} weight(s) missing, e.g. {missing[0]}"
    if unexpected:
        return f"{len(unexpected)} unexpected weight(s), e.g. {unexpected[0]}"
    return None


def load_state(module: torch.nn.Module, state: dict[str, torch.Tensor], directory: str | Path) -> torch.nn.Module:
    """``module.load_state_dict(state)`` (strict); InputError when the weights are of another
    architecture than the one ``config.json`` describes. Returns ``module``."""
    detail = _mismatch({k: tuple(v.shape) for k, v in module.state_dict().items()}, state)
    if detail:
        raise InputError(f"{directory}: {MODEL_FILE} does not fit the architecture in {CONFIG_FILE} ({detail})")
    module.load_state_dict(state)
    return module
