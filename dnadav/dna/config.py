"""``AlignConfig``: a DAV run over masked DNA — the generic ``EMConfig`` plus the DNA fields (oracle,
prior, length, objective, constraints, the per-iteration plain samples).

``as_dict`` keeps the flat key order that checkpoints have always recorded (``config.json``'s
``align_config``), so configs written before the core/DNA split read back and new ones are identical.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from dnadav.core.config import EMConfig
from dnadav.core.distill import DistillConfig
from dnadav.core.search import SearchConfig
from dnadav.core.warm_start import WarmStart

__all__ = ["AlignConfig"]

# the order of the keys in a recorded align_config (the order of the fields before the split)
_RECORDED_ORDER = (
    "oracle", "prior", "length", "iterations", "sequences_per_iteration", "search", "distill", "inner_epochs",
    "batch_size", "lr", "gradient_clip", "eval_sequences", "eval_steps", "seed", "objective", "constraints",
)  # fmt: skip


@dataclass
class AlignConfig(EMConfig):
    """A DAV run over DNA. Defaults are sized to finish on a 2-core CPU in about a quarter of an hour."""

    oracle: str = "hepg2"
    prior: str = "dhs"
    length: int = 200
    eval_sequences: int = 64  # plain samples drawn after every iteration for the log
    eval_steps: int = 25
    objective: str | None = None  # reward expression (docs/objectives.md); None: the oracle's log-odds
    constraints: dict | None = None  # hard constraints, file format (docs/constraints.md); None: none
    # selection: keep the iteration with the highest reward-oracle median among those whose plain
    # samples have 3-mer correlation ≥ min_naturalness to the validation split (chr2) of the
    # target cell type; stop after stop_patience iterations below it once one met it (stop_patience); None: keep the last
    min_naturalness: float | None = None
    # warm start (dnadav.jobs.align_warm): before the first iteration the prior is fitted for this many steps to
    # warm_start_kept draws of its own training data (or the file warm_start_data) resampled by exp(r/α), α solved
    # for a Kish ESS of warm_start_ess × the data; the fitted model is where the run starts and what it is anchored
    # to. 0: off (the prior itself)
    warm_start_steps: int = 0
    warm_start_kept: int = 4096
    warm_start_ess: float = 0.1
    warm_start_data: str | None = None
    warm_start_pool: int | None = None  # score only this many of the data, drawn at random (a reward budget); None: all
    warm_start_average: float = 0.0  # keep the mean of the last fraction of the fit's iterates (tail averaging); 0: the last

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.warm_start_steps:  # its own checks: counts ≥ 1, the ESS a fraction
            self.warm_start  # noqa: B018  built for its checks
            if self.warm_start_pool is not None and self.warm_start_pool < 2:
                raise ValueError(f"warm_start_pool must be ≥ 2 sequences; got {self.warm_start_pool}")
        elif self.warm_start_steps < 0:
            raise ValueError(f"warm_start_steps must be ≥ 0; got {self.warm_start_steps}")

    @property
    def warm_start(self) -> WarmStart:
        """The warm start's settings (``dnadav.core.warm_start``), with the run's learning rate."""
        return WarmStart(
            steps=self.warm_start_steps,
            kept=self.warm_start_kept,
            target_ess=self.warm_start_ess,
            lr=self.lr,
            tail_average=self.warm_start_average,
        )

    def as_dict(self) -> dict:
        """The flat dict a checkpoint records: the recorded order first, any field added since after it."""
        values = asdict(self)
        return {**{k: values[k] for k in _RECORDED_ORDER}, **{k: v for k, v in values.items() if k not in _RECORDED_ORDER}}

    @classmethod
    def from_dict(cls, values: dict) -> AlignConfig:
        """The config a checkpoint's ``align_config`` records (``as_dict``'s inverse); keys a run made
        before a field existed take that field's default. ValueError names any key it does not know."""
        search = dict(values.get("search", {}))
        if search.pop("extra", None):  # older runs (the shipped models) recorded it empty; it is gone
            raise ValueError("search: key extra is no longer supported")
        parts = {"search": (SearchConfig, search), "distill": (DistillConfig, values.get("distill", {}))}
        for name, (kind, given) in [("align_config", (cls, values)), *parts.items()]:
            unknown = sorted(set(given) - {f.name for f in fields(kind)})
            if unknown:
                raise ValueError(f"{name}: unknown key(s) {', '.join(unknown)}")
        top = {k: v for k, v in values.items() if k not in parts}
        return cls(**top, **{k: kind(**given) for k, (kind, given) in parts.items() if k in values})
