"""Your own oracle: any PyTorch module or scoring function, from Python or from a file.

``--oracle path/to/my_oracle.py:Scorer`` (CLI) and ``dnadav.design(oracle=scorer)`` (API) accept
an oracle dnadav did not train. The contract (docs/byod.md):

* it is called on a float one-hot batch ``onehot [B, 4, L]`` (A, C, G, T rows) and returns one score
  per sequence ``[B]`` or several named outputs ``[B, K]``; higher is better for the scored output;
* optional attributes: ``output_names`` (K names; default ``("score",)`` for ``[B]``), ``target``
  (the scored output; default the first), ``length`` (the sequence length in bp it takes; checked
  against the model's), ``kind`` (``"regression"``, the default: the score itself is the reward; or
  ``"classification"``: the outputs are class logits and the reward is the target's log-odds);
* in a file, ``NAME`` is a class (built with no arguments), a module or callable instance, or a dict
  ``{"reward": ..., "eval": ...}`` giving the two roles different oracles; ``FILE.py:NAME:OUTPUT``
  scores another output. Differentiable or not: only gradient guidance needs gradients.

**Loading a file runs its code** (it is imported like any Python module), with your permissions:
only name files you trust. dnadav executes nothing else; weights the file loads are its business.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dnadav.errors import InputError, one_line
from dnadav.oracles.base import CellTypeOracle, RegressionOracle

__all__ = ["ScoringNetwork", "as_oracle", "is_python_oracle", "load_python_oracle", "oracle_label", "split_python_spec"]

_MODULES: dict[tuple[str, int, int], Any] = {}  # (resolved path, mtime_ns, size) -> the imported module


class ScoringNetwork(nn.Module):
    """A user's scorer as a network ``onehot [B, 4, L] -> [B, K]``, with its outputs checked: a tensor
    of ``B`` rows, ``K`` columns (a ``[B]`` score is one column), finite. ``source`` names it in errors."""

    def __init__(self, scorer: Callable[[torch.Tensor], torch.Tensor], num_outputs: int, source: str):
        super().__init__()
        self.scorer = scorer  # an nn.Module becomes a submodule: .to(), .eval() and parameters() reach it
        self.num_outputs, self.source = num_outputs, source
        # a device anchor for callers that find an oracle's device from its parameters (a plain
        # function has none); empty, so it adds nothing to compute or to the state dict's size
        self.anchor = nn.Parameter(torch.zeros(0), requires_grad=False)

    def forward(self, onehot: torch.Tensor) -> torch.Tensor:
        try:
            out = self.scorer(onehot)
        except InputError:
            raise
        except Exception as error:  # the user's code failed: one line naming it, not a traceback through dnadav
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise InputError(
                f"{self.source}: failed on one-hot {list(onehot.shape)} (float, rows A, C, G, T): {type(error).__name__}: {first}"
            ) from None
        if not isinstance(out, torch.Tensor):
            raise InputError(f"{self.source}: returned {type(out).__name__}; an oracle returns a tensor [B] or [B, K]")
        if out.dim() == 1:
            out = out[:, None]
        if out.dim() != 2 or out.shape[0] != onehot.shape[0] or out.shape[1] != self.num_outputs:
            raise InputError(
                f"{self.source}: returned shape {tuple(out.shape)} for {onehot.shape[0]} sequences; expected "
                f"[{onehot.shape[0]}]" + (f" or [{onehot.shape[0]}, {self.num_outputs}]" if self.num_outputs > 1 else "")
                + " (output_names sets K)"
            )  # fmt: skip
        if not bool(torch.isfinite(out).all()):
            raise InputError(f"{self.source}: returned nan or inf scores; an oracle's scores must be finite")
        return out.float()


def _attribute(obj: Any, name: str, default: Any) -> Any:
    value = getattr(obj, name, default)
    return default if value is None else value


def as_oracle(
    scorer: Any, role: str = "reward", *, target: str | None = None, source: str | None = None, device: str | torch.device = "cpu"
) -> CellTypeOracle | RegressionOracle:
    """An oracle (``reward``, ``probability``, ``class_names``, ``target``, ``length``) from a user's
    module or callable (see the module docstring); a dict ``{"reward": ..., "eval": ...}`` gives
    ``role``'s. A dnadav oracle is returned as it is."""
    if isinstance(scorer, (CellTypeOracle, RegressionOracle)):
        return scorer
    source = source or f"oracle {type(scorer).__name__}"
    if isinstance(scorer, dict):
        if set(scorer) != {"reward", "eval"}:
            raise InputError(f"{source}: a dict of oracles must have exactly the keys reward and eval; got {sorted(scorer)}")
        scorer = scorer[role]
    if isinstance(scorer, type):
        try:
            scorer = scorer()
        except Exception as error:  # the user's constructor: any failure is theirs, said in one line
            reason = f"{type(error).__name__}: {one_line(error)}"
            raise InputError(f"{source}: building {scorer.__name__}() failed: {reason}") from None
    if not callable(scorer):
        raise InputError(f"{source}: {type(scorer).__name__} is not callable; an oracle maps onehot [B, 4, L] to scores")
    names = tuple(str(n) for n in _attribute(scorer, "output_names", ("score",)))
    kind = _attribute(scorer, "kind", "regression")
    if kind not in ("regression", "classification"):
        raise InputError(f"{source}: kind must be 'regression' or 'classification'; got {kind!r}")
    target = target or _attribute(scorer, "target", names[0])
    if target not in names:
        raise InputError(f"{source}: target {target!r} is not one of its output_names {', '.join(names)}")
    if kind == "classification" and len(names) < 2:
        raise InputError(f"{source}: a classification oracle needs output_names for at least two classes")
    wrapper = CellTypeOracle if kind == "classification" else RegressionOracle
    oracle = wrapper(ScoringNetwork(scorer, len(names), source), names, target).to(device).eval()
    length = _attribute(scorer, "length", None)
    oracle.length = int(length) if length is not None else None
    oracle.config_dict = {"kind": "user", "source": source, "class_names": list(names), "default_target": target}
    return oracle


