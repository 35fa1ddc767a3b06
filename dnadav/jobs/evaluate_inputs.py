"""What the evaluate job reads besides its options: the inputs by name (``named_inputs``), the user's
sequence files (reference, novelty pool), the prior App-Log-Lik is computed under and the novelty
pool (``novelty_pool``: the file given, the prior's own training rows, or the DHS train split)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dnadav.defaults import APP_LOG_LIK_TIMES
from dnadav.errors import InputError
from dnadav.jobs.design_outputs import Designs

__all__ = ["InputLike", "as_table", "log_likelihood_for", "named_inputs", "novelty_pool", "sequences_of"]

InputLike = Any  # Designs | str | Path (a sequence file) | Sequence[str] | dnadav.data.SequenceTable


def as_table(name: str, given: InputLike):
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


def sequences_of(path: str | Path, length: int | None, what: str) -> list[str]:
    """The sequences of a user's ``what`` file, every record checked (InputError naming the record)."""
    from dnadav.data import read_sequences

    if not Path(path).is_file():
        raise InputError(f"{path}: no such {what} file")
    return read_sequences(path, length=length).sequences


def log_likelihood_for(prior: str | None, length: int, samples: int, loglik: bool, times: str = APP_LOG_LIK_TIMES):
    """(the evaluator's ``log_likelihood``, the prior (None when neither asked for nor needed), a note
    when App-Log-Lik is left out)."""
    from dnadav.evaluate.evaluator import prior_log_likelihood
    from dnadav.loaders import load_model

    model = load_model(prior) if prior is not None else None
    if not loglik:
        return "skip", model, None
    model = model if model is not None else load_model("dhs_prior")
    if model.length is not None and model.length != length:
        name = prior or "the shipped DHS prior"
        note = f"App-Log-Lik left out: {name} was trained on {model.length} bp, the sequences are {length} bp (pass --prior)"
        return "skip", model, note
    return prior_log_likelihood(model, num_time_samples=samples, times=times), model, None


def novelty_pool(training: str | None, prior) -> tuple[list[str], str]:
    """(the novelty pool, what it is): the ``training`` file; else the train rows of the file the prior
    was trained on when its config names one that is still there (the same held-out rule, so held-out
    rows stay out); else the DHS train split."""
    from dnadav.evaluate.reference import training_sequences

    if training is not None:
        return sequences_of(training, None, "training (novelty pool)"), str(training)
    config = (getattr(prior, "config_dict", None) or {}).get("train_config") or {}
    data = config.get("data")
    if isinstance(data, str) and data not in ("dhs", "gosai") and Path(data).is_file():
        from dnadav.jobs.pretrain import load_training_sequences

        held_out = dict(valid_fraction=config.get("valid_fraction", 0.1), split_seed=config.get("split_seed", 0))
        return load_training_sequences(data, None, None, **held_out).train, f"the prior's training rows of {data}"
    return training_sequences(), "the DHS train split"
