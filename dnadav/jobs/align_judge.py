"""What an align run is judged by (``run_judge``): the prior, both oracles, the run's reward and
constraint, the selection rule and the per-iteration log of plain samples, built once from the run's
config — for the run itself and for anything that judges its models afterwards (the back-off, benches)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from dnadav.dna.checkpoint import model_length, model_schedule
from dnadav.dna.config import AlignConfig
from dnadav.jobs.align_metrics import naturalness_floor, plain_sample_metrics, validation_naturalness
from dnadav.published.dispatch import load_denoiser_any

__all__ = ["RunJudge", "run_judge"]


def _references(config: AlignConfig, reward_oracle, eval_oracle, reference: str | Path | None):
    """(the logged naturalness reference, the validation set a run may select on or None): a user's
    ``reference`` file serves both; else the evaluation oracle's own set and, with a naturalness
    floor (of iterations or of M-step passes), the reward oracle's validation split
    (``dnadav.evaluate.reference``)."""
    from dnadav.evaluate.reference import reference_for_oracle, validation_reference

    if reference is not None:
        from dnadav.data import read_sequences

        sequences = read_sequences(reference, length=config.length).sequences
        return sequences, sequences if _reads_validation(config) else None
    logged = reference_for_oracle(eval_oracle)
    return logged, validation_reference(reward_oracle) if _reads_validation(config) else None


def _reads_validation(config: AlignConfig) -> bool:
    """Whether the run keeps iterations (``min_naturalness``) or M-step passes (``mstep_min_naturalness``)
    by naturalness on the validation set."""
    return config.min_naturalness is not None or config.mstep_min_naturalness is not None


@dataclass
class RunJudge:
    """What an align run is judged by, built once from its config: the prior (and its config and
    schedule), both oracles, the run's reward, its constraint, the selection rule (None without a
    floor) and ``metrics_of(model, generator)``, the per-iteration log of plain samples;
    ``pass_score(model, generator)``, the naturalness a guarded M-step keeps its passes by (None
    without ``mstep_min_naturalness``)."""

    prior: torch.nn.Module
    prior_config: dict
    schedule: object
    reward_oracle: torch.nn.Module
    eval_oracle: torch.nn.Module
    reward_fn: Callable
    constraint: object
    select: Callable[[dict[str, float]], float | None] | None
    metrics_of: Callable[[torch.nn.Module, torch.Generator], dict[str, float]]
    reference_set: list[str]
    pass_score: Callable[[torch.nn.Module, torch.Generator], float] | None = None


def run_judge(
    config: AlignConfig, reference: str | Path | None = None, oracles: tuple[torch.nn.Module, torch.nn.Module] | None = None
) -> RunJudge:
    """The ``RunJudge`` of a run of ``config`` (``reference``, ``oracles``: as ``align`` takes them): the
    prior's own schedule and length (the checkpoint is the source of truth), the objective under both
    oracles (the evaluation oracle's only logged), the constraints compiled."""
    from dnadav.errors import InputError
    from dnadav.loaders import load_oracle, oracle_length

    prior, prior_config = load_denoiser_any(config.prior)
    schedule = model_schedule(prior_config)  # the prior's own schedule: the checkpoint is the source of truth
    trained = model_length(prior_config)
    if trained is not None and trained != config.length:
        raise InputError(f"length {config.length} bp: the prior {config.prior} was trained on {trained} bp sequences")
    if oracles is None:
        oracles = (load_oracle(config.oracle, role="reward"), load_oracle(config.oracle, role="eval"))
    reward_oracle, eval_oracle = oracles[0].eval(), oracles[1].eval()
    for role, oracle in (("reward", reward_oracle), ("evaluation", eval_oracle)):
        if oracle_length(oracle) not in (None, config.length):
            raise InputError(f"length {config.length} bp: the {role} oracle was trained on {oracle_length(oracle)} bp sequences")
    reward_fn, eval_reward_fn = reward_oracle.reward, eval_oracle.reward
    if config.objective is not None:
        from dnadav.objectives import make_objective

        reward_fn = make_objective(config.objective, oracle=reward_oracle).reward
        # the logged held-out reward: the same expression under the evaluation oracle (a constrained
        # objective's penalty at its initial multipliers)
        eval_reward_fn = make_objective(config.objective, oracle=eval_oracle).reward
    constraint = None
    if config.constraints:
        from dnadav.constraints import spec_from_options

        fields = {k: config.constraints.get(k) for k in ("forbid", "gc", "max_homopolymer", "prefix", "suffix", "template")}
        constraint = spec_from_options(**fields).compile(config.length)
    # the reference set: the user's file, else the evaluation oracle's (its DHS cell type, its Gosai table's top 0.1%)
    reference_set, validation = _references(config, reward_oracle, eval_oracle, reference)
    select = naturalness_floor(config.min_naturalness) if config.min_naturalness is not None else None
    metrics_of = lambda m, g: plain_sample_metrics(  # noqa: E731
        m,
        prior,
        reward_fn,
        eval_oracle,
        reference_set,
        config,
        schedule,
        g,
        constraint=constraint,
        eval_reward_fn=eval_reward_fn,
        validation_reference=validation,
    )
    pass_score = None
    if config.mstep_min_naturalness is not None:
        pass_score = lambda m, g: validation_naturalness(m, validation, config, schedule, g, constraint)  # noqa: E731
    return RunJudge(
        prior, prior_config, schedule, reward_oracle, eval_oracle, reward_fn, constraint, select, metrics_of, reference_set,
        pass_score,
    )  # fmt: skip
