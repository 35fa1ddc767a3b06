"""The Python API: the main job in a few lines, objects in and out (see docs/api.md).

    import dnadav
    designs = dnadav.design("hepg2", n=128, seed=0)      # the same options as `dnadav design`
    designs.to_fasta("out/designs.fa")                    # + out/designs.fa.manifest.json
    frame = designs.to_frame()                            # pandas: id, sequence, reward, pred_activity, ...
    report = dnadav.evaluate({"designs": designs, "prior": "out/prior.fa"})
    report.metrics                                        # one row per input (+ the real held-out rows)
    report.to_html("out/report")                          # report.html, metrics.json/csv, per_sequence.csv

The CLI (``dnadav.commands``) only parses options, calls these functions and prints.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dnadav import defaults
from dnadav.errors import InputError
from dnadav.jobs.design import DesignResult
from dnadav.loaders import load_model, load_oracle

__all__ = ["Designs", "Report", "design", "evaluate", "load_model", "load_oracle"]


def _call(name: str, **options: Any) -> str:
    return f"dnadav.{name}({', '.join(f'{k}={v!r}' for k, v in options.items())})"


@dataclass(frozen=True)
class Designs:
    """Designed sequences with their scores and provenance (what ``dnadav.design`` returns)."""

    result: DesignResult
    command: str

    def __len__(self) -> int:
        return len(self.result.sequences)

    @property
    def ids(self) -> list[str]:
        return list(self.result.ids)

    @property
    def sequences(self) -> list[str]:
        return list(self.result.sequences)

    def to_frame(self):
        """``pandas.DataFrame``: id, sequence, reward, pred_activity (held-out oracle), eval_probability."""
        import pandas as pd

        r = self.result
        return pd.DataFrame(
            {
                "id": r.ids,
                "sequence": r.sequences,
                "reward": r.reward,
                "pred_activity": r.pred_activity,
                "eval_probability": r.eval_probability,
            }
        )

    def summary(self) -> dict[str, float]:
        """Medians (numpy, the same as ``dnadav evaluate``) and the share the eval oracle calls accessible."""
        from dnadav.evaluate.metrics import accessibility_accuracy, pred_activity

        return {
            "reward_median": pred_activity(self.result.reward),
            "pred_activity_median": pred_activity(self.result.pred_activity),
            "accessibility_accuracy": accessibility_accuracy(self.result.eval_probability),
        }

    def manifest(self) -> dict[str, Any]:
        """What ``to_fasta`` writes beside the FASTA (besides versions and checkpoint sha256s)."""
        r = self.result
        return {
            "used_aligned_model": r.used_aligned_model,
            "model_aligned_to": r.aligned_to,
            "timings": r.timings,
            "search_stats": r.search_stats,
            "summary": self.summary(),
        }

    def to_fasta(self, path: str | Path, *, force: bool = False) -> Path:
        """Write FASTA (headers ``>id reward=… pred_activity=… eval_probability=…``) and
        ``<path>.manifest.json`` beside it; refuses to overwrite either unless ``force``."""
        from dnadav.data import write_fasta
        from dnadav.io import check_writable, write_manifest

        path = check_writable(path, force)
        manifest_path = check_writable(path.with_name(path.name + ".manifest.json"), force)
        r = self.result
        descriptions = [
            {"reward": round(float(a), 4), "pred_activity": round(float(b), 4), "eval_probability": round(float(c), 4)}
            for a, b, c in zip(r.reward, r.pred_activity, r.eval_probability)
        ]
        write_fasta(path, r.ids, r.sequences, descriptions, force=True)
        write_manifest(manifest_path, command=self.command, config=r.settings, checkpoints=r.checkpoints, extra=self.manifest())
        return path


def design(
    oracle: str = defaults.ORACLE,
    n: int = 128,
    *,
    length: int | None = None,
    model: str | Path | None = None,
    steps: int = defaults.DESIGN_STEPS,
    children: int = 0,
    temperature: float = defaults.REWARD_TEMPERATURE,
    seed: int = 0,
    progress: bool = False,
    constraints=None,
    objective: str | None = None,
    max_batch: int | str | None = "auto",
    precision: str = "fp32",
) -> Designs:
    """Design ``n`` sequences for ``oracle`` — the same options as ``dnadav design``.

    ``model``: a shipped name or folder (default: the aligned model shipped for the oracle, else the
    prior). ``length`` None = the model's training length (another is refused). ``children`` M > 0
    adds the DAV E-step search at every reverse step (reward temperature α = ``temperature``).
    ``seed`` makes it bit-reproducible; sequence i depends only on (seed, i). ``constraints``: a
    ``dnadav.constraints.ConstraintSpec`` (e.g. ``spec_from_options(forbid="BsaI,BsmBI", gc="0.4:0.6")``),
    enforced while sampling; ``objective``: a reward expression (docs/objectives.md). ``max_batch``:
    rows per network/oracle call ("auto" = the device's measured default, None = no limit); results
    do not depend on it. ``precision="bf16"``: the denoiser under bf16 autocast (faster where the
    hardware has bf16; other sequences than float32's for the same seed).
    """
    from dnadav.io import current_command
    from dnadav.jobs.design import design as run_design

    bars: list = []

    def on_step(_: int) -> None:  # the bar starts with the first step, after every check has passed
        if not bars:
            from tqdm import tqdm

            bars.append(tqdm(total=steps * -(-n // defaults.DESIGN_BLOCK), desc="designing", unit="step", file=sys.stderr))
        bars[0].update(1)

    try:
        result = run_design(
            oracle,
            n,
            length,
            model,
            steps,
            children,
            temperature,
            seed,
            on_step=on_step if progress else None,
            constraints=constraints,
            objective=objective,
            max_batch=max_batch,
            precision=precision,
        )
    finally:
        for bar in bars:
            bar.close()
    options = dict(oracle=oracle, n=n, length=length, model=model, steps=steps, children=children, seed=seed)
    if children > 0:
        options["temperature"] = temperature
    if constraints is not None and not constraints.empty:
        options["constraints"] = constraints.as_dict()
    if objective is not None:
        options["objective"] = objective
    if precision != "fp32":
        options["precision"] = precision
    return Designs(result, current_command(_call("design", **options)))


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
    *,
    oracle: str = defaults.ORACLE,
    reference: str = "top-eval",
    reference_size: int = 500,
    real_rows: bool = True,
    real_size: int = 300,
    loglik: bool = True,
    loglik_samples: int = 4,
    novelty: str = "hamming",
    kmer_js_k: int = 3,
    on_dropped: Callable[[str, int], None] | None = None,
    objective: str | None = None,
    constraints=None,
) -> Report:
    """Evaluate named inputs (``{"designs": designs, "prior": "prior.fa"}``; a list of files is
    named by file name) on the held-out evaluation oracle of ``oracle`` and the other metrics.

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
    from dnadav.loaders import oracle_length

    if not isinstance(inputs, Mapping):
        inputs = {Path(p).name: p for p in inputs}
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
    command = current_command(_call("evaluate", inputs=list(tables), **options))
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
