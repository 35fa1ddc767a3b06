"""``AlignOptions``: the options of ``dnadav align`` / ``dnadav.align``, declared once, and
``align_config``, which turns them into the run's ``AlignConfig`` (the preset first, the options
given over it).

Options marked 'preset' default to None, meaning "the preset's value" (``dnadav.dna.presets``):
``_PRESET_PATHS`` says which ``AlignConfig`` field each one sets.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

from dnadav import defaults
from dnadav.core.search import LOOKAHEADS, SearchMode
from dnadav.dna.config import AlignConfig
from dnadav.dna.presets import PRESETS
from dnadav.errors import InputError
from dnadav.jobs.options import check_number, fit_devices, option

__all__ = ["AlignOptions", "align_config"]

# option -> the AlignConfig field it sets (search./distill. for the nested configs); None = the preset's
_PRESET_PATHS = {
    "iterations": "iterations",
    "sequences": "sequences_per_iteration",
    "children": "search.num_children",
    "steps": "search.num_steps",
    "temperature": "search.reward_temperature",
    "m_step": "distill.objective",
    "skip_steps": "distill.skip_steps",
    "lr": "lr", "gradient_clip": "gradient_clip", "eval_steps": "eval_steps", "inner_epochs": "inner_epochs",
    "batch_size": "batch_size",
    "target_kl": "target_kl", "trust_region": "trust_region", "pilot_sequences": "pilot_sequences",
    "holdout": "holdout_fraction", "patience": "patience",
    "mstep_max_kl": "mstep_max_kl", "min_naturalness": "min_naturalness",
    "mstep_min_naturalness": "mstep_min_naturalness", "mstep_average": "mstep_average",
    "stop_patience": "stop_patience",
    "eval_sequences": "eval_sequences",
    "tilt_base": "search.tilt_base",
    "proposal": "search.proposal",
    "backtrack": "backtrack",
    "replay": "replay",
    "back_off": "back_off",
    "target_ess": "search.target_ess",
    "warm_start": "warm_start_steps", "warm_start_kept": "warm_start_kept", "warm_start_ess": "warm_start_ess",
    "warm_start_pool": "warm_start_pool", "warm_start_average": "warm_start_average",
}  # fmt: skip
_COUNTS = ("iterations", "sequences", "children", "steps", "eval_steps", "inner_epochs", "batch_size", "value_samples",
           "pilot_sequences", "patience", "stop_patience", "eval_sequences", "warm_start_kept", "warm_start_pool")  # fmt: skip
_NON_NEGATIVE = ("kl_weight", "skip_steps", "replay", "back_off", "holdout", "warm_start")
_POSITIVE = ("lr", "gradient_clip", "discount", "target_kl", "mstep_max_kl")  # finite and > 0


@dataclass
class AlignOptions:
    """The options of ``dnadav align`` / ``dnadav.align`` (API keyword = field name; CLI flag = ``--field-name``)."""

    oracle: str = option(defaults.ORACLE, "oracle name (hepg2, k562, gm12878, hesc) or folder")
    objective: str | None = option(None, 'reward expression, e.g. "k562 - max(hepg2,gm12878,hesc)" (docs/objectives.md)')
    prior: str = option("dhs", "prior to start from: 'dhs' (shipped) or a model folder")
    reference: str | None = option(
        None,
        "validation naturalness set: a FASTA/CSV/TSV/HDF5 of real sequences the logged 3-mer correlation and "
        "--min-naturalness use (default: the oracle's own, for the shipped DHS and Gosai oracles)",
        metavar="FILE",
    )
    out: Path | None = option(None, "run folder (resumed if it holds a checkpoint)", type=Path, required=True)
    preset: str = option(
        "default",
        "named setting: default (the one recipe, docs/concepts.md), quick (fixed α, ~5 min), dav-paper (GPU)",
        choices=list(PRESETS),
    )
    iterations: int | None = option(
        None, "EM iterations K, at most (preset; default 10: the selection rule stops earlier)", type=int
    )
    sequences: int | None = option(None, "E-step sequences B per iteration (preset; 64)", type=int)
    children: int | None = option(None, "candidates M per sequence per step (preset; 16)", type=int, metavar="M")
    steps: int | None = option(None, "reverse steps T in the E-step (preset; 25)", type=int)
    temperature: float | None = option(
        None, "reward temperature α in nats (preset; 0.5, the pilot's start with --target-kl; inf = no tilt)", type=float
    )
    discount: float = option(1.0, "value discount γ per remaining step")
    value: str = option("argmax", "soft value estimate", choices=["argmax", "sample"])
    value_samples: int = option(1, "K x0 samples for --value sample")
    lookahead: str = option(
        "child",
        "x̂0 behind each E-step child's value: a network call on the child, or the parent's prediction with the "
        "child's new bases (parent: B network rows per step instead of B·M; docs/concepts.md)",
        choices=list(LOOKAHEADS),
    )
    search_mode: str = option(
        "per_sequence",
        "E-step variant; importance: M whole plain paths per sequence, one reward call each, B resampled by exp(r/α) "
        "(fixed --temperature, --m-step nelbo or transitions; docs/concepts.md)",
        choices=list(get_args(SearchMode)),
    )
    target_ess: float | None = option(
        None,
        "--search-mode importance: solve α per E-step so the paths' weights keep this fraction of them as effective "
        "sample size (Kish ESS / N, in (0, 1); --temperature is then unused; docs/concepts.md)",
        type=float,
    )
    kl_weight: float = option(0.0, "λ of DAV-KL (KL to the frozen prior, nats)")
    m_step: str | None = option(
        None, "M-step loss (preset; default children); children: all M children weighted by the search's selection weights",
        choices=["transitions", "nelbo", "paper", "children"],
    )  # fmt: skip
    target_kl: float | None = option(
        None, "trust region: solve α per iteration for this selection KL (nats/path; preset; default 8)", type=float
    )
    trust_region: str | None = option(
        None,
        "what --target-kl bounds with --tilt-base prior: step (the step between consecutive targets) or total (the "
        "whole selection, the model's drift from its last target included; α never rises) (preset; default step)",
        choices=["step", "total"],
    )
    pilot_sequences: int | None = option(None, "pilot search size for --target-kl (preset; 16)", type=int)
    tilt_base: str | None = option(
        None,
        "whose steps each E-step tilts: model (the current one; iterations compound) or prior (the frozen prior; "
        "iterations converge to its per-step tilt; docs/concepts.md) (preset; default prior)",
        choices=["model", "prior"],
    )
    proposal: str | None = option(
        None,
        "who draws each E-step's children: model (the current one, weighed back to the prior) or prior (the frozen "
        "prior: the E-step is the prior's per-step tilt whatever the model; needs --tilt-base prior; docs/concepts.md) "
        "(preset; default model)",
        choices=["model", "prior"],
    )
    replay: int | None = option(
        None,
        "the M-step also fits the training sequences of this many earlier E-steps, each child reweighted at the "
        "iteration's α (exact for the children M-step; docs/concepts.md) (preset; default 0)",
        type=int,
    )
    holdout: float | None = option(
        None, "fraction of E-step sequences held out to stop each M-step, 0: none (preset; default 0.125)", type=float
    )
    patience: int | None = option(None, "M-step passes without held-out gain before stopping (preset; default 2)", type=int)
    mstep_max_kl: float | None = option(
        None,
        "M-step trust region: each M-step's move from the model it started from (Σ_t KL per path at the held-out "
        "E-step states) is shrunk to at most this many nats (needs --holdout; preset; default off; docs/concepts.md)",
        type=float,
    )
    min_naturalness: float | None = option(
        None,
        "keep the best iteration whose 3-mer correlation to the validation split (chr2) is ≥ this (preset: 0.925 in default)",
        type=float,
    )
    mstep_min_naturalness: float | None = option(
        None,
        "naturalness-guarded M-step: score the model before it and after each pass by the 3-mer correlation of "
        "--eval-sequences plain samples to the validation split (no reward call), and keep the last pass ≥ this "
        "(none: the best-scoring one); needs --holdout 0 (docs/concepts.md; default off)",
        type=float,
    )
    mstep_average: float | None = option(
        None, "M-step: keep the mean of the iterates of the last fraction of each judged pass, in [0, 1]; 0: the last", type=float
    )
    stop_patience: int | None = option(None, "iterations below the floor before stopping (preset; default 2)", type=int)
    back_off: int | None = option(
        None,
        "when the last iteration falls under the floor: this many bisections of the straight path in weight space "
        "from the kept iteration to it, keeping the best point that meets the floor (docs/concepts.md; preset; default 4)",
        type=int,
    )
    backtrack: str | None = option(
        None,
        "on: an iteration below the floor is undone (the next restarts from the kept one, with --target-kl halved "
        "per rejection so far when set); start: on, and the start is judged first and kept as iteration 0 when "
        "eligible, so a first iteration below the floor is undone too; off: go on from it (preset; default on)",
        choices=["on", "off", "start"],
    )
    warm_start: int | None = option(
        None,
        "warm start: before the first iteration, fit the prior for this many steps to its own training data resampled "
        "by exp(r/α) (the data set its checkpoint names, or --warm-start-data); the run starts from and is anchored to "
        "the fitted model; 0: off (preset: 1600 in default, 0 in quick and dav-paper; docs/concepts.md)",
        type=int,
        metavar="STEPS",
    )
    warm_start_kept: int | None = option(None, "data sequences resampled for the warm start (preset; 4096)", type=int)
    warm_start_ess: float | None = option(
        None, "warm start: α solved so the data's weights keep this fraction as Kish ESS, in (0, 1) (preset; 0.1)", type=float
    )
    warm_start_pool: int | None = option(
        None, "warm start: score only this many data sequences, drawn at random (fewer reward calls); default: all", type=int
    )
    warm_start_average: float | None = option(
        None, "warm start: keep the mean of the iterates of this last fraction of its steps, in [0, 1]; 0: the last", type=float
    )
    warm_start_data: str | None = option(
        None, "warm start data: a FASTA/CSV/TSV/HDF5 file (its training split) instead of the prior's own", metavar="FILE"
    )
    eval_sequences: int | None = option(None, "plain samples logged per iteration (preset; default 512)", type=int)
    skip_steps: float | None = option(None, "--m-step paper: leading steps left out (count or fraction)", type=float)
    inner_epochs: int | None = option(None, "M-step passes per iteration, at most (preset; default 8)", type=int)
    batch_size: int | None = option(None, "transitions per M-step batch (preset; default 128)", type=int)
    lr: float | None = option(None, "learning rate of the M-step (preset; default 1e-3)", type=float)
    gradient_clip: float | None = option(None, "max gradient norm of the M-step (preset; default 1.0)", type=float)
    eval_steps: int | None = option(None, "steps of the plain samples logged per iteration (preset; default 50)", type=int)
    seed: int = option(0, "random seed")
    keep_iterations: bool = option(
        False, "also save each iteration's model to OUT/iterations/iteration-K/ (to design from any of them)"
    )
    constraints: object = option(None, group="constraints")  # a dnadav.constraints.ConstraintSpec, or None
    max_batch: int | str | None = option("auto", group="max_batch")
    devices: str = option("1", "devices per node, e.g. 1, 4 or 'auto' (use with --strategy ddp)")
    accelerator: str = option("auto", "cpu, gpu or auto")
    strategy: str = option("auto", "Lightning strategy, e.g. ddp")
    force: bool = option(False, "start afresh even if --out holds a run")
    quiet: bool = option(False, "no progress bar")

    def __post_init__(self) -> None:  # checked before any work, whichever front end built the options
        for name in _COUNTS:  # ≥ 1
            check_number(_flag(name), getattr(self, name), 1)
        for name in _NON_NEGATIVE:
            check_number(_flag(name), getattr(self, name), 0)
        for name in _POSITIVE:
            check_number(_flag(name), getattr(self, name), 0, strict=True)
        check_number("--temperature", self.temperature, 0, strict=True, allow_inf=True)
        check_number("--target-ess", self.target_ess, 0, strict=True)
        if self.target_ess is not None and not self.target_ess < 1:
            raise InputError(f"--target-ess must be a fraction below 1; got {self.target_ess}")
        check_number("--warm-start-ess", self.warm_start_ess, 0, strict=True)
        if self.warm_start_ess is not None and not self.warm_start_ess < 1:
            raise InputError(f"--warm-start-ess must be a fraction below 1; got {self.warm_start_ess}")
        for flag, value in (("--warm-start-average", self.warm_start_average), ("--mstep-average", self.mstep_average)):
            check_number(flag, value, 0)
            if value is not None and not value <= 1:
                raise InputError(f"{flag} must be a fraction in [0, 1]; got {value}")
        if self.holdout is not None and not self.holdout < 1:
            raise InputError(f"--holdout must be a fraction below 1; got {self.holdout}")
        for name in ("min_naturalness", "mstep_min_naturalness"):
            value = getattr(self, name)
            if value is not None and not -1 <= value <= 1:
                raise InputError(f"{_flag(name)} is a correlation in [-1, 1]; got {value}")
        fit_devices(self.devices)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def align_config(options: AlignOptions) -> AlignConfig:
    """The run's ``AlignConfig``: ``options.preset``'s, with every option given (not None) over it."""
    from dnadav.dna.presets import preset

    config = preset(options.preset)
    given: dict[str, dict] = {"search": {}, "distill": {}, "": {}}  # the options given, by the config part they set
    for name, path in _PRESET_PATHS.items():
        value = getattr(options, name)
        if value is None:
            continue
        where, _, field = path.rpartition(".")
        if name == "backtrack":  # on | start (backtracking that may go back to the start) | off
            given[""].update(backtrack=value != "off", backtrack_start=value == "start")
            continue
        given[where][field] = value
    top = given[""]
    try:  # all at once: the config checks how its fields go together (e.g. proposal='prior' needs tilt_base='prior')
        distill = dataclasses.replace(config.distill, **given["distill"])
        search = dataclasses.replace(
            config.search,
            **given["search"],
            discount=options.discount,
            value=options.value,
            num_value_samples=options.value_samples,
            lookahead=options.lookahead,
            mode=options.search_mode,
            record_clean=distill.objective == "paper",
            record_children=distill.objective == "children",
        )
        distill = dataclasses.replace(distill, kl_weight=options.kl_weight)
    except ValueError as error:
        raise InputError(str(error)) from None
    spec = options.constraints
    try:  # the config checks how its fields go together (e.g. mstep_max_kl needs held-out sequences)
        config = dataclasses.replace(
            config,
            oracle=options.oracle,
            prior=options.prior,
            search=search,
            distill=distill,
            seed=options.seed,
            objective=options.objective,
            warm_start_data=options.warm_start_data,
            constraints=None if spec is None or spec.empty else spec.as_dict(),
            **top,
        )
    except ValueError as error:
        raise InputError(str(error)) from None
    if config.back_off and config.min_naturalness is None:
        raise InputError("--back-off searches for the best point that meets --min-naturalness: give a floor")
    return config
