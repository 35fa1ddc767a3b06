"""The main job: sample designs from a model for an oracle (optionally with the E-step search at
test time, "DAV posterior") and score them with the reward and the evaluation oracle.

The model's checkpoint is the source of truth: its ``config.json`` gives the masking schedule and
the sequence length it was trained on, and whether (and to which oracle) it was aligned.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from dnadav import defaults
from dnadav.core.search import LOOKAHEADS
from dnadav.dna.stratified import UNMASK_ORDERS, check_order
from dnadav.errors import InputError
from dnadav.jobs.options import check_number, option

__all__ = ["DesignOptions", "DesignResult", "default_model_for", "design", "stream_generator"]


@dataclass
class DesignOptions:
    """The options of ``dnadav design`` / ``dnadav.design`` (API keyword = CLI flag = ``name``)."""

    oracle: str = option(defaults.ORACLE, "oracle name (hepg2, k562, gm12878, hesc) or folder")
    num_sequences: int = option(128, "number of sequences", name="n")
    length: int | None = option(None, "sequence length in bp (default: the model's training length)", type=int)
    model: str | None = option(None, "model name or folder (default: the shipped aligned model for --oracle)")
    num_steps: int = option(defaults.DESIGN_STEPS, "reverse diffusion steps T", name="steps")
    num_children: int = option(
        0, "DAV posterior: run the E-step search with M candidates per sequence per step (0: plain sampling)",
        name="children", metavar="M",
    )  # fmt: skip
    reward_temperature: float = option(defaults.REWARD_TEMPERATURE, "reward temperature α (with --children)", name="temperature")
    lookahead: str = option(
        "child",
        "with --children: the x̂0 behind each candidate's value comes from a network call on the candidate (child) or "
        "from its parent's prediction with the candidate's new bases written in (parent: one network row per sequence "
        "and step instead of M; a weaker value, so use about half the temperature; docs/concepts.md)",
        choices=list(LOOKAHEADS),
    )
    seed: int = option(0, "random seed (bit-reproducible)")
    objective: str | None = option(None, 'reward expression, e.g. "k562 - max(hepg2,gm12878,hesc)" (docs/objectives.md)')
    constraints: object = option(None, group="constraints")  # a dnadav.constraints.ConstraintSpec, or None
    max_batch: int | str | None = option("auto", group="max_batch")
    strength: float = option(
        1.0, "alignment strength s in (0, 1]: sample prior + s·(model − prior) in weight space (docs/concepts.md)", type=float
    )
    prior: str | None = option(None, "with --strength < 1: the prior the model was aligned from (default: its config's)")
    precision: str = option(
        "fp32",
        "denoiser arithmetic: fp32 (bit-reproducible) or bf16 autocast (about 2x faster on CPUs with bf16; other sequences)",
        choices=["fp32", "bf16"],
    )
    adaptive: float = option(
        0.0,
        "adaptive steps (plain sampling): each network call also unmasks the most confident masked positions whose "
        "entropies sum to ≤ NATS and moves the clock on (fewer network rows, less natural designs: fewer --steps "
        "measured better; 0: fixed steps; docs/concepts.md)",
        metavar="NATS",
        type=float,
    )
    unmask: str = option(
        "random",
        "which masked positions each step unmasks (plain sampling): random (each independently) or stratified (one per "
        "block of --steps positions, so bases drawn together lie apart; exact at --steps = length; docs/concepts.md)",
        choices=list(UNMASK_ORDERS),
    )

    def __post_init__(self) -> None:  # checked before any work, whichever front end built the options
        if not isinstance(self.num_sequences, int) or self.num_sequences < 1:
            raise InputError(f"n must be an integer ≥ 1; got {self.num_sequences!r}")
        if self.num_steps < 1:
            raise InputError(f"steps must be ≥ 1; got {self.num_steps}")
        if self.num_children < 0:
            raise InputError(f"children must be ≥ 0 (0 = plain sampling); got {self.num_children}")
        if not self.reward_temperature > 0 or math.isnan(self.reward_temperature):
            raise InputError(f"temperature must be > 0 (inf = no tilt); got {self.reward_temperature}")
        if isinstance(self.adaptive, bool) or not isinstance(self.adaptive, (int, float)):
            raise InputError(f"adaptive must be a number of nats ≥ 0 (0 = fixed steps); got {self.adaptive!r}")
        check_number("adaptive", float(self.adaptive), 0.0)
        if self.lookahead not in LOOKAHEADS:
            raise InputError(f"lookahead must be {' or '.join(LOOKAHEADS)}; got {self.lookahead!r}")
        if self.lookahead == "parent" and self.num_children == 0:
            raise InputError("lookahead parent is for the E-step search: give --children M > 0")
        if self.adaptive > 0 and self.num_children > 0:
            raise InputError("adaptive steps are for plain sampling; the E-step search (children > 0) runs on the fixed grid")
        try:
            check_order(self.unmask)
        except ValueError as error:
            raise InputError(str(error)) from None
        if self.unmask != "random" and (self.num_children > 0 or self.adaptive > 0):
            raise InputError("unmask stratified is for plain sampling on the fixed grid: not with --children or --adaptive")


@dataclass(frozen=True)
class DesignResult:
    """Designs and their scores. Score arrays are ``[N]`` float64 numpy arrays (nats for log-odds)."""

    ids: list[str]
    sequences: list[str]
    reward: np.ndarray  # reward-oracle score (what the model was tuned on)
    pred_activity: np.ndarray  # held-out evaluation-oracle score: judge designs by this
    eval_probability: np.ndarray  # evaluation-oracle probability of the target cell type
    model: str  # the model as named by the caller (or the default picked for the oracle)
    model_dir: Path
    aligned_to: str | None  # the oracle the model was aligned to (its config's align_config), None for a prior
    used_aligned_model: bool  # True only when the model was aligned to this very oracle
    settings: dict  # oracle, n, length, model, num_steps, num_children, reward_temperature (None without search), seed
    checkpoints: dict[str, Path]  # "model", "reward_oracle", "eval_oracle" -> model.pt
    timings: dict[str, float] = field(default_factory=dict)
    search_stats: dict | None = None
    network_rows: int | None = None  # sequences through the denoiser, summed over calls and whole blocks


def default_model_for(oracle: str) -> tuple[str, bool]:
    """The shipped aligned model for ``oracle`` when there is one, else the prior: (name, aligned?)."""
    from dnadav.dna.checkpoint import SHIPPED_MODELS, resolve_model_dir

    key = f"{str(oracle).lower()}_aligned"
    if key in SHIPPED_MODELS and (resolve_model_dir(key) / "model.pt").is_file():
        return key, True
    return "dhs_prior", False


def stream_generator(seed: int, block: int) -> torch.Generator:
    """The random stream of block ``block`` (``defaults.DESIGN_BLOCK`` sequences) under ``seed``."""
    return torch.Generator().manual_seed((int(seed) * 1_000_003 + int(block)) % (2**63 - 1))


def _check_length(length: int | None, model_length: int | None, oracle_lengths: dict[str, int | None], model: str) -> int:
    """The length to design: the model's; refuses one the model or an oracle was not trained on."""
    known = {f"model {model}": model_length, **oracle_lengths}
    trained = {k: v for k, v in known.items() if v is not None}
    if length is None:
        length = model_length or next(iter(trained.values()), None) or 200
    if length < 1:
        raise InputError(f"length must be ≥ 1; got {length}")
    for what, value in trained.items():
        if value != length:
            raise InputError(f"length {length} bp: the {what} was trained on {value} bp sequences; use --length {value}")
    return length


