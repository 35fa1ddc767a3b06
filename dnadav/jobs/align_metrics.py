"""What an align run logs after every iteration (``plain_sample_metrics``: plain samples scored by
both oracles, the prior's App-Log-Lik, naturalness, diversity) and which iteration it keeps
(``naturalness_floor``, ``selection_note``, and ``back_off_last``, the line search from the last,
rejected iteration back to the kept one)."""

from __future__ import annotations

import torch

from dnadav.core.back_off import BackOff, back_off
from dnadav.core.ranks import stream_seed
from dnadav.core.state import copy_state
from dnadav.defaults import APP_LOG_LIK_ROWS, APP_LOG_LIK_TIMES
from dnadav.dna.config import AlignConfig
from dnadav.dna.em import MaskedDAVModule
from dnadav.dna.masked import sequence_elbo
from dnadav.dna.sampler import sample
from dnadav.dna.tokens import tokens_to_onehot, tokens_to_strings

__all__ = ["back_off_last", "metrics_of_tokens", "naturalness_floor", "plain_sample_metrics", "selection_note"]


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
    device = next(model.parameters()).device
    tokens = sample(
        model, config.eval_sequences, config.length, config.eval_steps, schedule, generator, device, constraint=constraint
    )
    return metrics_of_tokens(tokens, prior, reward_fn, eval_oracle, reference, schedule, eval_reward_fn, validation_reference)


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


def back_off_last(module: MaskedDAVModule, prior: torch.nn.Module, metrics_of, select, config: AlignConfig) -> BackOff | None:
    """After the run: when its last iteration was rejected by ``select``, search the segment from the
    kept iteration's weights (the prior's when none was eligible) to the last iteration's by
    ``config.back_off`` bisections (``dnadav.core.back_off``); ``module.model`` ends at the result (the
    kept weights when no scale beats them). Every scale is judged by ``metrics_of(model, generator)``,
    the per-iteration log's judge, on one fixed seed (the same draws at every scale). None: nothing to
    search (the last iteration is the kept one)."""
    best, last = module.best, len(module.history)
    if best is None or last == 0 or best.iteration == last:
        return None
    start = best.weights if best.weights is not None else copy_state(prior)
    end = copy_state(module.model)
    device = next(module.model.parameters()).device
    seed = stream_seed(config.seed, last, 0, 7)
    judge = lambda m: metrics_of(m, torch.Generator(device).manual_seed(seed))  # noqa: E731
    kept = best.score if best.iteration is not None else -float("inf")
    outcome = back_off(module.model, start, end, judge, select, kept, config.back_off)
    if outcome.scale is None and best.iteration is None:
        module.model.load_state_dict(end)  # nothing eligible anywhere: the last stays, as without back-off
    return outcome


def selection_note(module: MaskedDAVModule, floor: float | None, backed: BackOff | None = None) -> dict:
    """What the card says about the kept iteration: which, and why (and, with ``backed``, the back-off:
    the scale kept on the way to the last iteration and every scale tried)."""
    last = len(module.history)
    if backed is not None:
        kept = module.best.iteration or 0
        origin = f"iteration {kept}" if kept else "the prior"
        trace = [
            {k: v for k, v in t.items() if k in ("scale", "eligible", "score") or k.startswith("select/")} for t in backed.trace
        ]
        if backed.scale is not None:
            return {
                "kept_iteration": kept,
                "of_iterations": last,
                "back_off_scale": backed.scale,
                "why": f"{origin} + {backed.scale:g} × (iteration {last} − {origin}) in weight space: the "
                f"highest reward-oracle median ({backed.score:.3f}) with validation 3-mer ≥ {floor} "
                f"found by {len(backed.trace)} bisections of that segment",
                "back_off": trace,
            }
        note = selection_note(module, floor)
        return {
            **note,
            "why": note["why"] + f"; no scale toward iteration {last} beat it ({len(trace)} bisections)",
            "back_off": trace,
        }
    if module.best.iteration is None:
        return {"kept_iteration": last, "why": f"no iteration met 3-mer ≥ {floor} on the validation split; the last is kept"}
    return {
        "kept_iteration": module.best.iteration,
        "of_iterations": last,
        "why": f"highest reward-oracle median ({module.best.score:.3f}) among iterations with validation 3-mer ≥ {floor}",
    }
