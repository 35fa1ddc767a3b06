"""``Designs``: designed sequences with their scores and provenance, as ``dnadav.design`` returns
them — to FASTA (+ manifest) and to a pandas frame."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dnadav import defaults
from dnadav.jobs.design import DesignOptions, DesignResult, design

__all__ = ["Designs", "api_call", "run_designs"]


def api_call(name: str, **options: Any) -> str:
    """The Python call a manifest records when the API (not the CLI) ran the job."""
    return f"dnadav.{name}({', '.join(f'{k}={v!r}' for k, v in options.items())})"


@dataclass(frozen=True)
class Designs:
    """Designed sequences with their scores and provenance (what ``dnadav.design`` returns)."""

    result: DesignResult
    command: str

    def __len__(self) -> int:
        return len(self.result.sequences)

    @property
    def ids(self) -> list[str]:
        return list(self.result.ids)

    @property
    def sequences(self) -> list[str]:
        return list(self.result.sequences)

    def to_frame(self):
        """``pandas.DataFrame``: id, sequence, reward, pred_activity (held-out oracle), eval_probability."""
        import pandas as pd

        r = self.result
        return pd.DataFrame(
            {
                "id": r.ids,
                "sequence": r.sequences,
                "reward": r.reward,
                "pred_activity": r.pred_activity,
                "eval_probability": r.eval_probability,
            }
        )

    def summary(self) -> dict[str, float]:
        """Medians (numpy, the same as ``dnadav evaluate``) and the share the eval oracle calls accessible."""
        from dnadav.evaluate.metrics import accessibility_accuracy, pred_activity

        return {
            "reward_median": pred_activity(self.result.reward),
            "pred_activity_median": pred_activity(self.result.pred_activity),
            "accessibility_accuracy": accessibility_accuracy(self.result.eval_probability),
        }

    def manifest(self) -> dict[str, Any]:
        """What ``to_fasta`` writes beside the FASTA (besides versions and checkpoint sha256s)."""
        r = self.result
        return {
            "used_aligned_model": r.used_aligned_model,
            "model_aligned_to": r.aligned_to,
            "timings": r.timings,
            "search_stats": r.search_stats,
            "network_rows": r.network_rows,
            "summary": self.summary(),
        }

    def to_fasta(self, path: str | Path, *, force: bool = False) -> Path:
        """Write FASTA (headers ``>id reward=… pred_activity=… eval_probability=…``) and
        ``<path>.manifest.json`` beside it; refuses to overwrite either unless ``force``."""
        from dnadav.data import write_fasta
        from dnadav.io import check_writable, write_manifest

        path = check_writable(path, force)
        manifest_path = check_writable(path.with_name(path.name + ".manifest.json"), force)
        r = self.result
        descriptions = [
            {"reward": round(float(a), 4), "pred_activity": round(float(b), 4), "eval_probability": round(float(c), 4)}
            for a, b, c in zip(r.reward, r.pred_activity, r.eval_probability)
        ]
        write_fasta(path, r.ids, r.sequences, descriptions, force=True)
        write_manifest(manifest_path, command=self.command, config=r.settings, checkpoints=r.checkpoints, extra=self.manifest())
        return path


def run_designs(options: DesignOptions, progress: bool = False) -> Designs:
    """Run the design job (a progress bar on stderr with ``progress``) -> ``Designs`` whose manifest
    command is the CLI's line, or under the API the Python call with the options' keywords."""
    from dnadav.io import current_command

    bars: list = []

    def on_step(_: int) -> None:  # the bar starts with the first step, after every check has passed
        if not bars:
            from tqdm import tqdm

            blocks = -(-options.num_sequences // defaults.DESIGN_BLOCK)
            bars.append(tqdm(total=options.num_steps * blocks, desc="designing", unit="step", file=sys.stderr))
        bars[0].update(1)

    try:
        result = design(options, on_step=on_step if progress else None)
    finally:
        for bar in bars:
            bar.close()
    return Designs(result, current_command(api_call("design", **_recorded(options))))


def _recorded(options: DesignOptions) -> dict[str, Any]:
    """The keywords a manifest's command records: the usual ones, and the others where they are set."""
    o = options
    recorded = dict(oracle=o.oracle, n=o.num_sequences, length=o.length, model=o.model, steps=o.num_steps)
    recorded.update(children=o.num_children, seed=o.seed)
    if o.num_children > 0:
        recorded["temperature"] = o.reward_temperature
    if o.constraints is not None and not o.constraints.empty:
        recorded["constraints"] = o.constraints.as_dict()
    if o.objective is not None:
        recorded["objective"] = o.objective
    if o.precision != "fp32":
        recorded["precision"] = o.precision
    if o.adaptive > 0:
        recorded["adaptive"] = o.adaptive
    if o.unmask != "random":
        recorded["unmask"] = o.unmask
    return recorded
