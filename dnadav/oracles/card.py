"""``card.md`` for an oracle checkpoint, written from its config.json and metrics.json (never by hand)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dnadav.io import atomic_write_text

__all__ = ["render_card", "write_card"]

_DATA = {
    "dhs": (
        "the shipped DHS set (`datasets/dhs`, real hg38 DNase I hypersensitive sites; chromatin "
        "accessibility, not MPRA activity). Training rows: the train split of {chromosomes} ({rows:,} rows "
        "including the background class: one dinucleotide shuffle of a random quarter of the real rows, so it "
        "is about as large as each cell-type class). Validation: chr2 (valid split); test: chr1 (test split), "
        "each with its own shuffled background."
    ),
    "gosai": (
        "an imported Gosai et al. MPRA table (`dnadav data import-gosai`; measured activity, log2 RNA/DNA). "
        "Training rows: the train split{chromosomes_clause} ({rows:,} rows); validation and test: the table's "
        "valid and test chromosomes."
    ),
}


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _chromosome_range(chromosomes: list[str]) -> str:
    if len(chromosomes) > 3:
        return f"{chromosomes[0]}–{chromosomes[-1]}" if len(chromosomes) < 8 else ", ".join(chromosomes)
    return ", ".join(chromosomes)


def _file_data(train: dict[str, Any], user: dict[str, Any], rows: int) -> str:
    """The card's data sentence for an oracle trained on a user's file."""
    labels = f" with labels from `{train['labels']}`" if train.get("labels") else ""
    columns = ", ".join(f"`{c}`" for c in user.get("columns", []))
    missing = user.get("rows_without_label", 0)
    dropped = f" ({missing:,} rows without a label left out)" if missing else ""
    return (
        f"the user's file `{train.get('data')}`{labels}; {user.get('task', '')} of {columns}{dropped}. Held-out split: "
        f"{user.get('split_rule', '')}. The train rows are cut into two disjoint halves by {user.get('halves_rule', '')}; "
        f"this oracle trained on {user.get('train_rows_rule', '')} ({rows:,} rows)."
    )


def render_card(name: str, config: dict[str, Any], metrics: dict[str, Any], command: str, notes: str = "") -> str:
    """Markdown card: architecture, data split, reward definition, exact command, held-out metrics, file."""
    train = config.get("train_config", {})
    network = config["network"]
    data = train.get("data", "dhs")
    user = config.get("user_data")
    kind = config["kind"]
    target = config.get("default_target", config["class_names"][0])
    chromosomes = list(train.get("chromosomes") or [])
    dilations = network.get("dilations") or [1] * len(network["kernels"])
    class_name = "ConvClassifier" if kind == "classifier" else "ConvRegressor"
    convs = " → ".join(f"conv {k}" + (f" (dilation {d})" if d != 1 else "") for k, d in zip(network["kernels"], dilations))
    titles = {"dhs": "DHS cell-type", "gosai": "MPRA regression"}
    title = titles.get(data) or f"user-data {(user or {}).get('task', '')}"
    lines = [
        f"# `{name}` — {title} oracle ({train.get('role', 'reward')} role)",
        "",
        f"A reverse-complement-averaged 1-D CNN (`dnadav.oracles.cnn.{class_name}`: "
        f"conv {network['first_kernel']} → max-pool {network['pool']} → {convs}, {network['channels']} channels, global "
        f"max+mean pooling, 2-layer head) over one-hot DNA `[B, 4, {network.get('length', 200)}]`, "
        + ("classifying " if kind == "classifier" else "predicting ")
        + " / ".join(config["class_names"])
        + ".",
        "",
        "* **Data**: "
        + (
            _file_data(train, user, metrics.get("train_rows", 0))
            if user is not None
            else _DATA[data].format(
                chromosomes=_chromosome_range(chromosomes),
                chromosomes_clause=f" of {_chromosome_range(chromosomes)}" if chromosomes else "",
                rows=metrics.get("train_rows", 0),
            )
        ),
    ]
    if kind == "classifier" and user is not None:
        lines.append(
            f'* **Reward**: `load_oracle(..., role="{train.get("role", "reward")}").reward(onehot)` = the log-odds of class '
            f"`{target}`, `logit_{target} − logsumexp(other logits)` (nats); pick another class with `FOLDER:CLASS`."
        )
    elif kind == "classifier":
        lines.append(
            f'* **Reward**: `load_oracle(..., role="{train.get("role", "reward")}").reward(onehot)` = {target} log-odds '
            f"`logit_{target} − logsumexp(other logits)` — an accessibility proxy for enhancer activity, not measured activity."
        )
    else:
        lines.append(f"* **Reward**: the predicted `{target}` column (`RegressionOracle.reward`).")
    lines += [
        f"* **Command** ({train.get('epochs')} epochs, AdamW lr {train.get('lr')}, cosine schedule, batch "
        f"{train.get('batch_size')}, reverse-complement augmentation, seed {train.get('seed')}; "
        f"{metrics.get('train_minutes', float('nan')):.1f} min on {metrics.get('hardware', 'unrecorded hardware')}):",
        "",
        "  ```",
        f"  {command}",
        "  ```",
        "",
        f"* **Held-out metrics** (n = {metrics['test'].get('n', 0):,} test rows; `metrics.json`):",
        "",
        "| metric | valid (chr2) | test (chr1) |" if data == "dhs" else "| metric | valid | test |",
        "|---|---|---|",
    ]
    for key, value in metrics["test"].items():
        if key != "n":
            lines.append(f"| {key} | {_fmt(metrics['valid'].get(key, ''))} | {_fmt(value)} |")
    lines.append("")
    if kind == "classifier" and user is None:
        lines.append(
            f"  `auroc_{target}_vs_other_cell_types` is among the real cell types only (background excluded); "
            f"`ece_{target}` is the expected calibration error of the {target} probability (10 equal-width bins)."
        )
    lines += [
        f"* **File**: `model.pt` (plain state dict, loaded with `torch.load(..., weights_only=True)`), "
        f"{metrics.get('model_bytes', 0):,} bytes, sha256 `{metrics.get('model_sha256', '')}`; `config.json` holds the "
        "architecture and training config.",
    ]
    if notes:
        lines.append(f"* **Reproducibility**: {notes}")
    return "\n".join(lines) + "\n"


def write_card(directory: str | Path, command: str, notes: str = "") -> Path:
    """Render ``directory/card.md`` from its config.json and metrics.json (atomic)."""
    directory = Path(directory)
    config = json.loads((directory / "config.json").read_text())
    metrics = json.loads((directory / "metrics.json").read_text())
    return atomic_write_text(directory / "card.md", render_card(directory.name, config, metrics, command, notes))
