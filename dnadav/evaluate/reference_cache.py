"""Real held-out rows computed once: ``cached_evaluate_sets`` is ``evaluate_sets`` with the named inputs
that never change (the real held-out DHS rows beside every report) read from a cache on disk.

The key is a content hash of everything their numbers depend on: the cached inputs' names, ids and
sequences; the reward and evaluation oracles, the prior (or any App-Log-Lik callable) and their
weights; the reference, training and motif sets; every setting; the source of the dnadav package and
the torch/numpy/pandas versions. Anything that cannot be hashed for sure (a scorer that is not a
dnadav module, an oracle loaded from your own file) is computed afresh, never cached. Each input is
measured on its own by ``evaluate_sets`` (its own batches, its own seeded App-Log-Lik stream), so the
cached rows merged beside the others are bit-identical to one call over all inputs
(tests/test_reference_cache.py).

Where: ``$DNADAV_CACHE_DIR`` (``off`` turns the cache off), else ``$XDG_CACHE_HOME/dnadav``, else
``~/.cache/dnadav``; one ``evaluate/<key>.npz`` per set of rows (about 1 MB per 600 sequences), read
without pickle. A folder that cannot be written is passed over (the rows are computed).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import types
from collections.abc import Collection, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from dnadav.io import atomic_write_bytes

__all__ = ["CACHE_ENV", "cache_dir", "cached_evaluate_sets", "code_fingerprint", "content_hash", "evaluation_key", "fingerprint"]

CACHE_ENV = "DNADAV_CACHE_DIR"
FORMAT = 1
_FROM_REST = ("motifs", "info")  # fields taken from the other inputs' result, not per input


def cache_dir() -> Path | None:
    """The cache folder (``$DNADAV_CACHE_DIR``, ``$XDG_CACHE_HOME/dnadav`` or ``~/.cache/dnadav``); None when off."""
    value = os.environ.get(CACHE_ENV)
    if value is not None:
        return None if value.strip().lower() in ("", "off", "0", "none") else Path(value).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dnadav"


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """The source of the whole dnadav package (any change invalidates every entry) and the numeric libraries."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256(f"{FORMAT} {torch.__version__} {np.__version__} {pd.__version__}".encode())
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _ours(kind: type) -> bool:
    return kind.__module__.split(".")[0] in ("dnadav", "torch")


def fingerprint(obj: Any, depth: int = 0) -> str | None:
    """A content hash of a scorer, model or setting; None when it cannot be hashed for sure.

    Plain data by value; tensors by bytes; a ``torch.nn.Module`` whose classes are all dnadav's or
    torch's by its weights and its plain attributes; a function by its name and (for closures) the
    values it captured; a dataclass by its fields."""
    if depth > 32:  # deeper than any config or closure here: a cycle
        return None
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return repr(obj)
    if isinstance(obj, Path):
        return "path"  # where a checkpoint lies does not change what it computes
    if isinstance(obj, torch.Tensor):
        data = obj.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
        return hashlib.sha256(f"{obj.dtype}{tuple(obj.shape)}".encode() + data).hexdigest()
    if isinstance(obj, np.ndarray) and obj.dtype != object:
        return hashlib.sha256(f"{obj.dtype}{obj.shape}".encode() + np.ascontiguousarray(obj).tobytes()).hexdigest()
    if isinstance(obj, (list, tuple)) and obj and all(isinstance(v, str) for v in obj):
        return hashlib.sha256(("\n".join(obj) + f"\n{type(obj).__name__}").encode()).hexdigest()  # sequence sets
    if isinstance(obj, (list, tuple)):
        parts = [fingerprint(v, depth + 1) for v in obj]
        return None if None in parts else content_hash(parts)
    if isinstance(obj, dict):
        parts = [(str(k), fingerprint(v, depth + 1)) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))]
        return None if any(p is None for _, p in parts) else content_hash(parts)
    if isinstance(obj, torch.nn.Module):
        return _module_fingerprint(obj, depth)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type) and _ours(type(obj)):
        return fingerprint(
            {"class": type(obj).__qualname__, **{f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}}, depth + 1
        )
    if isinstance(obj, types.FunctionType) and obj.__module__.split(".")[0] == "dnadav":
        if "<locals>" not in obj.__qualname__:  # a module's function (decorated or not): its code is in the key
            return f"{obj.__module__}.{obj.__qualname__}"
        cells = [c.cell_contents for c in (obj.__closure__ or ())]  # e.g. prior_log_likelihood's prior and seed
        return fingerprint([obj.__module__, obj.__qualname__, *cells], depth + 1)
    spec = getattr(obj, "spec", None)
    if _ours(type(obj)) and hasattr(spec, "as_dict") and isinstance(getattr(obj, "length", None), int):
        return fingerprint([type(obj).__qualname__, spec.as_dict(), obj.length], depth + 1)  # a compiled constraint
    return None


