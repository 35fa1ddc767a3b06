"""Evaluate sets of designed sequences on one table: activity (held-out oracle), naturalness,
diversity, novelty and likelihood. The oracles, prior and reference are passed in, so any
(toy or real) implementation can be evaluated the same way."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from dnadav.data.tables import SequenceTable
from dnadav.evaluate import metrics
from dnadav.evaluate.motifs import MotifSet, load_motifs, motif_hit_counts
from dnadav.seq import strings_to_onehot, strings_to_tokens

__all__ = ["EvaluationResult", "evaluate_sets", "HEADLINE"]

# Column name -> (label, one-line definition) of the headline table, in display order.
HEADLINE: dict[str, tuple[str, str]] = {
    "n": ("n", "sequences read"),
    "n_invalid": ("invalid", "records with non-ACGT characters or the wrong length (counted, not fixed)"),
    "pred_activity_median": ("Pred-Activity", "median evaluation-oracle HepG2 log-odds (held-out oracle)"),
    "reward_median": ("reward", "median reward-oracle log-odds (the oracle alignment optimised)"),
    "reward_eval_gap": ("gap", "reward − Pred-Activity: large values flag over-optimisation of the reward oracle"),
    "accessibility_accuracy": ("ATAC-Acc", "share the evaluation oracle calls HepG2-accessible (p > 0.5)"),
    "kmer3_correlation": ("3-mer corr", "Pearson correlation of 3-mer counts vs the reference set"),
    "motif_correlation": ("motif corr", "Spearman correlation of JASPAR motif hit counts vs the reference set"),
    "app_log_lik_median": ("App-Log-Lik", "median ELBO under the pretrained prior (nats/sequence; uniform = −277.3 at 200 bp)"),
    "levenshtein_diversity": ("Levenshtein div.", "mean pairwise edit distance (bases)"),
    "identity_diversity": ("1−identity", "mean pairwise 1 − identity (ungapped)"),
    "novelty_median": ("novelty", "median Hamming distance to the nearest training sequence (bases)"),
    "near_copy_fraction": ("near copies", "share within 10% (Hamming) of a training sequence"),
    "gc_mean": ("GC", "mean GC fraction"),
    "kmer4_js": ("4-mer JS", "Jensen–Shannon divergence of 4-mer spectra vs reference (bits)"),
}


@dataclass
class EvaluationResult:
    summary: pd.DataFrame  # one row per input, HEADLINE columns
    per_sequence: pd.DataFrame  # input, id, sequence, reward, eval_reward, eval_probability, app_log_lik, gc, novelty
    kmer_frequencies: dict[str, np.ndarray]  # input (and "reference") -> 3-mer frequencies [64]
    motif_rates: pd.DataFrame  # hits per kb: rows inputs + "reference", columns motif names
    motifs: MotifSet
    info: dict = field(default_factory=dict)


@torch.no_grad()
def _scores(oracle, onehot: torch.Tensor, batch_size: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    rewards, probabilities = [], []
    for i in range(0, len(onehot), batch_size):
        chunk = onehot[i : i + batch_size]
        rewards.append(oracle.reward(chunk))
        probabilities.append(oracle.probability(chunk))
    return torch.cat(rewards), torch.cat(probabilities)


@torch.no_grad()
def evaluate_sets(
    inputs: Mapping[str, SequenceTable | Sequence[str]],
    *,
    reward_oracle,
    eval_oracle,
    reference: Sequence[str],
    training: Sequence[str],
    prior=None,
    loglik_time_samples: int = 4,
    seed: int = 0,
) -> EvaluationResult:
    """Evaluate each named input. ``reward_oracle`` / ``eval_oracle`` have ``reward`` and
    ``probability`` on one-hot ``[B, 4, L]``; ``prior`` (optional) is a denoiser for App-Log-Lik."""
    from dnadav.diffusion.masked import sequence_elbo

    started = time.perf_counter()
    motifs = load_motifs()
    reference = list(reference)
    reference_hits = motif_hit_counts(strings_to_onehot(reference), motifs).float()
    reference_length = len(reference[0])
    rows, frames = [], []
    kmer_frequencies = {"reference": metrics.kmer_counts(reference, 3) / max(1, metrics.kmer_counts(reference, 3).sum())}
    motif_rates = {"reference": (reference_hits.sum(0) / (len(reference) * reference_length / 1000)).numpy()}
    for name, given in inputs.items():
        table = (
            given
            if isinstance(given, SequenceTable)
            else SequenceTable([f"seq{i + 1}" for i in range(len(given))], list(given), name)
        )
        sequences = table.sequences
        onehot = strings_to_onehot(sequences)
        reward, _ = _scores(reward_oracle, onehot)
        held_out, probability = _scores(eval_oracle, onehot)
        hits = motif_hit_counts(onehot, motifs).float()
        length = len(sequences[0])
        novelty = (
            metrics.nearest_hamming(sequences, training)
            if len(training) and len(training[0]) == length
            else np.full(len(sequences), np.nan)
        )
        if prior is not None:
            device = next(prior.parameters()).device if isinstance(prior, torch.nn.Module) else torch.device("cpu")
            log_lik = (
                sequence_elbo(
                    prior,
                    strings_to_tokens(sequences).to(device),
                    num_time_samples=loglik_time_samples,
                    generator=torch.Generator(device).manual_seed(seed),
                )
                .cpu()
                .numpy()
            )
        else:
            log_lik = np.full(len(sequences), np.nan)
        gc = metrics.gc_fraction(sequences)
        counts = metrics.kmer_counts(sequences, 3)
        kmer_frequencies[name] = counts / max(1, counts.sum())
        motif_rates[name] = (hits.sum(0) / (len(sequences) * length / 1000)).numpy()
        rows.append(
            {
                "input": name,
                "n": len(sequences) + table.dropped,
                "n_invalid": table.dropped,
                "pred_activity_median": float(held_out.median()),
                "reward_median": float(reward.median()),
                "reward_eval_gap": float(reward.median() - held_out.median()),
                "accessibility_accuracy": float((probability > 0.5).float().mean()),
                "kmer3_correlation": metrics.kmer_correlation(sequences, reference, 3),
                "motif_correlation": metrics.spearman(hits.sum(0).numpy(), reference_hits.sum(0).numpy()),
                "app_log_lik_median": float(np.median(log_lik)),
                "levenshtein_diversity": metrics.mean_pairwise_levenshtein(sequences),
                "identity_diversity": metrics.mean_pairwise_identity_distance(sequences),
                "novelty_median": float(np.median(novelty)),
                "near_copy_fraction": float(np.mean(novelty <= 0.1 * length)),
                "gc_mean": float(gc.mean()),
                "kmer4_js": metrics.kmer_js_divergence(sequences, reference, 4),
            }
        )
        frames.append(
            pd.DataFrame(
                {
                    "input": name,
                    "id": table.ids,
                    "sequence": sequences,
                    "reward": reward.numpy(),
                    "eval_reward": held_out.numpy(),
                    "eval_probability": probability.numpy(),
                    "app_log_lik": log_lik,
                    "gc": gc,
                    "novelty": novelty,
                }
            )
        )
    return EvaluationResult(
        summary=pd.DataFrame(rows).set_index("input"),
        per_sequence=pd.concat(frames, ignore_index=True),
        kmer_frequencies=kmer_frequencies,
        motif_rates=pd.DataFrame(motif_rates, index=list(motifs.names)).T,
        motifs=motifs,
        info={"seconds": time.perf_counter() - started, "reference_size": len(reference), "training_size": len(training)},
    )
