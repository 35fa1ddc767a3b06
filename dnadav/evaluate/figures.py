"""The report's figures, as inline PNGs: activity distributions, k-mer spectra, the reward/naturalness
trade-off with GC content, diversity and novelty, and the logos of the top enriched motifs."""

from __future__ import annotations

import base64
import io
import math

import numpy as np

from dnadav.evaluate.evaluator import EvaluationResult

__all__ = ["activity_axis", "activity_plot", "diversity_plot", "kmer_plot", "logos", "tradeoff_and_gc"]

_COLOURS = ["#1b6ca8", "#d1495b", "#2e933c", "#edae49", "#6a4c93", "#00798c", "#8d6a9f", "#555555"]


def _png(figure) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return f'<img alt="plot" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def _colour(i: int) -> str:
    return _COLOURS[i % len(_COLOURS)]


def _label(name: str, width: int = 18) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(str(name), width)) or str(name)


def activity_axis(info: dict) -> tuple[str, float | None, str]:
    """The activity plot's y label, reference line and its legend entry, from an evaluation's ``info``:
    a classifier's scores are the target's log-odds (nats; 0 is p = 0.5); a regressor's are predictions
    of its scored output in its own units, with the ``threshold`` of ``above_threshold`` marked."""
    target = info.get("eval_oracle_target") or "target"
    if info.get("eval_oracle_kind") == "regression":
        threshold = info.get("threshold")
        line = f"threshold {threshold:.4g}" if threshold is not None else ""
        return f"{target} prediction (the oracle's units)", threshold, line
    return f"{target} log-odds (nats)", 0.0, "p = 0.5"


def activity_plot(result: EvaluationResult, names: list[str], plt) -> str:
    per = result.per_sequence
    from matplotlib.patches import Patch

    figure, ax = plt.subplots(figsize=(11.5, 4.2))
    for i, name in enumerate(names):
        rows = per[per["input"] == name] if len(per) else per
        for offset, column, colour in ((-0.18, "pred_activity", "#1b6ca8"), (0.18, "reward", "#bbbbbb")):
            values = rows[column].to_numpy() if len(rows) else np.zeros(0)
            if len(values) > 1 and np.ptp(values) > 0:
                parts = ax.violinplot([values], positions=[i + offset], widths=0.34, showmedians=True)
                for body in parts["bodies"]:
                    body.set_facecolor(colour)
                    body.set_alpha(0.75)
                for key in ("cmedians", "cmins", "cmaxes", "cbars"):
                    parts[key].set_color("#333333")
                    parts[key].set_linewidth(0.8 if key != "cmedians" else 1.6)
            elif len(values):
                ax.scatter([i + offset] * len(values), values, color=colour, s=12)
    label, line, line_label = activity_axis(result.info)
    if line is not None:
        ax.axhline(line, color="#999", lw=0.8, ls="--")
    ax.set_xticks(range(len(names)), [_label(n) for n in names], fontsize=8)
    ax.set_ylabel(label)
    ax.set_title("activity per sequence", fontsize=10)
    handles = [
        Patch(color="#1b6ca8", label="evaluation oracle (held out)"),
        Patch(color="#bbbbbb", label="reward oracle (optimised)"),
    ]
    if line is not None:
        handles.append(plt.Line2D([], [], color="#999", ls="--", lw=0.8, label=line_label))
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    figure.tight_layout()
    return _png(figure)


def kmer_plot(result: EvaluationResult, names: list[str], plt) -> str:
    columns = min(4, len(names))
    rows = math.ceil(len(names) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(3.3 * columns, 3.2 * rows), squeeze=False)
    reference = result.kmer_frequencies["reference"]
    for i, ax in enumerate(axes.flat):
        if i >= len(names) or names[i] not in result.kmer_frequencies:
            ax.axis("off")
            continue
        design = result.kmer_frequencies[names[i]]
        top = max(reference.max(), design.max()) * 1.05
        ax.scatter(reference, design, s=9, color=_colour(i))
        ax.plot([0, top], [0, top], color="grey", lw=0.8)
        ax.set(xlim=(0, top), ylim=(0, top), xlabel="reference 3-mer frequency", ylabel="design 3-mer frequency")
        ax.set_title(f"{names[i]}  (r = {result.summary.loc[names[i], 'kmer3_correlation']:.3f})", fontsize=9)
    figure.tight_layout()
    return _png(figure)


