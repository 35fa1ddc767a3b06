"""Write an evaluation as ``report.html`` (self-contained: inline CSS, plots as base64 PNG, no
scripts, fonts or links to fetch), ``metrics.json``, ``metrics.csv`` and ``per_sequence.csv``."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from dnadav._version import __version__
from dnadav.evaluate import figures
from dnadav.evaluate.columns import headline_labels, optional_labels
from dnadav.evaluate.evaluator import EvaluationResult
from dnadav.evaluate.motifs import enrichment_test
from dnadav.io import atomic_write_text, check_writable, finite_or_none

__all__ = ["REPORT_FILES", "motif_tests", "top_enriched_motifs", "write_report"]

REPORT_FILES = ("report.html", "metrics.json", "metrics.csv", "per_sequence.csv")
_CSS = """body{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:2rem auto;
max-width:1180px;padding:0 1rem;color:#222;line-height:1.45}h1{font-size:1.6rem;margin-bottom:.2rem}
h2{font-size:1.2rem;margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
table{border-collapse:collapse;font-size:.86rem;margin:.6rem 0}th,td{padding:.3rem .5rem;
border-bottom:1px solid #eee;text-align:right;vertical-align:top}th:first-child,td:first-child{text-align:left}
th{background:#f4f6f8;font-weight:600}.note{color:#555;font-size:.88rem;max-width:60rem}img{width:100%;height:auto}
tr.control td{color:#555;font-style:italic}.verdict li{margin:.3rem 0}.verdict{padding-left:1.2rem}
td:first-child{min-width:9rem}
@media print{body{margin:0;max-width:none}h2{break-after:avoid}img{break-inside:avoid}
.scroll{overflow:visible}table{font-size:.68rem}th,td{padding:.2rem .25rem}}
.scroll{overflow-x:auto}dl{font-size:.86rem;display:grid;grid-template-columns:10rem 1fr;gap:.25rem .8rem}
dt{font-weight:600}dd{margin:0;color:#444}code{background:#f4f6f8;padding:0 .25rem;border-radius:3px}
.meta td{text-align:left;border:none;padding:.1rem .6rem .1rem 0}"""


def motif_tests(result: EvaluationResult):
    """Per input, the enrichment test of every motif over the reference set (see
    ``dnadav.evaluate.motifs.enrichment_test``): ``{input: DataFrame indexed by motif}``."""
    counts = result.motif_counts
    out = {}
    if counts is None or "reference" not in counts.index:
        return out
    for name in result.summary.index:
        if name not in counts.index:
            continue
        table = enrichment_test(
            counts.loc[name].to_numpy(),
            result.scanned_kb[name],
            counts.loc["reference"].to_numpy(),
            result.scanned_kb["reference"],
        )
        table.index = list(counts.columns)
        table.insert(0, "cell_type", list(result.motifs.cell_types))
        out[name] = table
    return out


def top_enriched_motifs(result: EvaluationResult, top: int = 5, fdr: float = 0.05) -> dict[str, list[tuple[str, float, float]]]:
    """Per input, up to ``top`` motifs significantly enriched over the reference (BH q < ``fdr``,
    rate ratio > 1), as (motif, rate ratio, q-value), most significant first."""
    out = {}
    tests = motif_tests(result)
    for name in result.summary.index:
        table = tests.get(name)
        if table is None:
            out[name] = []
            continue
        chosen = table[(table["q_value"] < fdr) & (table["rate_ratio"] > 1)]
        chosen = chosen.sort_values(["q_value", "rate_ratio"], ascending=[True, False], kind="stable").head(top)
        out[name] = [(str(m), float(r), float(q)) for m, r, q in zip(chosen.index, chosen["rate_ratio"], chosen["q_value"])]
    return out


def _motif_table(result: EvaluationResult, tests, fdr: float = 0.05, top: int = 6) -> str:
    rows = []
    for name in result.summary.index:
        table = tests.get(name)
        if table is None:
            continue
        chosen = table[(table["q_value"] < fdr) & (table["rate_ratio"] > 1)]
        chosen = chosen.sort_values(["q_value", "rate_ratio"], ascending=[True, False], kind="stable").head(top)
        cells = [
            f"{html.escape(m)} <small>({html.escape(r.cell_type)})</small>: {int(r.hits)} vs {int(r.reference_hits)} hits "
            f"({r.per_kb:.2f} vs {r.reference_per_kb:.2f}/kb, ×{r.rate_ratio:.2g}, q = {r.q_value:.1e})"
            for m, r in chosen.iterrows()
        ]
        kind = ' class="control"' if name in result.controls else ""
        rows.append(
            f"<tr{kind}><td>{html.escape(str(name))}</td>"
            f"<td style='text-align:left'>{'<br>'.join(cells) or 'none significant'}</td></tr>"
        )
    head = f"<tr><th>input</th><th style='text-align:left'>enriched motifs (q &lt; {fdr}), most significant first</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _finite_table(frame):
    """``frame`` with ±inf as missing: a CSV cell holds a number or nothing, never ``inf``/``nan``."""
    return frame.replace([np.inf, -np.inf], np.nan)


def _cell(value) -> str:
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):  # no nan / inf text in a report: a dash, or the infinity sign
            return "–" if np.isnan(value) else ("∞" if value > 0 else "−∞")
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return html.escape(str(value))


def _table(result: EvaluationResult, labels: dict[str, tuple[str, str]]) -> str:
    head = "".join(f'<th title="{html.escape(text)}">{html.escape(label)}</th>' for label, text in labels.values())
    control = ' class="control"'
    body = [
        f"<tr{control if name in result.controls else ''}><td>{html.escape(str(name))}</td>"
        f"{''.join(f'<td>{_cell(row[c])}</td>' for c in labels)}</tr>"
        for name, row in result.summary.iterrows()
    ]
    return f'<div class="scroll"><table><tr><th>input</th>{head}</tr>{"".join(body)}</table></div>'


def _controls_note(controls: list[str], reference_row: str | None) -> str:
    """What the italic rows are: random held-out DHS, and/or the user's reference set."""
    if not controls:
        return ""
    dhs = [c for c in controls if c != reference_row]
    parts = []
    if dhs:
        parts.append(f"{html.escape(', '.join(dhs))}: random held-out (chr1) DHS that no oracle or model was trained on")
    if reference_row in controls:
        parts.append(
            f"{html.escape(reference_row)}: the reference set itself (the sequences the naturalness columns compare with)"
        )
    return f"Rows in italics are real sequences, measured exactly like the inputs — {'; '.join(parts)}. "


def write_report(
    result: EvaluationResult,
    out_dir: str | Path,
    *,
    command: str,
    oracle_names: dict[str, str],
    reference_description: str,
    verdicts: dict[str, str] | None = None,
    force: bool = False,
) -> Path:
    """Write the four ``REPORT_FILES`` into ``out_dir`` (atomically); refuses to overwrite any of them
    unless ``force`` (InputError). ``oracle_names``: {"reward": ..., "eval": ...}. Returns the HTML path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    for name in REPORT_FILES:
        check_writable(out_dir / name, force)
    labels = {**headline_labels(result.summary, result.info), **optional_labels(result.summary, result.info)}
    names = [n for n in result.summary.index if n in result.kmer_frequencies]
    enriched = top_enriched_motifs(result)
    sections = {"activity": "", "kmer": "", "tradeoff": "", "diversity": "", "logos": ""}
    if names:
        sections = {
            "activity": figures.activity_plot(result, names, plt),
            "kmer": figures.kmer_plot(result, names, plt),
            "tradeoff": figures.tradeoff_and_gc(result, names, plt),
            "diversity": figures.diversity_plot(result, names, plt),
            "logos": figures.logos(result, enriched, plt),
        }
    definitions = "".join(f"<dt>{html.escape(label)}</dt><dd>{html.escape(text)}</dd>" for label, text in labels.values())
    tests = motif_tests(result)
    motif_table = _motif_table(result, tests)
    from dnadav.evaluate.verdict import DHS_RULES, REFERENCE_RULES

    target_name = str(result.info.get("eval_oracle_target") or "target")
    verdict_items = "".join(f"<li>{html.escape(text)}</li>" for text in (verdicts or {}).values())
    rules = DHS_RULES if any(str(c).startswith("real ") for c in result.controls) else REFERENCE_RULES
    verdict_block = (
        f'<h2>Verdict</h2><ul class="verdict">{verdict_items}</ul>'
        f'<p class="note">Rules: {html.escape(" ".join(rules.split()).replace("{target}", target_name))}</p>'
        if verdict_items
        else ""
    )
    length_rule = result.info.get("length_rule")
    info = result.info
    controls_note = _controls_note(result.controls, info.get("reference_row"))
    scale = "a prediction in its own units" if info.get("eval_oracle_kind") == "regression" else "log-odds of that class"
    oracle_note = (
        "The DHS oracles predict cell-type-specific chromatin <b>accessibility</b> (log-odds of HepG2 among four cell "
        "types and a shuffled background), a proxy for enhancer activity, not a measured activity."
        if info.get("dhs_oracle", True)
        else f"The evaluation oracle is <code>{html.escape(oracle_names['eval'])}</code>, scored on "
        f"<code>{html.escape(target_name)}</code> ({scale}): its scores mean what it was trained to predict, nothing more."
    )
    pool = f" ({html.escape(info['novelty_pool'])})" if info.get("novelty_pool") else ""
    # the length rule, and what was left out and why (App-Log-Lik, novelty), as sentences
    rules_note = " ".join([length_rule or "", *(f"{n[0].upper()}{n[1:]}." for n in info.get("notes", []))]).strip()
    meta = [
        ("command", f"<code>{html.escape(command)}</code>"),
        ("dnadav", html.escape(__version__)),
        ("reward oracle", f"<code>{html.escape(oracle_names['reward'])}</code> (the one alignment optimised)"),
        ("evaluation oracle", f"<code>{html.escape(oracle_names['eval'])}</code> (held out: judge designs by this)"),
        ("reference set", html.escape(reference_description)),
        ("novelty pool", f"{info.get('training_size', '?')} training sequences{pool} ({info.get('novelty_metric', 'hamming')})"),
        ("evaluation time", f"{info.get('seconds', float('nan')):.1f} s"),
    ]
    meta_rows = "".join(f"<tr><td><b>{k_}</b></td><td>{v}</td></tr>" for k_, v in meta)
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>dnadav evaluation</title>
<style>{_CSS}</style></head><body>
<h1>dnadav evaluation report</h1>
<table class="meta">{meta_rows}</table>
{verdict_block}
<p class="note">{oracle_note}</p>
<h2>Headline</h2>{_table(result, labels)}
<p class="note">{controls_note}{html.escape(rules_note)}</p>
<p class="note">Hover a column name for its definition; all definitions are listed at the end. Invalid records
(non-ACGT characters or the wrong length) are counted in <i>n</i> and left out of every other column.</p>
<h2>Activity</h2><p class="note">Judge designs by the evaluation oracle (blue), trained on other chromosomes than the
reward oracle (grey) that the model was tuned on. A reward well above the evaluation score means the designs exploit
the reward oracle rather than encode what it predicts.</p>{sections["activity"]}
<h2>Naturalness</h2><p class="note">3-mer frequencies of each input against the reference set; points on the
diagonal mean natural composition. Right: the activity/naturalness trade-off across inputs, and GC content.</p>
{sections["kmer"]}{sections["tradeoff"]}
<h2>Diversity and novelty</h2><p class="note">Distributions of the pairwise edit distances within each input
(further right = more diverse; a spike near 0 = near-duplicates) and of each sequence's distance to the nearest
training sequence (near 0 = memorised).</p>{sections["diversity"]}
<h2>Motifs</h2><p class="note">JASPAR CORE motif hits in each input against the reference set, with counts: a
hit is a PWM log-odds score ≥ 85% of the way from the motif's minimum to its maximum, on either strand. Test: given a
motif's total hits in the input and the reference, the input's share is Binomial under equal rates per kb (one-sided);
q-values are Benjamini–Hochberg over the motifs of each input. Logos show the information content (bits) of the
enriched motifs.</p>
{motif_table}{sections["logos"]}
<h2>Definitions</h2><dl>{definitions}</dl>
<p class="note">Machine-readable: <code>metrics.json</code>, <code>metrics.csv</code> (one row per input),
<code>per_sequence.csv</code> (one row per valid sequence).</p>
</body></html>"""
    metrics_json = {
        "command": command,
        "dnadav_version": __version__,
        "oracles": oracle_names,
        "reference": reference_description,
        "definitions": {column: text for column, (_, text) in labels.items()},
        "inputs": json.loads(result.summary.reset_index().to_json(orient="records")),
        "top_motifs": enriched,
        "verdicts": verdicts or {},
        "controls": result.controls,
        "motif_tests": {name: json.loads(table.to_json(orient="index")) for name, table in tests.items()},
        "motif_rates_per_kb": json.loads(result.motif_rates.to_json(orient="index")),
        "info": info,
    }
    atomic_write_text(out_dir / "metrics.json", json.dumps(finite_or_none(metrics_json), indent=2) + "\n")
    atomic_write_text(out_dir / "metrics.csv", _finite_table(result.summary).to_csv())
    atomic_write_text(out_dir / "per_sequence.csv", _finite_table(result.per_sequence).to_csv(index=False))
    atomic_write_text(out_dir / "report.html", page)
    return out_dir / "report.html"