def _module_fingerprint(module: torch.nn.Module, depth: int) -> str | None:
    state = [(name, fingerprint(tensor)) for name, tensor in sorted(module.state_dict().items())]
    attributes = []
    for sub in module.modules():
        if not _ours(type(sub)):
            return None  # a class of your own: its code is not in the key
        for name, value in sorted(vars(sub).items()):
            if name.startswith("_") or name == "training":
                continue
            found = fingerprint(value, depth + 1)
            if found is None:
                return None  # e.g. a wrapped scoring function
            attributes.append((type(sub).__qualname__, name, found))
    return content_hash([type(module).__module__, type(module).__qualname__, state, attributes])


def content_hash(parts: Any) -> str:
    """SHA-256 of ``parts`` as JSON (anything else by its ``str``): the key of one cache entry."""
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


def _sequences(given: Any) -> str | None:
    """Hash of one input: a list of strings, or a SequenceTable's ids, sequences and dropped count."""
    if hasattr(given, "ids") and hasattr(given, "sequences"):
        return content_hash([list(given.ids), list(given.sequences), int(getattr(given, "dropped", 0))])
    if isinstance(given, (list, tuple)) and all(isinstance(s, str) for s in given):
        return content_hash(list(given))
    return None


def evaluation_key(inputs: Mapping[str, Any], settings: Mapping[str, Any]) -> str | None:
    """The cache key of ``inputs`` evaluated with ``settings`` (``evaluate_sets``' keywords, every
    scorer given explicitly); None when something cannot be hashed."""
    parts: list[Any] = [code_fingerprint()]
    for name, given in inputs.items():
        parts.append((str(name), _sequences(given)))
    for name, value in sorted(settings.items()):
        parts.append((name, fingerprint(value)))
    if any(p is None or (isinstance(p, tuple) and p[1] is None) for p in parts):
        return None
    return content_hash(parts)


def cached_evaluate_sets(
    inputs: Mapping[str, Any], *, cached: Collection[str], folder: str | Path | None = "default", **keywords: Any
):
    """``evaluate_sets(inputs, **keywords)`` (same keywords, same ``EvaluationResult``) with the inputs named
    in ``cached`` read from the cache, or computed and stored there. ``folder``: the cache folder
    (default ``cache_dir()``; None: no cache). Caching needs ``reward_oracle``, ``eval_oracle``,
    ``reference`` and ``training`` given, and ``prior`` given when ``log_likelihood="prior"``; without
    them, with nothing else to evaluate, or with anything that cannot be hashed, this is plain
    ``evaluate_sets``."""
    from dnadav.evaluate import evaluator
    from dnadav.evaluate.motifs import load_motifs

    folder = cache_dir() if folder == "default" else folder
    names = [n for n in inputs if n in set(cached)]
    needed = ("reward_oracle", "eval_oracle", "reference", "training")
    prior_missing = keywords.get("log_likelihood", "prior") == "prior" and keywords.get("prior") is None
    if folder is None or not 0 < len(names) < len(inputs) or any(keywords.get(k) is None for k in needed) or prior_missing:
        return evaluator.evaluate_sets(inputs, **keywords)
    keywords = {**keywords, "motifs": keywords.get("motifs") or load_motifs()}
    settings = {k: v for k, v in keywords.items() if k != "controls"}  # controls only labels rows
    key = evaluation_key({n: inputs[n] for n in names}, settings)
    if key is None:
        return evaluator.evaluate_sets(inputs, **keywords)
    rest = evaluator.evaluate_sets({n: v for n, v in inputs.items() if n not in names}, **keywords)
    path = Path(folder) / "evaluate" / f"{key}.npz"
    part = _load(path)
    if part is None:
        fresh = evaluator.evaluate_sets({n: inputs[n] for n in names}, **keywords)
        part = {f.name: getattr(fresh, f.name) for f in dataclasses.fields(fresh) if f.name not in _FROM_REST}
        _store(path, part)
    merged = {name: _merge(getattr(rest, name), value, list(inputs)) for name, value in part.items()}
    merged["controls"] = [c for c in keywords.get("controls", ()) if c in inputs]
    info = {**rest.info, "cached_rows": names}
    return dataclasses.replace(rest, **merged, info=info)


