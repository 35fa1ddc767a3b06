"""What an align run logs after every iteration (``plain_sample_metrics``: plain samples scored by
both oracles, the prior's App-Log-Lik, naturalness, diversity) and which iteration it keeps
(``naturalness_floor``, ``selection_note``, and ``back_off_rejected``, the line search from the kept
iteration toward the rejected ones after it)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from dnadav.core.back_off import back_off
from dnadav.core.move_limit import interpolate_weights
from dnadav.core.ranks import stream_seed
from dnadav.core.state import copy_state
from dnadav.defaults import APP_LOG_LIK_ROWS, APP_LOG_LIK_TIMES
from dnadav.dna.config import AlignConfig
from dnadav.dna.em import MaskedDAVModule
from dnadav.dna.masked import sequence_elbo
from dnadav.dna.sampler import sample
from dnadav.dna.tokens import tokens_to_onehot, tokens_to_strings

__all__ = [
    "RunBackOff", "back_off_rejected", "metrics_of_tokens", "naturalness_floor", "plain_sample_metrics", "selection_note",
    "validation_naturalness",
]  # fmt: skip


def plain_tokens(model, config: AlignConfig, schedule, generator: torch.Generator, constraint=None) -> torch.Tensor:
    """``config.eval_sequences`` plain samples of ``model`` at ``config.eval_steps`` steps -> token ids [n, L]."""
    device = next(model.parameters()).device
    return sample(
        model, config.eval_sequences, config.length, config.eval_steps, schedule, generator, device, constraint=constraint
    )


@torch.no_grad()
def plain_sample_metrics(
    model,
    prior,
    reward_fn,
    eval_oracle,
    reference: list[str],
    config: AlignConfig,
    schedule,
    generator: torch.Generator,
    constraint=None,
    eval_reward_fn=None,
    validation_reference: list[str] | None = None,
) -> dict[str, float]:
    """Metrics of plain samples (no search) from ``model``: what the log tracks every iteration.

    ``reward_fn(onehot [B, 4, L]) -> [B]`` is the run's reward (the reward oracle's log-odds or the
    objective); a cell-type classifier as ``eval_oracle`` adds the specificity figures for its target.
    ``validation_reference`` (validation-split sequences) adds ``select/kmer3_validation``, the only
    naturalness figure a run may select on."""
    tokens = plain_tokens(model, config, schedule, generator, constraint)
    return metrics_of_tokens(tokens, prior, reward_fn, eval_oracle, reference, schedule, eval_reward_fn, validation_reference)


@torch.no_grad()
def validation_naturalness(
    model, validation_reference: list[str], config: AlignConfig, schedule, generator: torch.Generator, constraint=None
) -> float:
    """The 3-mer correlation of ``config.eval_sequences`` plain samples of ``model`` (``config.eval_steps``
    steps) to ``validation_reference``: the naturalness a guarded M-step keeps its passes by
    (``EMConfig.mstep_min_naturalness``). No reward call."""
    from dnadav.evaluate.metrics import kmer_correlation

    tokens = plain_tokens(model, config, schedule, generator, constraint)
    return float(kmer_correlation(tokens_to_strings(tokens.cpu()), validation_reference, k=3))


@torch.no_grad()
def metrics_of_tokens(
    tokens: torch.Tensor,
    prior,
    reward_fn,
    eval_oracle,
    reference: list[str],
    schedule,
    eval_reward_fn=None,
    validation_reference: list[str] | None = None,
) -> dict[str, float]:
    """``plain_sample_metrics``' figures for given sequences ``tokens`` [B, L] (token ids): the same keys,
    so an E-step's own sequences are judged exactly as a model's plain samples are."""
    from dnadav.evaluate.metrics import kmer_correlation, mean_pairwise_levenshtein

    onehot = tokens_to_onehot(tokens)
    owner = getattr(reward_fn, "__self__", None)
    reward_device = next(owner.parameters()).device if isinstance(owner, torch.nn.Module) else onehot.device
    reward = reward_fn(onehot.to(reward_device)).cpu()
    held_out = (eval_reward_fn or eval_oracle.reward)(onehot.to(next(eval_oracle.parameters()).device)).cpu()
    probability = eval_oracle.probability(onehot.to(next(eval_oracle.parameters()).device)).cpu()
    strings = tokens_to_strings(tokens.cpu())
    log_lik = sequence_elbo(
        prior,
        tokens.to(next(prior.parameters()).device),
        schedule,
        num_time_samples=APP_LOG_LIK_ROWS,
        times=APP_LOG_LIK_TIMES,
        generator=torch.Generator(next(prior.parameters()).device).manual_seed(0),
    )
    from dnadav.oracles import CellTypeOracle

    classifier = isinstance(eval_oracle, CellTypeOracle)  # a regressor's "probability" is no call of accessibility
    specificity = {}
    if len(getattr(eval_oracle, "class_names", ())) > 2 and hasattr(eval_oracle, "target"):
        from dnadav.objectives import class_logits, specificity_report

        report = specificity_report(class_logits(eval_oracle, onehot), tuple(eval_oracle.class_names), eval_oracle.target)
        specificity = {"plain/eval_specificity": report.specificity, "plain/eval_margin_median": report.margin_median}
    return {
        "plain/reward_median": float(reward.median()),
        "plain/eval_reward_median": float(held_out.median()),
        "plain/reward_eval_gap": float(reward.median() - held_out.median()),
        **({"plain/eval_accessibility_accuracy": float((probability > 0.5).float().mean())} if classifier else {}),
        "plain/kmer3_correlation": float(kmer_correlation(strings, reference, k=3)),
        "plain/levenshtein_diversity": float(mean_pairwise_levenshtein(strings)),
        "plain/app_log_lik_median": float(log_lik.median()),
        **specificity,
        **(
            {"select/kmer3_validation": float(kmer_correlation(strings, validation_reference, k=3))}
            if validation_reference
            else {}
        ),
    }


def naturalness_floor(floor: float):
    """The selection rule of ``min_naturalness``: an iteration is eligible when its plain samples'
    3-mer correlation to the validation split is ≥ ``floor``; eligible ones score by their
    reward-oracle median reward (the run's own reward: never the evaluation oracle)."""

    def select(record: dict[str, float]) -> float | None:
        if record.get("select/kmer3_validation", -1.0) < floor:
            return None
        return record["plain/reward_median"]

    return select


@dataclass
class RunBackOff:
    """What the back-off of a run did: from iteration ``start`` (0: the prior), the point kept lies
    ``scale`` of the way ``toward`` an iteration after it (None: none beat the start) with selection
    ``score`` and judge ``record``; ``tried``: every scale judged, by the iteration its segment leads to."""

    start: int
    toward: int | None = None
    scale: float | None = None
    score: float | None = None
    record: dict[str, float] | None = None
    tried: dict[int, list[dict[str, float]]] = field(default_factory=dict)


def back_off_rejected(
    module: MaskedDAVModule, snapshots: dict[int, dict], prior: torch.nn.Module, metrics_of, select, config: AlignConfig
) -> RunBackOff | None:
    """After the run: when its last iteration was rejected by ``select``, search the segments from the
    kept iteration's weights to every later iteration's (``snapshots``: iteration -> weights, the last
    read from ``module.model``; with backtracking each of them is one M-step from the kept weights) by
    ``config.back_off`` bisections each (``dnadav.core.back_off``), and keep the eligible point with the
    highest score if it beats the kept iteration (iteration 0 when only the start was judged eligible,
    ``backtrack_start``). With nothing eligible the one segment searched runs from the prior to the first
    iteration snapshotted (iterations then compound). ``module.model``
    ends at the point kept (else at the kept weights, or at the last iteration when none was eligible, as
    without back-off). Every point is judged by ``metrics_of(model, generator)``, the per-iteration log's
    judge, on one fixed seed (the same draws everywhere). None: nothing to search (the last is kept)."""
    best, last = module.best, len(module.history)
    if best is None or last == 0 or best.iteration == last:
        return None
    kept, held = best.iteration or 0, best.weights is not None  # held: a kept iteration, or the start judged eligible
    snapshots = {**snapshots, last: copy_state(module.model)}
    start = best.weights if held else copy_state(prior)
    towards = [k for k in sorted(snapshots) if k > kept] if held else [min(snapshots)]
    device = next(module.model.parameters()).device
    seed = stream_seed(config.seed, last, 0, 7)
    judge = lambda m: metrics_of(m, torch.Generator(device).manual_seed(seed))  # noqa: E731
    outcome = RunBackOff(kept, score=best.score if held else None)
    for k in towards:
        to_beat = -float("inf") if outcome.score is None else outcome.score
        found = back_off(module.model, start, snapshots[k], judge, select, to_beat, config.back_off)
        outcome.tried[k] = found.trace
        if found.scale is not None:
            outcome.toward, outcome.scale, outcome.score, outcome.record = k, found.scale, found.score, found.record
    if outcome.toward is not None:
        interpolate_weights(module.model, start, snapshots[outcome.toward], outcome.scale)
    else:  # the kept weights, or the last iteration when none was eligible (as without back-off)
        module.model.load_state_dict(start if held else snapshots[last])
    return outcome


def selection_note(module: MaskedDAVModule, floor: float | None, backed: RunBackOff | None = None) -> dict:
    """What the card says about the kept iteration: which, and why (and, with ``backed``, the back-off:
    the point kept on the way to a later iteration and every point tried)."""
    last = len(module.history)
    if backed is not None:
        origin = f"iteration {backed.start}" if backed.start else "the prior"
        tried = {
            str(k): [
                {n: v for n, v in t.items() if n in ("scale", "eligible", "score") or n.startswith("select/")} for t in trace
            ]
            for k, trace in backed.tried.items()
        }
        points = sum(len(trace) for trace in tried.values())
        if backed.toward is not None:
            return {
                "kept_iteration": backed.start,
                "of_iterations": last,
                "back_off": {"toward": backed.toward, "scale": backed.scale, "tried": tried},
                "why": f"{origin} + {backed.scale:g} × (iteration {backed.toward} − {origin}) in weight space: the highest "
                f"reward-oracle median ({backed.score:.3f}) with validation 3-mer ≥ {floor} of {points} points on the way "
                f"to the iterations after it",
            }
        note = selection_note(module, floor)
        return {**note, "why": note["why"] + f"; no point on the way to a later iteration beat it ({points} tried)",
                "back_off": {"toward": None, "scale": None, "tried": tried}}  # fmt: skip
    if module.best.iteration is None:
        return {"kept_iteration": last, "why": f"no iteration met 3-mer ≥ {floor} on the validation split; the last is kept"}
    return {
        "kept_iteration": module.best.iteration,
        "of_iterations": last,
        "why": f"highest reward-oracle median ({module.best.score:.3f}) among iterations with validation 3-mer ≥ {floor}",
    }
