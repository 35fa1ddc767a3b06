"""Load published Lightning checkpoints (DRAKES MDLM, gReLU oracles) without executing their pickles.

Published ``.ckpt`` files pickle more than tensors: ``hyper_parameters`` holds OmegaConf
``DictConfig`` objects (DRAKES) or plain dicts (gReLU), and Lightning adds loop / callback state.
``torch.load(weights_only=True)`` refuses any class it does not know, so ``load_checkpoint``

1. lists the checkpoint's non-allow-listed globals statically (``get_unsafe_globals_in_checkpoint``,
   which disassembles the pickle without running it);
2. refuses, with one line naming them, globals that only a hostile file would name (``os``,
   ``sys``, ``subprocess``, ``builtins.eval`` …);
3. loads with ``weights_only=True``, every other unknown global replaced by an ``Opaque`` stand-in:
   a dnadav class that only records the arguments and state it is given. The real class (e.g.
   omegaconf's) is never imported and none of its code runs.

``plain(value)`` turns the stand-ins of OmegaConf containers back into dicts / lists / values, so a
config such as ``hyper_parameters["config"]["model"]["hidden_dim"]`` can be read without omegaconf.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from dnadav.errors import InputError

__all__ = ["Opaque", "REFUSED_BUILTINS", "REFUSED_MODULES", "key_mismatch", "load_checkpoint", "plain", "unsafe_globals"]

# Globals that have no business in a checkpoint: a pickle naming one is refused outright. (Every
# other unknown global becomes an inert ``Opaque`` stand-in, so refusing is about saying clearly
# that the file is hostile, not about what would otherwise run: nothing would.)
REFUSED_MODULES = frozenset(
    {
        "os",
        "posix",
        "nt",
        "sys",
        "subprocess",
        "importlib",
        "runpy",
        "shutil",
        "socket",
        "pickle",
        "marshal",
        "ctypes",
        "code",
        "codeop",
        "pty",
        "webbrowser",
        "multiprocessing",
        "signal",
        "asyncio",
    }
)
REFUSED_BUILTINS = frozenset({"eval", "exec", "compile", "__import__", "open", "breakpoint", "input", "exit", "quit"})


class Opaque:
    """Stand-in for one object of a class dnadav does not load (``global_name`` says which).

    Created by the unpickler instead of the real class: ``args`` holds constructor / reduce
    arguments and ``state`` what ``__setstate__`` received. It has no behaviour.
    """

    global_name = "?"

    def __new__(cls, *args: Any, **kwargs: Any) -> Opaque:
        instance = object.__new__(cls)
        instance.args, instance.state = args, None
        return instance

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"Opaque({self.global_name})"


def _stand_in(full_name: str) -> type[Opaque]:
    return type(full_name.rpartition(".")[2] or "Opaque", (Opaque,), {"global_name": full_name})


def unsafe_globals(path: str | Path) -> list[str]:
    """Globals the checkpoint names that ``weights_only`` does not allow by default (static scan)."""
    try:
        return sorted(torch.serialization.get_unsafe_globals_in_checkpoint(str(path)))
    except (RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, EOFError, ValueError) as error:
        raise InputError(f"{path}: not a readable torch checkpoint ({' '.join(str(error).split())[:200]})") from None


def _refused(name: str) -> bool:
    module, _, attribute = name.rpartition(".")
    if module in ("builtins", "__builtin__"):
        return attribute in REFUSED_BUILTINS
    return module.split(".")[0] in REFUSED_MODULES


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a ``torch.save`` / Lightning checkpoint as a dict, tensors on the CPU, nothing executed.

    Raises InputError (one line) for a missing or unreadable file, or one that names a global that
    could run code.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such checkpoint file")
    names = unsafe_globals(path)
    refused = [n for n in names if _refused(n)]
    if refused:
        raise InputError(
            f"{path}: refused: the checkpoint's pickle names {', '.join(refused)}, which could run code; "
            "dnadav loads only tensors and plain containers"
        )
    stand_ins = [(_stand_in(n), n) for n in names]
    try:
        with torch.serialization.safe_globals(stand_ins):
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise InputError(f"{path}: refused by the restricted unpickler: {' '.join(str(error).split())[:300]}") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile) as error:
        raise InputError(f"{path}: not a readable torch checkpoint ({' '.join(str(error).split())[:200]})") from None
    if not isinstance(loaded, dict):
        raise InputError(f"{path}: expected a checkpoint dict; got {type(loaded).__name__}")
    return loaded


def plain(value: Any) -> Any:
    """OmegaConf stand-ins -> plain Python: containers (``_content``) to dicts / lists, nodes (``_val``)
    to their values; dicts, lists and tuples recursively; other stand-ins and values unchanged."""
    if isinstance(value, Opaque):
        state = value.state if isinstance(value.state, dict) else {}
        if "_content" in state:
            return plain(state["_content"])
        if "_val" in state:
            return plain(state["_val"])
        return value
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    return value


def key_mismatch(missing: list[str], extra: list[str], prefix: str, shown: int = 6) -> str:
    """``missing a, b; unexpected c …`` naming up to ``shown`` keys of each kind (with ``prefix``)."""

    def named(keys: list[str]) -> str:
        return ", ".join(prefix + k for k in keys[:shown]) + (f" … ({len(keys)} in all)" if len(keys) > shown else "")

    return "; ".join([f"missing {named(missing)}"] * bool(missing) + [f"unexpected {named(extra)}"] * bool(extra))
