"""Measure the aligned model of each cell type against the prior and real held-out DHS, and write the
table to docs/benchmarks.md ("aligned models per cell type").

    python bench/align_celltypes.py [--cell-types k562 gm12878 hesc hepg2] [--n 640] [--seeds 0 1 2] [--json out.json] [--cards]

Each model is trained by ``dnadav align`` (the command is read back from its manifest, see the cards in
``models/<cell>_aligned/``), e.g.::

    dnadav align --oracle k562 --objective "k562 - max(hepg2,gm12878,hesc)" --out runs/k562_aligned

Per cell type, with the *evaluation* oracle (the one no alignment saw), on ``--n`` plain samples per
seed (no search, 50 steps, as ``dnadav design``; the aligned model at every ``--seeds``, mean ± sd over
them, the prior at the first): target accessibility (p(target) > 0.5), specificity (p(target) > 0.5 and
every other cell type < 0.1), median margin over the strongest off-target (nats), 3-mer correlation to
the top-500 held-out (chr1) DHS of the target (ranked by the evaluation oracle), mean pairwise
Levenshtein (and its ratio to 300 real held-out DHS of the target), App-Log-Lik under the prior. Rows:
the shipped aligned model, the pretrained prior, and 300 real held-out DHS of the target and of an
off-target cell type, all through one ``dnadav.evaluate`` call per cell type. The "all targets" column
checks issue 20's: ≥ 95 % accessibility, ≥ 85 % specificity, 3-mer ≥ 0.92, Levenshtein ≥ 95 % of real.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchmarks_md import machine, write_section  # noqa: E402

CELL_TYPES = ("hepg2", "k562", "gm12878", "hesc")
NAMES = {"hepg2": "HepG2", "k562": "K562", "gm12878": "GM12878", "hesc": "hESC"}
TARGETS = {"target_accessibility": 0.95, "specificity": 0.85, "kmer3_correlation": 0.92, "levenshtein_ratio": 0.95}


def margin_objective(target: str) -> str:
    """``<target> - max(<the three other cell types>)``: the log-odds margin over the strongest off-target."""
    return f"{target} - max({','.join(c for c in CELL_TYPES if c != target)})"


def measure(cell: str, n: int, seeds: tuple[int, ...] = (0, 1, 2)) -> list[dict]:
    """Rows for one cell type: the shipped aligned model at each seed (``n`` plain samples each), the
    prior (seed ``seeds[0]``), 300 real held-out DHS of the target and of an off-target cell type."""
    import dnadav
    from dnadav.jobs.design import default_model_for

    model, aligned = default_model_for(cell)
    if not aligned:
        raise SystemExit(f"no aligned model is shipped for {cell!r}: train one first (see the docstring)")
    started = time.perf_counter()
    inputs = {f"{model} seed {seed}": dnadav.design(cell, n=n, seed=seed) for seed in seeds}
    inputs["dhs_prior"] = dnadav.design(cell, n=n, model="dhs_prior", seed=seeds[0])
    report = dnadav.evaluate(inputs, oracle=cell, objective=margin_objective(cell))
    seconds = time.perf_counter() - started
    table = report.metrics
    real = next(name for name in table.index if name.startswith("real") and NAMES[cell] in name)
    real_levenshtein = float(table.loc[real, "levenshtein_diversity"])
    rows = []
    for name, row in table.iterrows():
        rows.append(
            {
                "cell_type": cell,
                "row": name,
                "n": int(row["n_valid"]),
                "target_accessibility": float(row["accessibility_accuracy"]),
                "specificity": float(row["specificity"]),
                "margin_median": float(row["margin_median"]),
                "kmer3_correlation": float(row["kmer3_correlation"]),
                "levenshtein_diversity": float(row["levenshtein_diversity"]),
                "levenshtein_ratio": float(row["levenshtein_diversity"]) / real_levenshtein,
                "app_log_lik_median": float(row["app_log_lik_median"]),
                "seconds": seconds,
            }
        )
    return rows


METRICS = ("target_accessibility", "specificity", "margin_median", "kmer3_correlation", "levenshtein_diversity",
           "levenshtein_ratio", "app_log_lik_median")  # fmt: skip


def with_seed_summary(rows: list[dict]) -> list[dict]:
    """``rows`` with the per-seed rows of each aligned model replaced by one row of their mean (``<metric>``)
    and sample sd (``<metric>_sd``, ddof = 1), ``n`` summed and ``seeds`` counted."""
    out, groups = [], {}
    for row in rows:
        base, _, seed = row["row"].partition(" seed ")
        if not seed:
            out.append(row)
            continue
        if base not in groups:
            groups[base] = []
            out.append({"cell_type": row["cell_type"], "row": base, "_group": groups[base]})
        groups[base].append(row)
    for row in out:
        group = row.pop("_group", None)
        if group is None:
            continue
        row.update(n=sum(r["n"] for r in group), seeds=len(group))
        for key in METRICS:
            values = [r[key] for r in group]
            mean = sum(values) / len(values)
            row[key] = mean
            row[f"{key}_sd"] = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5 if len(values) > 1 else 0.0
    return out


def meets(row: dict) -> bool:
    """Issue 20's targets: every one met by the seeds' mean."""
    return all(row[key] >= goal for key, goal in TARGETS.items())


def table_markdown(rows: list[dict], with_cell_type: bool = True) -> str:
    """The measured rows as a markdown table (the cell-type column left out for a card); an aligned row
    summarised over seeds shows mean ± sd."""
    first = "| cell type " if with_cell_type else ""
    head = (
        f"{first}| sequences | n | target acc. (≥ 95%) | specificity (≥ 85%) | margin (nats) | 3-mer corr (≥ 0.92) "
        "| Levenshtein (≥ 95% of real) | App-Log-Lik | all targets |\n|---|---|---|---|---|---|---|---|---|"
        + ("---|" if with_cell_type else "")
    )
    lines = [head]
    for r in rows:
        sd = lambda key, scale=1.0, fmt=".1f": f" ± {scale * r[key + '_sd']:{fmt}}" if "seeds" in r else ""  # noqa: E731
        verdict = ("yes" if meets(r) else "no") if "seeds" in r else ""
        lines.append(
            (f"| {r['cell_type']} " if with_cell_type else "")
            + f"| {r['row']}{' (' + str(r['seeds']) + ' seeds)' if 'seeds' in r else ''} | {r['n']} "
            f"| {100 * r['target_accessibility']:.1f}%{sd('target_accessibility', 100)} "
            f"| {100 * r['specificity']:.1f}%{sd('specificity', 100)} "
            f"| {r['margin_median']:.2f} | {r['kmer3_correlation']:.3f}{sd('kmer3_correlation', 1, '.3f')} "
            f"| {r['levenshtein_diversity']:.1f} ({100 * r['levenshtein_ratio']:.0f}%) | {r['app_log_lik_median']:.1f} "
            f"| {verdict} |"
        )
    return "\n".join(lines)


def markdown(rows: list[dict], command: str) -> str:
    lines = [table_markdown(rows)]
    notes = [
        "",
        f"`{command}` on {machine()}. Plain samples (no search), 50 steps; an aligned model at seeds 0, 1, 2 "
        "(mean ± sd over seeds), the prior at seed 0; evaluation oracle (`oracles/dhs_eval`, which no "
        "alignment saw); 3-mer correlation to the top-500 held-out (chr1) DHS of the target cell type; "
        "Levenshtein as a fraction of 300 random real held-out DHS of the target; real rows: those 300 and "
        "300 of an off-target cell type. Targets are issue 20's; the real held-out rows show how far below "
        "them real cell-type-specific sequences already are with this oracle.",
    ]
    return "\n".join(lines + notes)


CARD = """# `{model}` — the prior aligned to {name}-specific accessibility with DAV

