"""Evaluate sets of designed sequences on one table: validity, activity (held-out oracle),
naturalness, motifs, likelihood, diversity and novelty.

Everything that scores is injected — the two oracles, the log-likelihood, the reference and training
sets, the motifs — and defaults to the shipped ones, loaded only when needed. So a toy oracle (GC
content) and a toy likelihood evaluate exactly like the real ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
import torch

from dnadav.data.tables import SequenceTable
from dnadav.defaults import APP_LOG_LIK_ROWS, APP_LOG_LIK_TIMES
from dnadav.dna.tokens import invalid_character, strings_to_onehot, strings_to_tokens
from dnadav.evaluate import metrics
from dnadav.evaluate.columns import HEADLINE, OPTIONAL, optional_columns
from dnadav.evaluate.motifs import MotifSet, load_motifs, motif_correlation, motif_hit_counts
from dnadav.evaluate.scores import optional_metrics, oracle_scores
from dnadav.oracles.base import RegressionOracle

if TYPE_CHECKING:
    from dnadav.dna.masked import ElboTimes

__all__ = [
    "HEADLINE",
    "OPTIONAL",
    "EvaluationResult",
    "optional_columns",
    "LogLikelihood",
    "evaluate_sets",
    "prior_log_likelihood",
]

LogLikelihood = Callable[[torch.Tensor], torch.Tensor]  # tokens [B, L] -> log-likelihood [B] (nats)


@dataclass
class EvaluationResult:
    """One evaluation. ``summary``: one row per input (index = input name), HEADLINE columns.
    ``per_sequence``: input, id, sequence, reward, pred_activity, eval_probability (classifiers), app_log_lik, gc,
    novelty, motif_hits; with a cell-type evaluation oracle also ``p_<class>`` (every class),
    ``specific`` and ``margin``; with an objective ``objective``; with constraints ``violations``
    (total) and ``violations_<kind>``. ``kmer_frequencies``: input (and "reference") -> 3-mer frequencies ``[64]``.
    ``motif_rates``: hits per kb, rows = inputs + "reference", columns = motif names;
    ``motif_counts``: the same as total hit counts and ``scanned_kb``: kb scanned per row (for the
    enrichment test). ``pairwise_distances``: input -> the Levenshtein distances (bases) of all
    distinct pairs ``[N(N-1)/2]``. ``controls``: the names of real-sequence rows (not designs)."""

    summary: pd.DataFrame
    per_sequence: pd.DataFrame
    kmer_frequencies: dict[str, np.ndarray]
    motif_rates: pd.DataFrame
    motifs: MotifSet
    info: dict = field(default_factory=dict)
    motif_counts: pd.DataFrame | None = None
    scanned_kb: dict[str, float] = field(default_factory=dict)
    pairwise_distances: dict[str, np.ndarray] = field(default_factory=dict)
    controls: list[str] = field(default_factory=list)


def prior_log_likelihood(
    prior=None, *, num_time_samples: int = APP_LOG_LIK_ROWS, seed: int = 0, times: ElboTimes = APP_LOG_LIK_TIMES
) -> LogLikelihood:
    """App-Log-Lik as a callable: the Monte-Carlo ELBO (nats/sequence) of ``tokens [B, L]`` under
    ``prior`` (default: the shipped pretrained prior) and the masking schedule its config names
    (``config_dict``, as ``dnadav.load_model`` gives it; log-linear otherwise), seeded so that reruns
    agree; ``num_time_samples`` network rows per sequence at ``times`` (``dnadav.dna.sequence_elbo``)."""
    from dnadav.dna import load_prior, sequence_elbo
    from dnadav.dna.checkpoint import model_schedule

    prior = prior if prior is not None else load_prior()
    schedule = model_schedule(getattr(prior, "config_dict", None) or {})

    def log_likelihood(tokens: torch.Tensor) -> torch.Tensor:
        device = next(prior.parameters()).device if isinstance(prior, torch.nn.Module) else torch.device("cpu")
        generator = torch.Generator(device).manual_seed(seed)
        return sequence_elbo(
            prior, tokens.to(device), schedule, num_time_samples=num_time_samples, generator=generator, times=times
        ).cpu()

    return log_likelihood


@torch.no_grad()
def _valid_only(name: str, given: SequenceTable | Sequence[str], length: int | None) -> tuple[list[str], list[str], int, int]:
    """(ids, valid sequences, n records, n invalid). Invalid records are counted and left out."""
    if isinstance(given, SequenceTable):
        ids, sequences, dropped = list(given.ids), list(given.sequences), given.dropped
    else:
        sequences, dropped = [str(s) for s in given], 0
        ids = [f"{name}_{i + 1}" for i in range(len(sequences))]
    length = length if length is not None else (len(sequences[0]) if sequences else 0)
    keep = [len(s) == length and invalid_character(s) is None for s in sequences]  # length first: cheap
    invalid = dropped + keep.count(False)
    return [i for i, k in zip(ids, keep) if k], [s.upper() for s, k in zip(sequences, keep) if k], dropped + len(keep), invalid


@torch.no_grad()
def evaluate_sets(
    inputs: Mapping[str, SequenceTable | Sequence[str]],
    *,
    reward_oracle=None,
    eval_oracle=None,
    log_likelihood: LogLikelihood | Literal["prior", "skip"] = "prior",
    reference: Sequence[str] | None = None,
    training: Sequence[str] | None = None,
    prior=None,
    motifs: MotifSet | None = None,
    length: int | None = None,
    loglik_time_samples: int = APP_LOG_LIK_ROWS,
    novelty_metric: metrics.NoveltyMetric = "hamming",
    kmer_js_k: int = 3,
    batch_size: int = 512,
    seed: int = 0,
    controls: Sequence[str] = (),
    objective: str | None = None,
    constraint=None,
    threshold: float | None = None,
) -> EvaluationResult:
    """Evaluate each named input (a list of strings or a ``SequenceTable``; one summary row each).

    ``reward_oracle`` / ``eval_oracle``: objects with ``reward(onehot [B, 4, L]) -> [B]`` and
    ``probability(onehot) -> [B]`` (default: the shipped ``hepg2`` pair). ``log_likelihood``: a
    callable ``tokens [B, L] -> nats [B]``; ``"prior"`` (default) = the ELBO under ``prior`` (default:
    the shipped prior) with ``loglik_time_samples`` rows per sequence (``prior_log_likelihood``);
    ``"skip"`` = no App-Log-Lik (nan).
    ``reference``: default = top 500 held-out HepG2 DHS by ``eval_oracle`` (see
    ``dnadav.evaluate.reference``). ``training``: default = the DHS train split. ``length``: the
    expected length (default: each input's first record); records of another length are counted as
    invalid, so no record's size reaches an oracle. Oracles run in batches of ``batch_size``.
    ``controls``: names among ``inputs`` that are real sequences (labelled so in the report).
    A cell-type classifier as ``eval_oracle`` adds every class's probability and the specificity
    figures (``OPTIONAL``); ``objective`` (an expression, docs/objectives.md) adds its value under the
    evaluation oracle; ``constraint`` (a ``SequenceConstraint``) counts each sequence's violations.
    A **regression** evaluation oracle (a ``RegressionOracle``: MPRA activity, a user's scorer) has no
    class probability: ``accessibility_accuracy`` is left empty and ``above_threshold`` is the share
    of sequences whose prediction is above ``threshold`` (default: the median prediction for the
    reference set; ``info["threshold"]``).
    """
    started = time.perf_counter()
    if reward_oracle is None or eval_oracle is None:
        from dnadav.oracles import load_oracle

        reward_oracle = reward_oracle if reward_oracle is not None else load_oracle("hepg2", role="reward")
        eval_oracle = eval_oracle if eval_oracle is not None else load_oracle("hepg2", role="eval")
    if reference is None or training is None:
        from dnadav.evaluate.reference import reference_sequences, training_sequences

        target = getattr(eval_oracle, "target", "HepG2")
        reference = reference if reference is not None else reference_sequences(target, "eval", 500, eval_oracle)
        training = training if training is not None else training_sequences()
    if log_likelihood == "prior":
        log_likelihood = prior_log_likelihood(prior, num_time_samples=loglik_time_samples, seed=seed)
    elif log_likelihood != "skip" and not callable(log_likelihood):
        raise ValueError(f"log_likelihood must be a callable, 'prior' or 'skip'; got {log_likelihood!r}")
    motifs = motifs or load_motifs()
    objective_fn = None
    if objective is not None:
        from dnadav.objectives import make_objective

        objective_fn = make_objective(objective, oracle=eval_oracle).reward
    reference = list(reference)
    regression = isinstance(eval_oracle, RegressionOracle)  # predictions, no class probability
    if regression and threshold is None:
        threshold = metrics.pred_activity(oracle_scores(eval_oracle, strings_to_onehot(reference), batch_size)[0])
    training_tokens = strings_to_tokens(list(training)) if len(training) else torch.zeros(0, 0, dtype=torch.long)
    reference_tokens = strings_to_tokens(reference)
    reference_hits = motif_hit_counts(strings_to_onehot(reference), motifs)
    reference_kb = reference_tokens.numel() / 1000
    reference_counts = metrics.kmer_counts(reference_tokens, 3)
    kmer_frequencies = {"reference": reference_counts / max(1, reference_counts.sum())}
    motif_rates = {"reference": reference_hits.sum(0).numpy() / max(reference_kb, 1e-9)}
    motif_counts = {"reference": reference_hits.sum(0).numpy()}
    scanned_kb = {"reference": reference_kb}
    pairwise: dict[str, np.ndarray] = {}
    rows, frames = [], []
    for name, given in inputs.items():
        ids, sequences, n_records, n_invalid = _valid_only(name, given, length)
        row = {"input": name, "n": n_records, "n_valid": len(sequences), "n_invalid": n_invalid}
        if not sequences:
            rows.append(row)  # nothing valid to measure: every metric is nan
            continue
        tokens = strings_to_tokens(sequences)
        onehot = strings_to_onehot(sequences)
        reward, _ = oracle_scores(reward_oracle, onehot, batch_size)
        held_out, probability = oracle_scores(eval_oracle, onehot, batch_size)
        hits = motif_hit_counts(onehot, motifs)
        if len(training_tokens) and (novelty_metric == "levenshtein" or training_tokens.shape[1] == tokens.shape[1]):
            found = metrics.novelty(
                tokens if novelty_metric == "hamming" else sequences,
                training_tokens if novelty_metric == "hamming" else list(training),
                metric=novelty_metric,
            )
            novelty, novelty_median, near_copies = found.distances, found.median, found.near_copy_fraction
        else:  # Hamming needs equal lengths; say nothing rather than something wrong
            novelty, novelty_median, near_copies = np.full(len(sequences), np.nan), float("nan"), float("nan")
        if callable(log_likelihood):
            log_lik = np.asarray(log_likelihood(tokens), dtype=float)
        else:
            log_lik = np.full(len(sequences), np.nan)
        gc = metrics.gc_fraction(tokens)
        extra_row, extra_columns = optional_metrics(eval_oracle, onehot, tokens, objective_fn, constraint, batch_size)
        counts = metrics.kmer_counts(tokens, 3)
        kmer_frequencies[name] = counts / max(1, counts.sum())
        motif_rates[name] = hits.sum(0).numpy() / (tokens.numel() / 1000)
        motif_counts[name] = hits.sum(0).numpy()
        scanned_kb[name] = tokens.numel() / 1000
        distances = metrics.pairwise_levenshtein(sequences) if len(sequences) > 1 else np.zeros((1, 1))
        pairwise[name] = distances[np.triu_indices(len(distances), k=1)].astype(float)
        row.update(
            {
                "pred_activity_median": metrics.pred_activity(held_out),
                "reward_median": metrics.pred_activity(reward),
                "reward_eval_gap": metrics.pred_activity(reward) - metrics.pred_activity(held_out),
                "accessibility_accuracy": float("nan") if regression else metrics.accessibility_accuracy(probability),
                **({"above_threshold": float((held_out > threshold).mean())} if regression else {}),
                "kmer3_correlation": metrics.pearson(counts, reference_counts),
                "motif_correlation": motif_correlation(hits, reference_hits),
                "app_log_lik_median": float(np.median(log_lik)),
                "levenshtein_diversity": float(pairwise[name].mean()) if len(pairwise[name]) else float("nan"),
                "identity_diversity": metrics.mean_pairwise_identity_distance(tokens),
                "novelty_median": novelty_median,
                "near_copy_fraction": near_copies,
                "gc_mean": float(gc.mean()),
                "kmer_js": metrics.kmer_js_divergence(tokens, reference_tokens, kmer_js_k),
                **extra_row,
            }
        )
        rows.append(row)
        frames.append(
            pd.DataFrame(
                {
                    "input": name,
                    "id": ids,
                    "sequence": sequences,
                    "reward": reward,
                    "pred_activity": held_out,
                    **({} if regression else {"eval_probability": probability}),
                    "app_log_lik": log_lik,
                    "gc": gc,
                    "novelty": novelty,
                    "motif_hits": hits.sum(1).numpy(),
                    **extra_columns,
                }
            )
        )
    table = pd.DataFrame(rows)
    extras = [c for c in (*OPTIONAL, *sorted(c for c in table.columns if c.startswith("p_"))) if c in table.columns]
    summary = table.reindex(columns=["input", *HEADLINE, *extras, "n_invalid"]).set_index("input")
    per_sequence = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    rates = pd.DataFrame(motif_rates, index=list(motifs.names)).T
    return EvaluationResult(
        summary=summary,
        per_sequence=per_sequence,
        kmer_frequencies=kmer_frequencies,
        motif_rates=rates,
        motifs=motifs,
        motif_counts=pd.DataFrame(motif_counts, index=list(motifs.names)).T,
        scanned_kb=scanned_kb,
        pairwise_distances=pairwise,
        controls=[c for c in controls if c in inputs],
        info={
            "seconds": time.perf_counter() - started,
            "reference_size": len(reference),
            "training_size": len(training),
            "kmer_js_k": kmer_js_k,
            "novelty_metric": novelty_metric,
            "loglik": "skipped" if log_likelihood == "skip" else "computed",
            "reward_oracle_target": getattr(reward_oracle, "target", None),
            "eval_oracle_target": getattr(eval_oracle, "target", None),
            "eval_oracle_kind": "regression" if regression else "classifier",
            "threshold": threshold,
            "length_rule": (
                f"Records whose length is not {length} bp (what the oracles were trained on) are counted as invalid "
                "and not scored."
            )
            if length is not None
            else None,
        },
    )