def tradeoff_and_gc(result: EvaluationResult, names: list[str], plt) -> str:
    figure, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    ax = axes[0]
    for i, name in enumerate(names):
        row = result.summary.loc[name]
        ax.scatter(row["kmer3_correlation"], row["pred_activity_median"], s=70, color=_colour(i), label=name)
        ax.annotate(
            name, (row["kmer3_correlation"], row["pred_activity_median"]), fontsize=8, xytext=(5, 4), textcoords="offset points"
        )
    ax.set(xlabel="naturalness: 3-mer correlation", ylabel="Pred-Activity (eval-oracle median)", title="activity vs naturalness")
    ax.margins(0.25)
    per = result.per_sequence
    gc = per["gc"].to_numpy() if len(per) else np.zeros(1)
    bins = np.linspace(max(0.0, gc.min() - 0.025), min(1.0, gc.max() + 0.025), 36)
    for i, name in enumerate(names):
        values = per.loc[per["input"] == name, "gc"] if len(per) else []
        if len(values):
            axes[1].hist(values, bins=bins, alpha=0.55, color=_colour(i), label=name, density=True)
    axes[1].set(title="GC content", xlabel="GC fraction per sequence", ylabel="density")
    axes[1].legend(fontsize=8)
    figure.tight_layout()
    return _png(figure)


def diversity_plot(result: EvaluationResult, names: list[str], plt) -> str:
    figure, axes = plt.subplots(1, 2, figsize=(11.5, 3.6))
    distances = [result.pairwise_distances.get(n, np.zeros(0)) for n in names]
    top = max([d.max() for d in distances if len(d)] + [1.0])
    bins = np.linspace(0, top, 41)
    for i, (name, values) in enumerate(zip(names, distances)):
        if len(values):
            axes[0].hist(values, bins=bins, density=True, histtype="step", lw=1.6, color=_colour(i), label=name)
    axes[0].set(title="pairwise Levenshtein distance within each input", xlabel="bases", ylabel="density")
    per = result.per_sequence
    novelty = per["novelty"].to_numpy(dtype=float) if len(per) else np.zeros(0)
    finite = novelty[np.isfinite(novelty)]
    if finite.size:
        bins = np.linspace(0, max(1.0, finite.max()), 41)
        for i, name in enumerate(names):
            values = per.loc[per["input"] == name, "novelty"].to_numpy(dtype=float)
            values = values[np.isfinite(values)]
            if values.size:
                axes[1].hist(values, bins=bins, density=True, histtype="step", lw=1.6, color=_colour(i), label=name)
    axes[1].set(title="distance to the nearest training sequence", xlabel="bases (near 0 = memorised)", ylabel="density")
    axes[1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    figure.tight_layout()
    return _png(figure)


def logos(result: EvaluationResult, enriched: dict[str, list[tuple[str, float]]], plt) -> str:
    import logomaker
    import pandas as pd

    chosen = []
    for motifs in enriched.values():
        for motif, ratio, _ in motifs[:3]:
            if ratio > 1 and motif not in chosen:
                chosen.append(motif)
    chosen = chosen[:8]
    if not chosen:
        return '<p class="note">No motif is significantly enriched over the reference.</p>'
    columns = min(4, len(chosen))
    rows = math.ceil(len(chosen) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(3.3 * columns, 1.7 * rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= len(chosen):
            ax.axis("off")
            continue
        index = result.motifs.names.index(chosen[i])
        probabilities = result.motifs.probabilities[index].T.numpy()  # [W, 4]
        information = probabilities * (2 + (probabilities * np.log2(probabilities)).sum(axis=1, keepdims=True))
        logomaker.Logo(pd.DataFrame(information, columns=list("ACGT")), ax=ax, color_scheme="classic")
        ax.set_title(f"{chosen[i]}  {result.motifs.matrix_ids[index]}  ({result.motifs.cell_types[index]})", fontsize=9)
        ax.set_ylim(0, 2)
        ax.set_yticks([0, 1, 2])
        ax.set_xticks([])
    figure.tight_layout()
    return _png(figure)