The shipped `dhs_prior` fine-tuned by `dnadav align` toward the objective `{objective}`: {objective_words}
(nats, docs/objectives.md). The oracles measure DHS **accessibility**, not enhancer activity.
`dnadav design --oracle {cell}` samples this model by default.

* **Command** ({minutes:.0f} min wall-clock in the session that wrote `manifest.json`{after_warm}; {recipe}):

  ```
  {command}
  ```

  E-step: {sequences} sequences × {children} candidates per step × {steps} steps, plug-in (argmax) soft value{lookahead},
  per-sequence resampling{constraints}; {temperature}. M-step: {mstep}, at most {inner} passes, batch {batch},
  AdamW lr {lr:g}, gradient norm clipped at {clip}, {kl}; seed {seed}.
{warm}* **Which iteration is shipped, and why**: {selection}
* **Evaluation** (`python bench/align_celltypes.py --cell-types {cell}`: {n} plain samples — no search —
  50 steps, seeds 0, 1, 2; evaluation oracle `oracles/dhs_eval`, which no alignment saw; 3-mer correlation
  to the top-500 held-out chr1 {name} DHS; Levenshtein as a fraction of real held-out {name} DHS):

{table}

  Specificity = p({name}) > 0.5 while p({others}) are each < 0.1.
  Real held-out {name} DHS reach far lower figures with the same oracle. A model far above them has learnt
  what this oracle pair separates, so validate before trusting the magnitude.