def _merge(rest: Any, part: Any, order: list[str]) -> Any:
    """One field of two results over disjoint inputs, as one call over all inputs (in ``order``) makes it."""
    if isinstance(rest, pd.DataFrame) and "input" in rest.columns or isinstance(part, pd.DataFrame) and "input" in part.columns:
        frames = [f[f["input"] == n] for n in order for f in (rest, part) if "input" in f.columns and (f["input"] == n).any()]
        return pd.concat(frames, ignore_index=True) if frames else rest
    if isinstance(rest, pd.DataFrame):  # rows named by input (+ "reference", from rest)
        extra = part.loc[[n for n in part.index if n in order]]
        both = pd.concat([rest, extra])
        return both.loc[[n for n in rest.index if n not in order] + [n for n in order if n in both.index]]
    if isinstance(rest, dict):
        both = {**part, **rest}
        return {**{k: v for k, v in rest.items() if k not in order}, **{n: both[n] for n in order if n in both}}
    return rest if rest is not None else part


class _Uncacheable(Exception):
    """A field this cache cannot store exactly."""


def _store(path: Path, part: dict[str, Any]) -> None:
    """Write ``part`` (field -> frame, dict of arrays/floats, list of str, None) to ``path`` atomically;
    passes over a folder that cannot be written or a value that cannot be stored exactly."""
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {}
    try:
        for name, value in part.items():
            meta[name] = _encode(value, name, arrays)
        arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        atomic_write_bytes(path, buffer.getvalue())  # ordinary file mode, not a temporary file's 0600
    except (_Uncacheable, OSError):
        return


def _column(values: np.ndarray, key: str, arrays: dict[str, np.ndarray]) -> str:
    if values.dtype == object:
        if not all(isinstance(v, str) for v in values):
            raise _Uncacheable(key)
        values = np.asarray(values, dtype=str) if len(values) else np.zeros(0, dtype="U1")
        arrays[key] = values
        return "object"
    if values.dtype.kind not in "biuf":
        raise _Uncacheable(key)
    arrays[key] = values
    return values.dtype.str


def _encode(value: Any, name: str, arrays: dict[str, np.ndarray]) -> Any:
    if value is None:
        return {"kind": "none"}
    if isinstance(value, pd.DataFrame):
        if not all(isinstance(c, str) for c in value.columns) or isinstance(value.index, pd.MultiIndex):
            raise _Uncacheable(name)
        dtypes = [_column(value[c].to_numpy(), f"{name}/{i}", arrays) for i, c in enumerate(value.columns)]
        index = _column(value.index.to_numpy(), f"{name}/index", arrays)
        return {"kind": "frame", "columns": list(value.columns), "dtypes": dtypes, "index": index,
                "index_name": value.index.name, "range": isinstance(value.index, pd.RangeIndex)}  # fmt: skip
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        entries = []
        for i, (k, v) in enumerate(value.items()):
            if isinstance(v, float) and not isinstance(v, np.floating):
                entries.append([k, "float", v])
            elif isinstance(v, np.ndarray) and v.dtype.kind in "biuf":
                arrays[f"{name}/{i}"] = v
                entries.append([k, "array", None])
            else:
                raise _Uncacheable(name)
        return {"kind": "dict", "entries": entries}
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return {"kind": "list", "values": value}
    raise _Uncacheable(name)


def _load(path: Path) -> dict[str, Any] | None:
    """The stored part, or None when absent or unreadable (it is then recomputed and rewritten)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["__meta__"]).decode())
            return {name: _decode(spec, name, data) for name, spec in meta.items()}
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError):
        return None


def _decode(spec: dict, name: str, data: Any) -> Any:
    def column(key: str, dtype: str) -> np.ndarray:
        values = data[key]
        return values.astype(object) if dtype == "object" else values

    kind = spec["kind"]
    if kind == "none":
        return None
    if kind == "frame":
        index = pd.RangeIndex(len(data[f"{name}/index"])) if spec["range"] else pd.Index(column(f"{name}/index", spec["index"]))
        columns = {c: column(f"{name}/{i}", d) for i, (c, d) in enumerate(zip(spec["columns"], spec["dtypes"]))}
        frame = pd.DataFrame(columns, index=index, columns=spec["columns"])
        frame.index.name = spec["index_name"]
        return frame
    if kind == "dict":
        return {k: (value if how == "float" else data[f"{name}/{i}"]) for i, (k, how, value) in enumerate(spec["entries"])}
    return list(spec["values"])