@torch.no_grad()
def design(
    options: DesignOptions | None = None,
    *,
    on_step: Callable[[int], None] | None = None,
    oracles: tuple[torch.nn.Module, torch.nn.Module] | None = None,
    **fields,
) -> DesignResult:
    """Design ``options.num_sequences`` sequences for ``options.oracle`` (a shipped name or an oracle
    folder); ``fields`` (``DesignOptions``' field names) build the options when none are given.

    ``model`` None picks the shipped aligned model for the oracle (else the prior). ``length`` None
    takes the model's training length; another length is refused (InputError). With
    ``num_children`` M > 0 every reverse step also runs the DAV E-step (M candidates per sequence,
    reward temperature α = ``reward_temperature``), which costs M× the network calls (``lookahead="parent"``:
    values from the parent's prediction, no extra network rows, M× the oracle rows). Sequences are
    made in fixed blocks of ``defaults.DESIGN_BLOCK``; block k draws from its own stream seeded by
    (``seed``, k) and is always sampled whole (the last one is cut to n), so sequence i depends only
    on the seed and i — never on n or a batch size. Search statistics count whole blocks.
    ``on_step`` is called after each reverse step of each block. ``oracles`` (reward, eval) may be
    passed already loaded; by default both are loaded by ``oracle`` name. ``constraints`` (a
    ``dnadav.constraints.ConstraintSpec``) are enforced at every reverse step (zero violations by
    construction); ``objective`` (e.g. ``"k562 - max(hepg2,gm12878,hesc)"``, docs/objectives.md)
    replaces the reward oracle's log-odds as the search's reward and the ``reward`` column.
    ``max_batch`` rows go through the network and the oracles per call (``dnadav.core.batching``:
    "auto" = the device's measured default; results do not depend on it). ``precision="bf16"`` runs
    the denoiser under bf16 autocast (about 2× faster where the hardware has bf16; sequences differ
    from float32's for the same seed, see ``dnadav.precision``); the scores are always float32.
    ``adaptive`` > 0 (nats; plain sampling only) samples with ``dnadav.dna.adaptive``: each network call
    also unmasks the confident positions whose entropies sum to ≤ ``adaptive``, so fewer network rows
    (``network_rows``, recorded in the manifest) at a documented deviation from the fixed-step law; 0 is
    the fixed-step sampler bit for bit.
    """
    from dnadav.core.batching import chunked_call, resolve_max_batch
    from dnadav.core.search import SearchConfig
    from dnadav.dna.adaptive import sample_adaptive
    from dnadav.dna.checkpoint import model_schedule
    from dnadav.dna.search import search
    from dnadav.dna.tokens import tokens_to_onehot, tokens_to_strings
    from dnadav.loaders import load_model, load_oracle, oracle_length

    options = options if options is not None else DesignOptions(**fields)
    oracle, num_sequences, length, model = options.oracle, options.num_sequences, options.length, options.model
    num_steps, num_children, reward_temperature = options.num_steps, options.num_children, options.reward_temperature
    seed, constraints, objective = options.seed, options.constraints, options.objective
    max_batch, precision = options.max_batch, options.precision
    timings: dict[str, float] = {}
    started = time.perf_counter()
    model = str(model) if model is not None else default_model_for(oracle)[0]
    from dnadav.jobs.strength import with_strength
    from dnadav.precision import with_precision

    loaded = with_strength(load_model(model), options.strength, options.prior)
    config = loaded.config_dict
    denoiser = with_precision(loaded, precision)
    aligned_to = (config.get("align_config") or {}).get("oracle")
    reward_oracle, eval_oracle = oracles or (load_oracle(oracle, role="reward"), load_oracle(oracle, role="eval"))
    reward_oracle, eval_oracle = reward_oracle.eval(), eval_oracle.eval()
    oracle_lengths = {"reward oracle": oracle_length(reward_oracle), "evaluation oracle": oracle_length(eval_oracle)}
    length = _check_length(length, loaded.length, oracle_lengths, model)
    schedule = model_schedule(config)
    try:  # the sampler refuses it too; here it is the user's input, named
        check_order(options.unmask, schedule)
    except ValueError as error:
        raise InputError(f"model {model}: {error}") from None
    constraint = None if constraints is None or constraints.empty else constraints.compile(length)
    reward_fn = reward_oracle.reward
    if objective is not None:
        from dnadav.objectives import make_objective

        reward_fn = make_objective(objective, oracle=reward_oracle).reward
    timings["load_seconds"] = time.perf_counter() - started
    search_config = None
    if num_children > 0:
        search_config = SearchConfig(
            num_children=num_children, reward_temperature=reward_temperature, num_steps=num_steps, lookahead=options.lookahead
        )
    blocks, stats, network_rows = [], [], 0
    started = time.perf_counter()
    for block, first in enumerate(range(0, num_sequences, defaults.DESIGN_BLOCK)):
        count = min(defaults.DESIGN_BLOCK, num_sequences - first)
        generator = stream_generator(seed, block)
        size = defaults.DESIGN_BLOCK  # a whole block even for the last one, so its first `count` do not depend on n
        if search_config is not None:
            result = search(
                denoiser, reward_fn, size, length, search_config, schedule, generator,
                on_step=on_step, constraint=constraint, max_batch=max_batch,
            )  # fmt: skip
            blocks.append(result.sequences[:count])
            stats.append(result.stats.as_dict())
        else:
            sampled = sample_adaptive(  # adaptive 0, order random: dnadav.dna.sampler.sample, bit for bit
                denoiser, size, length, num_steps, options.adaptive, schedule, generator,
                on_step=on_step, constraint=constraint, max_batch=max_batch, order=options.unmask,
            )  # fmt: skip
            blocks.append(sampled.tokens[:count])
            network_rows += sampled.network_rows
    tokens = torch.cat(blocks)
    timings["sampling_seconds"] = time.perf_counter() - started
    started = time.perf_counter()
    onehot = tokens_to_onehot(tokens)
    rows = resolve_max_batch(max_batch, onehot.device)
    reward = chunked_call(reward_fn, onehot, max_batch=rows).double().numpy()
    pred_activity = chunked_call(eval_oracle.reward, onehot, max_batch=rows).double().numpy()
    eval_probability = chunked_call(eval_oracle.probability, onehot, max_batch=rows).double().numpy()
    timings["scoring_seconds"] = time.perf_counter() - started
    search_stats = {k: sum(s[k] for s in stats) for k in stats[0]} if stats else None
    width = len(str(num_sequences))
    files = {"model": loaded.checkpoint_file, "strength_prior": getattr(loaded, "strength_prior_file", None)}
    checkpoints = {role: file for role, file in files.items() if file is not None}
    for role, scorer in (("reward_oracle", reward_oracle), ("eval_oracle", eval_oracle)):
        if getattr(scorer, "checkpoint_file", None) is not None:
            checkpoints[role] = Path(scorer.checkpoint_file)
    settings = {
        "oracle": str(oracle),
        "n": num_sequences,
        "length": length,
        "model": model,
        "num_steps": num_steps,
        "num_children": num_children,
        "reward_temperature": reward_temperature if num_children > 0 else None,
        "lookahead": options.lookahead if num_children > 0 else None,
        "seed": seed,
        "schedule": config.get("schedule", "loglinear"),
        "precision": precision,
        "strength": options.strength,
        "adaptive": options.adaptive if num_children == 0 else None,
        "unmask": options.unmask if num_children == 0 else None,
        "constraints": None if constraint is None else constraints.as_dict(),
        "objective": objective,
    }
    return DesignResult(
        ids=[f"design_{i + 1:0{width}d}" for i in range(num_sequences)],
        sequences=tokens_to_strings(tokens),
        reward=reward,
        pred_activity=pred_activity,
        eval_probability=eval_probability,
        model=model,
        model_dir=loaded.checkpoint_file.parent,
        aligned_to=aligned_to,
        used_aligned_model=aligned_to is not None and str(aligned_to).lower() == str(oracle).lower(),
        settings=settings,
        checkpoints=checkpoints,
        timings=timings,
        search_stats=search_stats,
        network_rows=network_rows if search_stats is None else int(search_stats["network_sequences"]),
    )
