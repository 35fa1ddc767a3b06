"""``EMConfig``: the generic settings of one DAV run (E-step search, M-step distillation, the EM loop),
kept apart from the Lightning loop so that reading or building a config does not import Lightning.
A modality's run config extends it with its own fields (DNA: ``dnadav.dna.config.AlignConfig``)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from dnadav.core.distill import DistillConfig
from dnadav.core.search import SearchConfig

__all__ = ["EMConfig"]


@dataclass
class EMConfig:
    """A DAV run, independent of the modality. Defaults are sized to finish on a 2-core CPU in about a
    quarter of an hour for the shipped DNA model."""

    iterations: int = 3  # K EM iterations (Lightning epochs)
    sequences_per_iteration: int = 64  # B, split across ranks
    search: SearchConfig = field(default_factory=lambda: SearchConfig(num_children=16, reward_temperature=0.5, num_steps=25))
    distill: DistillConfig = field(default_factory=DistillConfig)
    inner_epochs: int = 2  # passes over each iteration's transitions
    batch_size: int = 128  # transitions per M-step batch
    lr: float = 1e-3
    gradient_clip: float | None = None  # max gradient norm of the M-step (None = no clipping)
    seed: int = 0
    # trust region: each iteration's α solved so the search's selection KL is this many nats per path
    # (dnadav.core.trust_region), from a pilot search of pilot_sequences; None: α fixed (search config)
    target_kl: float | None = None
    pilot_sequences: int = 16
    # what target_kl bounds when the search tilts the prior: "step", the step between consecutive targets alone;
    # "total", the whole selection, the model's drift from its last target included (α never rises)
    trust_region: str = "step"
    # M-step fitted to held-out transitions: this fraction of the E-step's sequences is held out, and
    # the passes (at most inner_epochs) stop after `patience` passes without a better held-out loss,
    # keeping the best weights; 0: exactly inner_epochs passes over all transitions
    holdout_fraction: float = 0.0
    patience: int = 1
    # M-step trust region (needs holdout_fraction > 0): each M-step's move, Σ_t KL(p_new ‖ p_start) per path
    # at the held-out E-step states, is shrunk to at most this many nats (dnadav.core.move_limit); None: off
    mstep_max_kl: float | None = None
    # naturalness-guarded M-step (dnadav.core.pass_guard): the model is scored before the M-step and after each
    # of its inner_epochs passes by the modality's naturalness measure (no reward call), and the last pass
    # scoring ≥ this floor is kept (none: the best-scoring one); None: every pass is kept
    mstep_min_naturalness: float | None = None
    # M-step tail averaging (dnadav.core.tail_average): the weights each judged pass (or, with no judge, the whole
    # M-step) ends with are the mean of the iterates of its last fraction of steps; 0: the last iterate
    mstep_average: float = 0.0
    stop_patience: int = 2  # with a selection rule: iterations after the last eligible one before stopping
    # with a selection rule: an iteration it rejects is undone (the next E-step restarts from the kept
    # iteration's weights, optimiser state, α and multipliers) and target_kl, when set, is halved for every
    # rejection so far; False: go on from it
    backtrack: bool = False
    # with backtrack: the model the run starts from is judged before iteration 1 and kept as iteration 0 when the rule
    # finds it eligible, so a first iteration under the floor is undone too (back to the start, δ halved)
    backtrack_start: bool = False
    # the M-step also fits the training sequences of this many earlier E-steps, every child reweighted at
    # the current α (dnadav.core.replay); 0: each M-step fits its own E-step only
    replay: int = 0
    # with a selection rule: when the last iteration is rejected, this many bisections of the straight
    # path in weight space from the kept iteration to it (dnadav.core.back_off); 0: keep the kept one as is
    back_off: int = 0

    def __post_init__(self) -> None:
        if self.backtrack_start and not self.backtrack:
            raise ValueError("backtrack_start needs backtrack")
        if self.trust_region not in ("step", "total"):
            raise ValueError(f"trust_region must be 'step' or 'total'; got {self.trust_region!r}")
        if not 0 <= self.mstep_average <= 1:
            raise ValueError(f"mstep_average must be a fraction in [0, 1]; got {self.mstep_average}")
        if self.back_off < 0:
            raise ValueError(f"back_off must be ≥ 0 bisections; got {self.back_off}")
        if self.replay < 0:
            raise ValueError(f"replay must be ≥ 0 earlier E-steps; got {self.replay}")
        if self.replay and not (self.search.tilt_base == "prior" and self.distill.objective == "children"):
            # only then is an earlier child's weight at today's α a weight under today's target
            raise ValueError("replay needs the children M-step of a prior-tilting search (tilt_base='prior')")
        if self.search.mode == "importance" and (
            self.target_kl is not None or self.distill.objective not in ("nelbo", "transitions")
        ):
            # its paths carry no per-step children for a pilot or the children M-step to read
            raise ValueError(
                "search mode 'importance' runs at a fixed α or one solved for target_ess (no target_kl), with the nelbo "
                "or transitions M-step"
            )
        if self.mstep_min_naturalness is not None and (
            self.holdout_fraction > 0 or not math.isfinite(self.mstep_min_naturalness)
        ):
            raise ValueError(
                "mstep_min_naturalness is a finite floor, and the M-step is kept by it or by held-out data, not both"
            )
        if self.mstep_max_kl is not None and not self.holdout_fraction > 0:
            raise ValueError("mstep_max_kl measures each M-step on held-out sequences: set holdout_fraction > 0")

    def as_dict(self) -> dict:
        return asdict(self)
