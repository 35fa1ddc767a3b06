"""Write an evaluation as ``report.html`` (self-contained: inline CSS, plots as base64 PNG),
``metrics.json``, ``metrics.csv`` and ``per_sequence.csv``."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import numpy as np

from dnadav import __version__
from dnadav.evaluate.evaluator import HEADLINE, EvaluationResult
from dnadav.io import atomic_write_text, check_writable

__all__ = ["REPORT_FILES", "write_report"]

REPORT_FILES = ("report.html", "metrics.json", "metrics.csv", "per_sequence.csv")
_CSS = """body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2rem auto;max-width:1150px;
color:#222;line-height:1.45}h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.88rem}th,td{padding:.3rem .55rem;border-bottom:1px solid #eee;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f6f6f6}.note{color:#555;font-size:.88rem}
img{max-width:100%}.grid{display:grid;grid-template-columns:1fr 1fr;gap:1rem}dl{font-size:.88rem}dt{font-weight:600}
dd{margin:0 0 .4rem 1rem;color:#444}"""


def _png(figure) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return f'<img alt="plot" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def _plots(result: EvaluationResult) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    per = result.per_sequence
    names = list(result.summary.index)
    plots = {}
    figure, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for name in names:
        rows = per[per["input"] == name]
        axes[0].hist(rows["eval_reward"], bins=40, alpha=0.5, label=name)
        axes[1].hist(rows["reward"], bins=40, alpha=0.5, label=name)
    axes[0].set(title="evaluation oracle (held out)", xlabel="HepG2 log-odds", ylabel="sequences")
    axes[1].set(title="reward oracle (optimised)", xlabel="HepG2 log-odds")
    axes[0].legend(fontsize=8)
    plots["activity"] = _png(figure)
    figure, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 3.4), squeeze=False)
    reference = result.kmer_frequencies["reference"]
    for ax, name in zip(axes[0], names):
        ax.scatter(reference, result.kmer_frequencies[name], s=10)
        top = max(reference.max(), result.kmer_frequencies[name].max())
        ax.plot([0, top], [0, top], color="grey", lw=0.8)
        ax.set(
            title=f"{name}: r = {result.summary.loc[name, 'kmer3_correlation']:.3f}",
            xlabel="reference 3-mer freq.",
            ylabel="design 3-mer freq.",
        )
    plots["kmer"] = _png(figure)
    figure, ax = plt.subplots(figsize=(5.5, 4))
    for name in names:
        row = result.summary.loc[name]
        ax.scatter(row["kmer3_correlation"], row["pred_activity_median"], s=60)
        ax.annotate(
            name, (row["kmer3_correlation"], row["pred_activity_median"]), fontsize=8, xytext=(4, 4), textcoords="offset points"
        )
    ax.set(xlabel="naturalness (3-mer corr.)", ylabel="Pred-Activity (eval oracle median)", title="activity vs naturalness")
    plots["tradeoff"] = _png(figure)
    figure, axes = plt.subplots(1, 2, figsize=(11, 3.4))
    axes[0].bar(names, result.summary["levenshtein_diversity"])
    axes[0].set(title="mean pairwise Levenshtein", ylabel="bases")
    for name in names:
        axes[1].hist(per[per["input"] == name]["gc"], bins=30, alpha=0.5, label=name)
    axes[1].set(title="GC content", xlabel="GC fraction")
    axes[1].legend(fontsize=8)
    for label in axes[0].get_xticklabels():
        label.set_rotation(20)
    plots["diversity"] = _png(figure)
    plots["logos"] = _logos(result)
    return plots


def _enrichment(result: EvaluationResult) -> dict[str, list[tuple[str, float]]]:
    """Top motifs per input by log2((hits/kb + 0.05) / (reference hits/kb + 0.05))."""
    rates = result.motif_rates
    out = {}
    for name in result.summary.index:
        ratio = np.log2((rates.loc[name] + 0.05) / (rates.loc["reference"] + 0.05))
        out[name] = [(motif, float(ratio[motif])) for motif in ratio.sort_values(ascending=False).index[:5]]
    return out


