"""The evaluate job: score named sequence sets on the held-out evaluation oracle and the other
metrics (docs/metrics.md) into a ``Report`` (HTML/JSON/CSV)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dnadav import defaults
from dnadav.errors import InputError
from dnadav.jobs.design_outputs import Designs, api_call
from dnadav.jobs.options import option

__all__ = ["EvaluateOptions", "Report", "evaluate", "named_inputs"]


@dataclass
class EvaluateOptions:
    """The options of ``dnadav evaluate`` / ``dnadav.evaluate`` (API keyword = field name; CLI flag = ``--name``)."""

    oracle: str = option(defaults.ORACLE, "oracle name or folder (the shipped reward + eval pair)")
    reference: str = option(
        "top-eval",
        "reference set: held-out (chr1) target-specific DHS ranked by the evaluation oracle, or by DHS total signal, "
        "or DRAKES's top 0.1%% of the imported Gosai MPRA table",
        choices=["top-eval", "signal", "gosai"],
    )
    objective: str | None = option(None, 'also report this reward expression, e.g. "k562 - max(hepg2,gm12878,hesc)"')
    constraints: object = option(None, group="constraints")  # a dnadav.constraints.ConstraintSpec, or None
    reference_size: int = option(500, "reference sequences")
    real_size: int = option(300, "real held-out sequences per real row (target, off-target)")
    real_rows: bool = option(True, "leave out the rows of real held-out sequences", flag="no-real")
    loglik: bool = option(True, "skip App-Log-Lik (the slowest metric)", flag="no-loglik")
    loglik_samples: int = option(4, "ELBO time samples per sequence")
    novelty: str = option(
        "hamming",
        "distance to the nearest training sequence (levenshtein is exact but ~2 min per 640 sequences)",
        choices=["hamming", "levenshtein"],
    )
    kmer_js_k: int = option(3, "k of the k-mer JS divergence", choices=[3, 4, 5, 6])


InputLike = Any  # Designs | str | Path (a sequence file) | Sequence[str] | dnadav.data.SequenceTable


def _as_table(name: str, given: InputLike):
    """Any accepted input -> a SequenceTable (files are read with invalid records counted and dropped),
    or a list of strings as given (validated by the evaluator)."""
    from dnadav.data import read_sequences
    from dnadav.data.tables import SequenceTable

    if isinstance(given, Designs):
        return SequenceTable(ids=given.ids, sequences=given.sequences, source=f"dnadav.design ({given.command})")
    if isinstance(given, SequenceTable):
        return given
    if isinstance(given, (str, Path)):
        return read_sequences(given, on_invalid="drop")
    if isinstance(given, Sequence):
        return [str(s) for s in given]
    raise InputError(
        f"input {name!r}: expected Designs, a sequence file, a list of strings or a SequenceTable; got {type(given).__name__}"
    )


def named_inputs(inputs: Any) -> dict[str, InputLike]:
    """``evaluate``'s inputs as ``{name: input}``: a mapping as given; one file (``"designs.fa"``) or
    a list of files, each named by its file name; one ``Designs`` as ``designs``. Anything else is an
    InputError saying what is accepted (a string is never iterated letter by letter)."""
    if isinstance(inputs, Mapping):
        return dict(inputs)
    if isinstance(inputs, Designs):
        return {"designs": inputs}
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    if not isinstance(inputs, (list, tuple)) or not all(isinstance(p, (str, Path)) for p in inputs):
        raise InputError(
            f"inputs: expected a mapping of names to inputs, a sequence file or a list of files; got {type(inputs).__name__}"
        )
    named = {Path(p).name: p for p in inputs}
    if len(named) != len(inputs):
        raise InputError("inputs: two files share a file name; pass a mapping of names to files instead")
    return named


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
    oracle's target cell type ranked by the evaluation oracle, or ``signal`` = ranked by DHS signal.
    ``real_rows``: add rows for ``real_size`` random held-out DHS of the target cell type and of an
    off-target one, measured exactly like the inputs. Records whose length is not the oracle's
    training length are counted as invalid and left out (the rule is stated in the report).
    ``on_dropped(name, count)`` is told about invalid records read from files. ``reference="gosai"``
    takes DRAKES's set instead: the Gosai MPRA rows above the 99.9th percentile of the target's
    measured activity (needs the imported table, docs/published-setup.md).
    With the shipped cell-type oracles every input's row also has each cell type's median
    probability, ``specificity`` and ``margin_median``; ``objective`` (an expression,
    docs/objectives.md) adds its median under the evaluation oracle; ``constraints`` (a
    ``ConstraintSpec``) counts every sequence's violations (``violations``, ``violating_fraction``),
    so designs made by any tool can be audited.
    """
    from dnadav.data.tables import SequenceTable
    from dnadav.evaluate.controls import held_out_sample, off_target_cell_type
    from dnadav.evaluate.evaluator import evaluate_sets
    from dnadav.evaluate.reference import reference_sequences, training_sequences
    from dnadav.evaluate.verdict import verdicts
    from dnadav.io import current_command
    from dnadav.loaders import load_oracle, oracle_length

    o = options if options is not None else EvaluateOptions()
    oracle, reference, reference_size, real_rows, real_size = o.oracle, o.reference, o.reference_size, o.real_rows, o.real_size
    loglik, loglik_samples, novelty, kmer_js_k = o.loglik, o.loglik_samples, o.novelty, o.kmer_js_k
    objective, constraints = o.objective, o.constraints
    inputs = named_inputs(inputs)
    if not inputs:
        raise InputError("nothing to evaluate: give at least one input")
    if reference not in ("top-eval", "eval", "signal", "gosai"):
        raise InputError(f"reference must be top-eval, signal or gosai; got {reference!r}")
    if reference_size < 1 or loglik_samples < 1 or real_size < 2:
        raise InputError("reference_size and loglik_samples must be ≥ 1, real_size ≥ 2")
    tables = {}
    for name, given in inputs.items():
        table = _as_table(name, given)
        dropped = getattr(table, "dropped", 0)
        if dropped and on_dropped is not None:
            on_dropped(name, dropped)
        if not len(table):
            raise InputError(f"{name}: no valid sequence to evaluate")
        tables[str(name)] = table
    reward_oracle, eval_oracle = load_oracle(oracle, role="reward"), load_oracle(oracle, role="eval")
    target = getattr(eval_oracle, "target", "HepG2")
    length = oracle_length(eval_oracle)
    ranking = "signal" if reference == "signal" else "eval"
    if reference == "gosai":
        from dnadav.evaluate.reference import gosai_reference_sequences

        reference_set = gosai_reference_sequences(None, str(target).lower())
    else:
        reference_set = reference_sequences(target, ranking, reference_size, eval_oracle)
    constraint = None
    if constraints is not None and not constraints.empty:
        # the oracles' training length, else the inputs' own (records of other lengths count as invalid)
        first = next(iter(tables.values()))
        constraint = constraints.compile(length or len((first.sequences if isinstance(first, SequenceTable) else first)[0]))
    real: dict[str, list[str]] = {}
    off_target = off_target_cell_type(target)
    if real_rows and off_target is not None:
        real[f"real {target} DHS (held-out)"] = held_out_sample(target, real_size)
        real[f"real {off_target} DHS (held-out)"] = held_out_sample(off_target, real_size)
    clash = set(real) & set(tables)
    if clash:
        raise InputError(f"input name {sorted(clash)[0]!r} is reserved for the real held-out rows; rename it")
    result = evaluate_sets(
        {**tables, **real},
        reward_oracle=reward_oracle,
        eval_oracle=eval_oracle,
        reference=reference_set,
        training=training_sequences(),
        log_likelihood="prior" if loglik else "skip",
        loglik_time_samples=loglik_samples,
        novelty_metric=novelty,
        kmer_js_k=kmer_js_k,
        length=length,
        controls=list(real),
        objective=objective,
        constraint=constraint,
    )
    by = "the evaluation oracle's reward" if ranking == "eval" else "DHS total signal"
    description = (
        f"top {len(reference_set)} {target}-specific DHS sequences of the held-out test chromosome (chr1), ranked by {by}"
    )
    if reference == "gosai":
        description = f"the {len(reference_set)} Gosai MPRA sequences above the 99.9th percentile of measured {target} activity"
    options = dict(oracle=oracle, reference=reference, reference_size=reference_size, loglik=loglik)
    if objective is not None:
        options["objective"] = objective
    if constraint is not None:
        options["constraints"] = constraints.as_dict()
    command = current_command(api_call("evaluate", inputs=list(tables), **options))
    settings = {
        "inputs": {k: str(v) if isinstance(v, (str, Path)) else type(v).__name__ for k, v in inputs.items()},
        **options,
        "loglik_samples": loglik_samples,
        "novelty": novelty,
        "kmer_js_k": kmer_js_k,
        "real_rows": list(real),
        "real_size": real_size if real else None,
        "length_rule": f"records of length ≠ {length} bp (the oracles' training length) are counted as invalid"
        if length
        else None,
    }
    checkpoints = {f"{role}_oracle": Path(o.checkpoint_file) for role, o in (("reward", reward_oracle), ("eval", eval_oracle))}
    return Report(
        result=result,
        command=command,
        oracle=oracle,
        reference_description=description,
        verdicts=verdicts(result, target=target, controls=list(real)),
        settings=settings,
        checkpoints=checkpoints,
    )
