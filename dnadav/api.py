"""The Python API: the main jobs in a few lines, objects in and out (see docs/api.md).

    import dnadav
    designs = dnadav.design("hepg2", n=128, seed=0)      # the same options as `dnadav design`
    designs.to_fasta("out/designs.fa")                    # + out/designs.fa.manifest.json
    frame = designs.to_frame()                            # pandas: id, sequence, reward, pred_activity, ...
    report = dnadav.evaluate({"designs": designs, "prior": "out/prior.fa"})
    report.metrics                                        # one row per input (+ the real held-out rows)
    report.to_html("out/report")                          # report.html, metrics.json/csv, per_sequence.csv
    dnadav.align("out/run", oracle="k562", iterations=2)  # the same options as `dnadav align`
    dnadav.pretrain("my.fa", "out/prior", steps=2000)     # your own data (docs/byod.md)
    dnadav.train_oracle("my.csv", "out/oracle/reward", target="activity", role="reward")

Each function builds its job's options dataclass from the keywords (``dnadav.jobs``: the keywords,
their defaults and meanings are the CLI's flags, declared once there) and runs the job. The CLI
(``dnadav.commands``) builds the same options from the command line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from dnadav import defaults
from dnadav.jobs.design_outputs import Designs
from dnadav.jobs.evaluate import InputLike, Report
from dnadav.loaders import load_model, load_oracle

__all__ = ["Designs", "Report", "align", "design", "evaluate", "load_model", "load_oracle", "pretrain", "train_oracle"]


def design(oracle: str = defaults.ORACLE, n: int = 128, *, progress: bool = False, **options: Any) -> Designs:
    """Design ``n`` sequences for ``oracle`` — the same options as ``dnadav design``, by the same
    names (``dnadav.jobs.design.DesignOptions``): ``length``, ``model``, ``steps``, ``children``,
    ``temperature``, ``seed``, ``objective``, ``constraints``, ``max_batch``, ``precision``, ``adaptive``, ``unmask``.

    ``model``: a shipped name or folder (default: the aligned model shipped for the oracle, else the
    prior). ``length`` None = the model's training length (another is refused). ``children`` M > 0
    adds the DAV E-step search at every reverse step (reward temperature α = ``temperature``).
    ``seed`` makes it bit-reproducible; sequence i depends only on (seed, i). ``constraints``: a
    ``dnadav.constraints.ConstraintSpec`` (e.g. ``spec_from_options(forbid="BsaI,BsmBI", gc="0.4:0.6")``),
    enforced while sampling; ``objective``: a reward expression (docs/objectives.md). ``max_batch``:
    rows per network/oracle call ("auto" = the device's measured default, None = no limit); results
    do not depend on it. ``precision="bf16"``: the denoiser under bf16 autocast (faster where the
    hardware has bf16; other sequences than float32's for the same seed). ``adaptive``: nats > 0 for
    adaptive steps (fewer network rows, plain sampling only; docs/concepts.md); 0 = fixed steps.
    ``unmask="stratified"``: each step unmasks one position per block of ``steps`` positions instead of
    independent ones (plain sampling; docs/concepts.md "Stratified unmasking").
    """
    from dnadav.jobs.design import DesignOptions
    from dnadav.jobs.design_outputs import run_designs
    from dnadav.jobs.options import from_keywords

    return run_designs(from_keywords(DesignOptions, oracle=oracle, n=n, **options), progress=progress)


def evaluate(
    inputs: Mapping[str, InputLike] | Sequence[str | Path] | str | Path,
    *,
    on_dropped: Callable[[str, int], None] | None = None,
    **options: Any,
) -> Report:
    """Evaluate named inputs (``{"designs": designs, "prior": "prior.fa"}``; one file (``"designs.fa"``)
    or a list of files is named by file name) — the same options as ``dnadav evaluate``
    (``dnadav.jobs.evaluate.EvaluateOptions``:
    ``oracle``, ``reference``, ``reference_size``, ``real_rows``, ``real_size``, ``loglik``,
    ``loglik_samples``, ``novelty``, ``kmer_js_k``, ``objective``, ``constraints``, ``prior``,
    ``training``, ``threshold``). ``reference`` may be a file of your own real sequences (a row of the
    report); ``oracle`` a ``"FILE.py:NAME"`` or your own module / scoring function.
    ``on_dropped(name, count)`` is told about invalid records read from files. See
    ``dnadav.jobs.evaluate.evaluate``.
    """
    from dnadav.jobs.evaluate import EvaluateOptions
    from dnadav.jobs.evaluate import evaluate as run_evaluate
    from dnadav.jobs.options import from_keywords

    return run_evaluate(inputs, from_keywords(EvaluateOptions, **options), on_dropped=on_dropped)


def align(out: str | Path, **options: Any) -> dict:
    """Run DAV into the folder ``out`` — the same options as ``dnadav align``, by the same names
    (``dnadav.jobs.align_options.AlignOptions``: ``oracle``, ``objective``, ``prior``, ``preset``,
    ``iterations``, ``sequences``, ``children``, ``steps``, ``temperature``, ``m_step``, ``target_kl``,
    ``holdout``, ``mstep_max_kl``, ``min_naturalness``, ``seed``, ``constraints``, ``max_batch``, ``devices``,
    ``reference``, ...). Options left at None take ``preset``'s value; the length is the prior's.
    ``oracle`` may be a ``"FILE.py:NAME"`` or your own module / scoring function. Resumes a run
    ``out`` holds; ``force=True`` starts afresh. Returns the kept iteration's record (with
    ``model_sha256``); see ``dnadav.jobs.align.align``.
    """
    from dnadav.jobs.align import run_align
    from dnadav.jobs.align_options import AlignOptions
    from dnadav.jobs.options import from_keywords

    return run_align(from_keywords(AlignOptions, out=out, **options))


def pretrain(data: str | Path, out: str | Path, *, force: bool = False, progress: bool = False, **options: Any) -> dict:
    """Train a masked diffusion prior on ``data`` (``"dhs"``, ``"gosai"`` or your own FASTA / CSV / TSV /
    HDF5 file) into the folder ``out`` — the same options as ``dnadav pretrain`` by the names of
    ``dnadav.jobs.pretrain.pretrain_config``: ``steps``, ``batch_size``, ``lr``, ``channels``,
    ``blocks``, ``schedule``, ``ema_decay``, ``valid_fraction``, ``split_seed``, ``seed``,
    ``max_minutes``, ``devices``, ... Resumes a run ``out`` holds; ``force=True`` starts afresh.
    Returns metrics.json's content (held-out NELBO, which weights were saved)."""
    from dnadav.jobs.pretrain import pretrain as run_pretrain
    from dnadav.jobs.pretrain import pretrain_config

    config = pretrain_config(data, out, force=force, **options)
    return run_pretrain(config, out, resume=not force, progress=progress)


def train_oracle(data: str | Path, out: str | Path, *, force: bool = False, progress: bool = False, **options: Any) -> dict:
    """Train an oracle on ``data`` (``"dhs"``, ``"gosai"`` or your own labelled file) into the folder
    ``out`` — the same options as ``dnadav oracle train`` by the names of
    ``dnadav.oracles.train_options.oracle_train_config``: ``target`` (your file's label column(s)),
    ``labels``, ``task``, ``role`` (``"reward"`` / ``"eval"``: disjoint halves of the train rows),
    ``chromosomes``, ``valid_fraction``, ``test_fraction``, ``split_seed``, ``channels``, ``epochs``,
    ``batch_size``, ``lr``, ``seed``, ... Train ``out/reward`` and ``out/eval`` and pass ``out`` as
    the oracle of design / align / evaluate. Returns metrics.json's content."""
    from dnadav.oracles.train import train_oracle as run_train
    from dnadav.oracles.train_options import oracle_train_config

    config = oracle_train_config(data, out, force=force, **options)
    return run_train(config, out, progress=progress)