* **Per-iteration log** (`history.json`: {eval_n} plain samples, {eval_steps} steps, after each iteration;
  the validation 3-mer is what selection read, the rest is for the reader):
  solved α {log_alpha}; target accessibility (evaluation oracle) {log_acc}; specificity {log_spec};
  3-mer to validation chr2 {log_valid}; to test chr1 {log_kmer}; Levenshtein {log_lev}.
* **File**: `model.pt` (plain state dict, `weights_only=True`), {size:,} bytes, sha256
  `{sha}`; same architecture as `dhs_prior`.
"""


def mstep_words(config: dict) -> str:
    """The M-step of a recorded align config in words."""
    distill = config["distill"]
    words = {
        "children": "every child the search proposed, weighted by its selection weight (`--m-step children`)",
        "transitions": "transition cross-entropy of the kept child",
        "paper": "the DAV paper's x̂0 cross-entropy",
        "nelbo": "the prior's NELBO on the final sequences",
    }[distill["objective"]]
    if config.get("holdout_fraction"):
        words += (
            f"; {config['holdout_fraction']:g} of each E-step's sequences held out, passes stopped after "
            f"{config['patience']} without a better held-out loss, the best pass kept"
        )
    return words


def warm_words(record: dict | None) -> str:
    """The card's warm-start line from a run's recorded ``warm_start`` (empty when the run had none)."""
    if not record:
        return ""
    scored = record.get("scored", record["data_sequences"])
    return (
        f"* **Warm start** (`--warm-start {record['steps']}`, docs/concepts.md): before iteration 1, {scored:,} sequences of "
        f"{record['data']} scored once by the reward, {record['kept']:,} resampled by exp(r/α) at "
        f"α = {record['temperature']:.2f} "
        f"(solved for a Kish ESS of {record['target_ess']:g} × N: {record['ess']:.0f}; {record['distinct_kept']:,} distinct; "
        f"mean reward {record['reward_mean_data']:.2f} → {record['reward_mean_kept']:.2f}), and the prior fitted to them "
        f"with its NELBO ({record['steps']} AdamW steps of {record['batch_size']}, lr {record['lr']:g}); the iterations start "
        "from that model and tilt and anchor to it.\n"
    )


def after_warm_words(record: dict | None) -> str:
    """ ", after a N-min warm start" for the card's command line when the run made one (its minutes are the iterations')."""
    return f", after a {record['seconds'] / 60:.0f}-min warm start" if record and "seconds" in record else ""


def objective_words(objective: str | None, name: str) -> str:
    """The objective in words for a card: the plain log-odds, the margin, or the margin capped at c nats
    (``min(<margin>, c)``, read from the parsed expression)."""
    from dnadav.objectives import Call, Constant, parse_objective

    if not objective:
        return f"the {name} log-odds of `oracles/dhs_reward`"
    margin = f"the {name} log-odds of `oracles/dhs_reward` minus the strongest of the other three cell types'"
    expression = parse_objective(objective).expression
    if isinstance(expression, Call) and expression.function == "min":
        caps = [a.value for a in expression.args if isinstance(a, Constant)]
        if len(caps) == 1:
            return f"{margin}, capped at {caps[0]:g} nats (a saturating margin: no reward for more)"
    return margin


# flags of `dnadav align` that say where a run goes or how it reports, not what it computes
_NOT_RECIPE = {"--oracle", "--objective", "--out", "--keep-iterations", "--quiet", "--accelerator", "--devices", "--force"}
_WITH_VALUE = {"--oracle", "--objective", "--out", "--accelerator", "--devices"}


def recipe_words(command: str) -> str:
    """How a recorded ``dnadav align`` command line relates to the default recipe: the flags it adds."""
    import shlex

    words, extra = shlex.split(command)[2:], []
    while words:
        word = words.pop(0)
        if word in _NOT_RECIPE:
            if word in _WITH_VALUE and words:
                words.pop(0)
        else:
            extra.append(word)
    if not extra:
        return "the default recipe, in which only `--oracle`/`--objective` change between cell types"
    return f"the default recipe with `{' '.join(extra)}`"


def write_card(cell: str, rows: list[dict]) -> Path:
    """``models/<cell>_aligned/card.md`` from the model's manifest, config and history and the measured ``rows``."""
    from dnadav.dna.checkpoint import resolve_model_dir
    from dnadav.io import sha256_file

    folder = resolve_model_dir(f"{cell}_aligned")
    manifest = json.loads((folder / "manifest.json").read_text())
    history = json.loads((folder / "history.json").read_text())
    saved = json.loads((folder / "config.json").read_text())
    selection = saved.get("selection", {})
    config = manifest["config"]
    search = config["search"]
    constraints, kl_weight = config.get("constraints"), config["distill"].get("kl_weight", 0.0)
    mine = [r for r in rows if r["cell_type"] == cell]
    table = "\n".join("  " + line for line in table_markdown(mine, with_cell_type=False).splitlines())
    series = lambda key, scale=1.0, fmt="{:.2f}": " → ".join(fmt.format(h[key] * scale) if key in h else "–" for h in history)  # noqa: E731
    temperature = (
        f"α solved each iteration for a selection KL of {config['target_kl']:g} nats per path "
        f"(pilot search of {config['pilot_sequences']} sequences, `--target-kl`)"
        if config.get("target_kl")
        else f"reward temperature α = {search['reward_temperature']}"
    )
    kept = selection.get("kept_iteration", len(history))
    why = selection.get("why", "the last iteration (no selection rule)")
    text = CARD.format(
        model=f"{cell}_aligned",
        name=NAMES[cell],
        others=", ".join(NAMES[c] for c in CELL_TYPES if c != cell),
        cell=cell,
        objective=config.get("objective"),
        objective_words=objective_words(config.get("objective"), NAMES[cell]),
        constraints=f"; hard constraints {json.dumps(constraints)} on every E-step path" if constraints else "",
        temperature=temperature,
        mstep=mstep_words(config),
        clip=config.get("gradient_clip"),
        kl=f"DAV-KL λ = {kl_weight:g} to the prior" if kl_weight else "no DAV-KL",
        minutes=manifest.get("wall_minutes_this_session", float("nan")),
        after_warm=after_warm_words(saved.get("warm_start")),
        command=manifest["command"],
        recipe=recipe_words(manifest["command"]),
        sequences=config["sequences_per_iteration"],
        children=search["num_children"],
        steps=search["num_steps"],
        lookahead=" read from each parent's x̂0 (`--lookahead parent`)" if search.get("lookahead") == "parent" else "",
        inner=config["inner_epochs"],
        batch=config["batch_size"],
        lr=config["lr"],
        seed=config["seed"],
        selection=f"iteration {kept} of {len(history)} run: {why}.",
        warm=warm_words(saved.get("warm_start")),
        n=mine[0]["n"] if mine else 0,
        table=table,
        eval_n=config["eval_sequences"],
        eval_steps=config["eval_steps"],
        log_alpha=series("estep/reward_temperature"),
        log_acc=series("plain/eval_accessibility_accuracy", 100, "{:.0f}%"),
        log_spec=series("plain/eval_specificity", 100, "{:.0f}%"),
        log_valid=series("select/kmer3_validation", 1.0, "{:.3f}"),
        log_kmer=series("plain/kmer3_correlation", 1.0, "{:.3f}"),
        log_lev=series("plain/levenshtein_diversity", 1.0, "{:.1f}"),
        size=(folder / "model.pt").stat().st_size,
        sha=sha256_file(folder / "model.pt"),
    )
    (folder / "card.md").write_text(text)
    return folder / "card.md"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cell-types", nargs="+", choices=CELL_TYPES, default=["k562", "gm12878", "hesc", "hepg2"])
    parser.add_argument("--n", type=int, default=640, help="plain samples per model and seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds of the aligned models' samples")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    parser.add_argument("--from-json", type=Path, nargs="+", default=None, help="rows measured earlier (--json files), in order")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument("--cards", action="store_true", help="also write models/<cell>_aligned/card.md from the rows")
    args = parser.parse_args(argv)
    if args.from_json:
        rows = [row for path in args.from_json for row in json.loads(path.read_text())]
        args.cell_types = list(dict.fromkeys(r["cell_type"] for r in rows))
        command = " ; ".join(f"python bench/align_celltypes.py --cell-types {c} --n {args.n}" for c in args.cell_types)
    else:
        rows = [row for cell in args.cell_types for row in measure(cell, args.n, tuple(args.seeds))]
        command = "python bench/align_celltypes.py " + " ".join(sys.argv[1:] if argv is None else argv)
    rows = with_seed_summary(rows)
    text = markdown(rows, command.strip())
    print(text)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    if not args.no_write:
        write_section("aligned models per cell type", text)
    if args.cards:
        for cell in args.cell_types:
            print(write_card(cell, rows))


if __name__ == "__main__":
    main()