def oracle_label(oracle: Any) -> str:
    """What manifests, configs and reports record as an oracle: the name, folder or ``FILE.py:NAME`` as
    given; a Python object by its class (``python:Scorer``)."""
    return str(oracle) if isinstance(oracle, (str, Path)) else f"python:{type(oracle).__name__}"


def split_python_spec(spec: str | Path) -> tuple[Path, str, str | None] | None:
    """``"dir/my_oracle.py:Scorer[:OUTPUT]"`` -> (path, NAME, OUTPUT or None); None when ``spec`` does
    not name a ``.py`` file followed by ``:NAME``."""
    text = str(spec)
    head, marker, tail = text.partition(".py:")
    if not marker or not tail:
        return None
    name, _, output = tail.partition(":")
    return Path(head + ".py"), name, output or None


def is_python_oracle(spec: Any) -> bool:
    """True when ``spec`` is a ``FILE.py:NAME`` oracle string."""
    return isinstance(spec, (str, Path)) and split_python_spec(spec) is not None


def _import(path: Path) -> Any:
    """Import the user's file once per version of it (path, mtime, size); InputError on any failure."""
    if not path.is_file():
        raise InputError(f"{path}: no such oracle file (--oracle FILE.py:NAME)")
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key in _MODULES:
        return _MODULES[key]
    name = "dnadav_user_oracle_" + hashlib.sha256(key[0].encode()).hexdigest()[:16]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InputError(f"{path}: cannot be imported as a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up by name
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # the user's code: any failure is reported in one line
        sys.modules.pop(name, None)
        raise InputError(f"{path}: importing it failed: {type(error).__name__}: {one_line(error)}") from None
    _MODULES[key] = module
    return module


def load_python_oracle(spec: str | Path, role: str = "reward", device: str | torch.device = "cpu"):
    """The oracle ``NAME`` of the Python file in ``spec`` (``FILE.py:NAME[:OUTPUT]``), for ``role``.
    Runs the file's code (see the module docstring). Carries ``checkpoint_file`` = the file (its sha256
    goes into manifests)."""
    parsed = split_python_spec(spec)
    if parsed is None:
        raise InputError(f"{spec}: expected FILE.py:NAME (a class, module, function or dict in that file)")
    path, name, output = parsed
    module = _import(path)
    if not hasattr(module, name):
        found = sorted(n for n in vars(module) if not n.startswith("_"))
        raise InputError(f"{path}: defines no {name!r}; names found: {one_line(', '.join(found)) or 'none'}")
    oracle = as_oracle(getattr(module, name), role, target=output, source=f"{path}:{name}", device=device)
    oracle.checkpoint_file = path
    return oracle