def _logos(result: EvaluationResult) -> str:
    import logomaker
    import matplotlib.pyplot as plt
    import pandas as pd

    enriched = _enrichment(result)
    chosen = []
    for name in result.summary.index:
        for motif, _ in enriched[name][:3]:
            if motif not in chosen:
                chosen.append(motif)
    chosen = chosen[:6]
    if not chosen:
        return ""
    figure, axes = plt.subplots(1, len(chosen), figsize=(3.2 * len(chosen), 1.9), squeeze=False)
    for ax, motif in zip(axes[0], chosen):
        index = result.motifs.names.index(motif)
        probabilities = result.motifs.probabilities[index].T.numpy()
        information = probabilities * (2 + (probabilities * np.log2(probabilities)).sum(axis=1, keepdims=True))
        logomaker.Logo(pd.DataFrame(information, columns=list("ACGT")), ax=ax)
        ax.set_title(f"{motif} ({result.motifs.matrix_ids[index]})", fontsize=9)
        ax.set_yticks([])
    return _png(figure)


def _table(result: EvaluationResult) -> str:
    head = "".join(f'<th title="{html.escape(HEADLINE[c][1])}">{html.escape(HEADLINE[c][0])}</th>' for c in HEADLINE)
    body = []
    for name, row in result.summary.iterrows():
        cells = "".join(f"<td>{row[c]:.3g}</td>" if isinstance(row[c], float) else f"<td>{row[c]}</td>" for c in HEADLINE)
        body.append(f"<tr><td>{html.escape(str(name))}</td>{cells}</tr>")
    return f"<table><tr><th>input</th>{head}</tr>{''.join(body)}</table>"


def write_report(
    result: EvaluationResult,
    out_dir: str | Path,
    *,
    command: str,
    oracle_names: dict[str, str],
    reference_description: str,
    force: bool = False,
) -> Path:
    """Write the four report files into ``out_dir``; refuses to overwrite them unless ``force``."""
    out_dir = Path(out_dir)
    for name in REPORT_FILES:
        check_writable(out_dir / name, force)
    plots = _plots(result)
    enriched = _enrichment(result)
    definitions = "".join(f"<dt>{html.escape(label)}</dt><dd>{html.escape(text)}</dd>" for label, text in HEADLINE.values())
    enrichment_rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{', '.join(f'{m} ({v:+.2f})' for m, v in motifs)}</td></tr>"
        for name, motifs in enriched.items()
    )
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>dnadav evaluation</title>
<style>{_CSS}</style></head><body>
<h1>dnadav evaluation report</h1>
<p class="note">Command: <code>{html.escape(command)}</code> · dnadav {__version__} ·
reward oracle <code>{html.escape(oracle_names["reward"])}</code>,
evaluation oracle <code>{html.escape(oracle_names["eval"])}</code>. The DHS oracles predict cell-type-specific
chromatin <b>accessibility</b>, a proxy for enhancer activity, not measured activity.</p>
<h2>Headline</h2>{_table(result)}
<p class="note">Reference set: {html.escape(reference_description)}</p>
<h2>Activity</h2><p class="note">Judge designs by the evaluation oracle, which was trained on other chromosomes
than the reward oracle the model was tuned on; a reward far above the evaluation score is over-optimisation.</p>
{plots["activity"]}
<h2>Naturalness</h2><div class="grid"><div>{plots["kmer"]}</div><div>{plots["tradeoff"]}</div></div>
<h2>Diversity and composition</h2>{plots["diversity"]}
<h2>Motifs</h2><p class="note">Most enriched JASPAR motifs vs the reference (log2 ratio of hits per kb, both strands,
score ≥ 85% of the PWM range).</p><table><tr><th>input</th><th>top motifs</th></tr>{enrichment_rows}</table>{plots["logos"]}
<h2>Definitions</h2><dl>{definitions}</dl>
</body></html>"""
    metrics_json = {
        "command": command,
        "dnadav_version": __version__,
        "oracles": oracle_names,
        "reference": reference_description,
        "inputs": json.loads(result.summary.reset_index().to_json(orient="records")),
        "top_motifs": enriched,
        "info": result.info,
    }
    atomic_write_text(out_dir / "metrics.json", json.dumps(metrics_json, indent=2) + "\n")
    atomic_write_text(out_dir / "metrics.csv", result.summary.to_csv())
    atomic_write_text(out_dir / "per_sequence.csv", result.per_sequence.to_csv(index=False))
    atomic_write_text(out_dir / "report.html", page)
    return out_dir / "report.html"
