"""``AlignConfig``: the settings of one DAV run, kept apart from the Lightning loop so that reading or
building a config (the CLI's parsers, presets, checkpoints) does not import Lightning."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from dnadav.align.distill import DistillConfig
from dnadav.align.search import SearchConfig

__all__ = ["AlignConfig"]


@dataclass
class AlignConfig:
    """A DAV run. Defaults are sized to finish on a 2-core CPU in about a quarter of an hour."""

    oracle: str = "hepg2"
    prior: str = "dhs"
    length: int = 200
    iterations: int = 3  # K EM iterations (Lightning epochs)
    sequences_per_iteration: int = 64  # B, split across ranks
    search: SearchConfig = field(default_factory=lambda: SearchConfig(num_children=16, reward_temperature=0.5, num_steps=25))
    distill: DistillConfig = field(default_factory=DistillConfig)
    inner_epochs: int = 2  # passes over each iteration's transitions
    batch_size: int = 128  # transitions per M-step batch
    lr: float = 1e-3
    gradient_clip: float | None = None  # max gradient norm of the M-step (None = no clipping)
    eval_sequences: int = 64  # plain samples drawn after every iteration for the log
    eval_steps: int = 25
    seed: int = 0
    objective: str | None = None  # reward expression (docs/objectives.md); None: the oracle's log-odds
    constraints: dict | None = None  # hard constraints, file format (docs/constraints.md); None: none
    # trust region: each iteration's α solved so the search's selection KL is this many nats per path
    # (dnadav.align.trust_region), from a pilot search of pilot_sequences; None: α fixed (search config)
    target_kl: float | None = None
    pilot_sequences: int = 16
    # M-step fitted to held-out transitions: this fraction of the E-step's sequences is held out, and
    # the passes (at most inner_epochs) stop after `patience` passes without a better held-out loss,
    # keeping the best weights; 0: exactly inner_epochs passes over all transitions
    holdout_fraction: float = 0.0
    patience: int = 1
    # selection: keep the iteration with the highest reward-oracle median among those whose plain
    # samples have 3-mer correlation ≥ min_naturalness to the validation split (chr2) of the
    # target cell type; stop after stop_patience iterations below it once one met it; None: keep the last
    min_naturalness: float | None = None
    stop_patience: int = 2

    def as_dict(self) -> dict:
        return asdict(self)

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
