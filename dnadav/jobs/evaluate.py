"""The evaluate job: score named sequence sets on the held-out evaluation oracle and the other
metrics (docs/metrics.md) into a ``Report`` (HTML/JSON/CSV)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dnadav import defaults
from dnadav.errors import InputError
from dnadav.jobs.design_outputs import api_call
from dnadav.jobs.evaluate_inputs import (
    InputLike,
    as_table,
    log_likelihood_for,
    named_inputs,
    novelty_pool,
    sequences_of,
)
from dnadav.jobs.options import option

__all__ = ["EvaluateOptions", "InputLike", "Report", "evaluate", "named_inputs"]


@dataclass
class EvaluateOptions:
    """The options of ``dnadav evaluate`` / ``dnadav.evaluate`` (API keyword = field name; CLI flag = ``--name``)."""

    oracle: str = option(
        defaults.ORACLE, "oracle name or folder (the shipped reward + eval pair), or FILE.py:NAME (your own; runs the file)"
    )
    reference: str = option(
        "top-eval",
        "reference set: top-eval / signal = held-out (chr1) target-specific DHS ranked by the evaluation oracle / by DHS "
        "total signal; gosai = DRAKES's top 0.1%% of the imported Gosai MPRA table; or a FILE of your own real "
        "sequences (FASTA/CSV/TSV/HDF5; shown as a row of the report)",
        metavar="{top-eval,signal,gosai,FILE}",
    )
    objective: str | None = option(None, 'also report this reward expression, e.g. "k562 - max(hepg2,gm12878,hesc)"')
    constraints: object = option(None, group="constraints")  # a dnadav.constraints.ConstraintSpec, or None
    reference_size: int = option(500, "reference sequences")
    real_size: int = option(300, "real held-out sequences per real row (target, off-target)")
    real_rows: bool = option(True, "leave out the rows of real held-out sequences", flag="no-real")
    loglik: bool = option(True, "skip App-Log-Lik (the slowest metric)", flag="no-loglik")
    loglik_samples: int = option(defaults.APP_LOG_LIK_ROWS, "App-Log-Lik network rows per sequence (ELBO samples)")
    loglik_times: str = option(
        defaults.APP_LOG_LIK_TIMES,
        "App-Log-Lik's ELBO samples: count (stratified masked counts: lower variance per row) or stratified "
        "(stratified times: the estimator of reports before issue 22, with --loglik-samples 4)",
        choices=["count", "stratified"],
    )
    novelty: str = option(
        "hamming",
        "distance to the nearest training sequence (levenshtein is exact but ~2 min per 640 sequences)",
        choices=["hamming", "levenshtein"],
    )
    kmer_js_k: int = option(3, "k of the k-mer JS divergence", choices=[3, 4, 5, 6])
    prior: str | None = option(
        None,
        "prior for App-Log-Lik: model name or folder (default: the shipped DHS prior, 200 bp; App-Log-Lik is "
        "left out when the prior's length is not the sequences')",
        metavar="MODEL",
    )
    training: str | None = option(None, "sequence file: the novelty pool (default: the DHS train split, 200 bp)", metavar="FILE")
    threshold: float | None = option(
        None,
        "regression oracle: report the share of sequences predicted above this (default: the reference set's median)",
        type=float,
    )


@dataclass
class Report:
    """An evaluation (what ``dnadav.evaluate`` returns). ``metrics``: one row per input, the real
    held-out rows included (pandas, headline columns, see ``HEADLINE``); ``per_sequence``: one row
    per valid sequence; ``verdicts``: one sentence per input."""

    result: Any  # dnadav.evaluate.evaluator.EvaluationResult
    command: str
    oracle: str
    reference_description: str
    verdicts: dict[str, str]
    settings: dict[str, Any] = field(default_factory=dict)
    checkpoints: dict[str, Path] = field(default_factory=dict)

    @property
    def metrics(self):
        return self.result.summary

    @property
    def per_sequence(self):
        return self.result.per_sequence

    def to_html(self, directory: str | Path, *, force: bool = False) -> Path:
        """Write report.html, metrics.json, metrics.csv, per_sequence.csv and manifest.json into
        ``directory``; refuses to overwrite unless ``force``. Returns the HTML path."""
        from dnadav.evaluate.report import write_report
        from dnadav.io import check_writable, write_manifest

        directory = Path(directory)
        if directory.exists() and not directory.is_dir():
            raise InputError(f"{directory}: is a file; the report needs a folder")
        check_writable(directory / "manifest.json", force)
        page = write_report(
            self.result,
            directory,
            command=self.command,
            oracle_names={"reward": f"{self.oracle} (reward role)", "eval": f"{self.oracle} (eval role)"},
            reference_description=self.reference_description,
            verdicts=self.verdicts,
            force=force,
        )
        write_manifest(
            directory / "manifest.json",
            command=self.command,
            config=self.settings,
            checkpoints=self.checkpoints,
            extra={"seconds": self.result.info.get("seconds"), "reference": self.reference_description},
        )
        return page


def evaluate(
    inputs: Mapping[str, InputLike] | Sequence[str | Path],
    options: EvaluateOptions | None = None,
    *,
    on_dropped: Callable[[str, int], None] | None = None,
) -> Report:
    """Evaluate named inputs (``{"designs": designs, "prior": "prior.fa"}``; one file or a list of
    files is named by file name, see ``named_inputs``) on the held-out evaluation oracle of
    ``options.oracle`` and the other metrics.

    ``reference``: ``top-eval`` (default) = the top ``reference_size`` held-out (chr1) DHS of the
    oracle's target cell type ranked by the evaluation oracle, or ``signal`` = ranked by DHS signal;
    or a file of the user's own real sequences (all of it), which also becomes a row of the report.
    ``real_rows``: add rows for ``real_size`` random held-out DHS of the target cell type and of an
    off-target one, measured exactly like the inputs (shipped DHS classifiers at 200 bp only).
    Records whose length is not the oracle's training length are counted as invalid and left out
    (the rule is stated in the report). ``on_dropped(name, count)`` is told about invalid records
    read from files. ``reference="gosai"`` takes DRAKES's set instead: the Gosai MPRA rows above the
    99.9th percentile of the target's measured activity (needs the imported table, docs/published-setup.md).
    With the shipped cell-type oracles every input's row also has each cell type's median
    probability, ``specificity`` and ``margin_median``; a regression oracle instead gets
    ``above_threshold`` (the share predicted above ``threshold``, default the reference set's median)
    and no ATAC-Acc. ``objective`` (an expression, docs/objectives.md) adds its median under the
    evaluation oracle; ``constraints`` (a ``ConstraintSpec``) counts every sequence's violations, so
    designs made by any tool can be audited. ``prior``: the model App-Log-Lik is computed under
    (default the shipped DHS prior; left out when its length differs); ``training``: a file of the
    novelty pool (default the DHS train split). ``oracle`` may be a ``FILE.py:NAME`` or, in Python, a
    module / callable (``dnadav.oracles.user``).
    """
    from dnadav.data.tables import SequenceTable
    from dnadav.evaluate.controls import held_out_sample, off_target_cell_type
    from dnadav.evaluate.reference import dhs_classifier, reference_sequences
    from dnadav.evaluate.reference_cache import cached_evaluate_sets
    from dnadav.evaluate.verdict import verdicts
    from dnadav.io import current_command
    from dnadav.loaders import load_oracle, oracle_length
    from dnadav.oracles.user import oracle_label

    o = options if options is not None else EvaluateOptions()
    oracle, reference, reference_size, real_rows, real_size = o.oracle, o.reference, o.reference_size, o.real_rows, o.real_size
    loglik, loglik_samples, novelty, kmer_js_k = o.loglik, o.loglik_samples, o.novelty, o.kmer_js_k
    objective, constraints = o.objective, o.constraints
    inputs = named_inputs(inputs)
    if not inputs:
        raise InputError("nothing to evaluate: give at least one input")
    named_set = reference in ("top-eval", "eval", "signal", "gosai")
    if not named_set and not Path(str(reference)).is_file():
        raise InputError(f"reference must be top-eval, signal, gosai or a sequence file; got {reference!r} (no such file)")
    if reference_size < 1 or loglik_samples < 1 or real_size < 2:
        raise InputError("reference_size and loglik_samples must be ≥ 1, real_size ≥ 2")
    if o.loglik_times not in ("count", "stratified"):
        raise InputError(f"loglik_times must be count or stratified; got {o.loglik_times!r}")
    tables = {}
    for name, given in inputs.items():
        table = as_table(name, given)
        dropped = getattr(table, "dropped", 0)
        if dropped and on_dropped is not None:
            on_dropped(name, dropped)
        if not len(table):
            raise InputError(f"{name}: no valid sequence to evaluate")
        tables[str(name)] = table
    reward_oracle, eval_oracle = load_oracle(oracle, role="reward"), load_oracle(oracle, role="eval")
    label = oracle_label(oracle)
    target = getattr(eval_oracle, "target", "HepG2")
    length = oracle_length(eval_oracle)
    first = next(iter(tables.values()))
    sequence_length = length or len((first.sequences if isinstance(first, SequenceTable) else first)[0])
    dhs = dhs_classifier(eval_oracle) and sequence_length == 200
    ranking = "signal" if reference == "signal" else "eval"
    reference_row = None
    if not named_set:
        reference_set = sequences_of(reference, length, "reference")
        reference_row = f"reference ({Path(reference).name})"
        description = f"{len(reference_set)} sequences of {reference} (the user's reference set, also shown as a row)"
    elif reference == "gosai":
        from dnadav.evaluate.reference import gosai_reference_sequences

        reference_set = gosai_reference_sequences(None, str(target).lower())
        description = f"the {len(reference_set)} Gosai MPRA sequences above the 99.9th percentile of measured {target} activity"
    else:
        if not dhs:
            raise InputError(
                f"--reference {reference}: the DHS reference sets need the shipped DHS cell-type oracles at 200 bp; "
                f"oracle {label} is not one: pass --reference FILE (real sequences to compare designs with)"
            )
        reference_set = reference_sequences(target, ranking, reference_size, eval_oracle)
        by = "the evaluation oracle's reward" if ranking == "eval" else "DHS total signal"
        description = (
            f"top {len(reference_set)} {target}-specific DHS sequences of the held-out test chromosome (chr1), ranked by {by}"
        )
    constraint = None
    if constraints is not None and not constraints.empty:
        # the oracles' training length, else the inputs' own (records of other lengths count as invalid)
        constraint = constraints.compile(sequence_length)
    real: dict[str, list[str]] = {}
    off_target = off_target_cell_type(target) if dhs else None
    if real_rows and off_target is not None:
        real[f"real {target} DHS (held-out)"] = held_out_sample(target, real_size)
        real[f"real {off_target} DHS (held-out)"] = held_out_sample(off_target, real_size)
    if reference_row is not None:
        real[reference_row] = reference_set
    clash = set(real) & set(tables)
    if clash:
        raise InputError(f"input name {sorted(clash)[0]!r} is reserved for the real held-out rows; rename it")
    log_likelihood, prior, loglik_note = log_likelihood_for(o.prior, sequence_length, loglik_samples, loglik, o.loglik_times)
    training, pool = novelty_pool(o.training, prior)
    notes = [loglik_note] if loglik_note else []
    if novelty == "hamming" and training and len(training[0]) != sequence_length:
        notes.append(f"novelty left out: the pool ({pool}) is {len(training[0])} bp, the sequences {sequence_length} bp "
                     "(pass --training FILE or --prior MODEL, or --novelty levenshtein)")  # fmt: skip
    result = cached_evaluate_sets(  # the real held-out rows never change: read from $DNADAV_CACHE_DIR when known
        {**tables, **real},
        cached=list(real),
        reward_oracle=reward_oracle,
        eval_oracle=eval_oracle,
        reference=reference_set,
        training=training,
        log_likelihood=log_likelihood,
        prior=prior,
        novelty_metric=novelty,
        kmer_js_k=kmer_js_k,
        length=length,
        controls=list(real),
        objective=objective,
        constraint=constraint,
        threshold=o.threshold,
    )
    result.info.update(dhs_oracle=dhs, reference_row=reference_row, notes=notes, novelty_pool=pool)
    options = dict(oracle=label, reference=str(reference), reference_size=reference_size, loglik=loglik)
    for name in ("objective", "prior", "training", "threshold"):
        if getattr(o, name) is not None:
            options[name] = getattr(o, name)
    if constraint is not None:
        options["constraints"] = constraints.as_dict()
    command = current_command(api_call("evaluate", inputs=list(tables), **options))
    settings = {
        "inputs": {k: str(v) if isinstance(v, (str, Path)) else type(v).__name__ for k, v in inputs.items()},
        **options,
        "loglik_samples": loglik_samples,
        "loglik_times": o.loglik_times,
        "novelty": novelty,
        "kmer_js_k": kmer_js_k,
        "real_rows": list(real),
        "real_size": real_size if real else None,
        "notes": notes,
        "length_rule": f"records of length ≠ {length} bp (the oracles' training length) are counted as invalid"
        if length
        else None,
    }
    checkpoints = {
        f"{role}_oracle": Path(scorer.checkpoint_file)
        for role, scorer in (("reward", reward_oracle), ("eval", eval_oracle))
        if getattr(scorer, "checkpoint_file", None) is not None  # a module passed in Python has no file
    }
    if reference_row is not None:
        checkpoints["reference"] = Path(reference)
    return Report(
        result=result,
        command=command,
        oracle=label,
        reference_description=description,
        verdicts=verdicts(result, target=target, controls=list(real), reference_row=reference_row),
        settings=settings,
        checkpoints=checkpoints,
    )
