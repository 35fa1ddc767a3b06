"""``align()``: build the pieces of a DAV run (prior, oracles, evaluator) and drive the Lightning EM
loop into an output folder that can be resumed."""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch

from dnadav.core.fit import fit_em
from dnadav.core.state import copy_state
from dnadav.dna.checkpoint import (
    SHIPPED_MODELS,
    model_length,
    save_denoiser,
)
from dnadav.dna.config import AlignConfig
from dnadav.dna.em import MaskedDAVModule
from dnadav.io import atomic_write_bytes, atomic_write_text, current_command, sha256_file, write_manifest
from dnadav.jobs.align_judge import RunJudge, run_judge
from dnadav.jobs.align_metrics import back_off_rejected, naturalness_floor, plain_sample_metrics, selection_note
from dnadav.jobs.align_options import AlignOptions, align_config
from dnadav.jobs.options import fit_devices

__all__ = [
    "align",
    "kept_iterations",
    "naturalness_floor",
    "plain_sample_metrics",
    "prior_length",
    "RunJudge",
    "run_align",
    "run_judge",
    "selection_note",
]


def _portable_name(prior: str | Path) -> str:
    """The prior as a shipped name (``dhs_prior``) or the folder's name: never a machine's absolute path."""
    key = str(prior).lower()
    if key in SHIPPED_MODELS:
        return SHIPPED_MODELS[key]
    return Path(prior).name


class _EachIteration(pl.callbacks.Checkpoint):
    """After every EM iteration k, ``on_iteration(k, model)`` on rank 0: the model as it stands.

    A ``Checkpoint`` so that Lightning calls it *after* the module's ``on_train_epoch_end``, where the
    M-step trust region (``--mstep-max-kl``) shrinks the step: the snapshot is the model the iteration's
    log evaluated (as a plain callback it ran first and kept the unbounded step; the held-out stopper's
    best pass is put back earlier, after the pass that stops it, so runs without the bound were right)."""

    def __init__(self, on_iteration: Callable[[int, torch.nn.Module], None]) -> None:
        self.on_iteration = on_iteration

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.global_rank == 0:
            self.on_iteration(trainer.current_epoch + 1, pl_module.model)


def _KeepIterations(folder: Path, metadata: dict) -> _EachIteration:  # noqa: N802  (a callback's name)
    """Every iteration k's model in ``folder/iteration-k/`` (model.pt + config.json with ``iteration``:
    k): any iteration can then be designed from or evaluated (``--keep-iterations``)."""
    return _EachIteration(lambda k, model: save_denoiser(folder / f"iteration-{k}", model, {**metadata, "iteration": k}))


class _Snapshots:
    """Every iteration's weights for the back-off, in ``folder/iteration-k.pt`` (atomic writes), so that
    a resumed run's back-off searches the segments an uninterrupted run's would (held in memory, the
    iterations of an earlier session were lost on resume)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def clear(self) -> None:
        for path in self.folder.glob("iteration-*.pt"):
            path.unlink()

    def save(self, iteration: int, model: torch.nn.Module) -> None:
        buffer = io.BytesIO()
        torch.save({k: v.cpu() for k, v in copy_state(model).items()}, buffer)
        atomic_write_bytes(self.folder / f"iteration-{iteration}.pt", buffer.getvalue())

    def load(self, device: torch.device) -> dict[int, dict[str, torch.Tensor]]:
        paths = self.folder.glob("iteration-*.pt")
        return {int(p.stem.split("-")[1]): torch.load(p, map_location=device, weights_only=True) for p in paths}


def kept_iterations(run: Path) -> list[tuple[int, Path]]:
    """``(k, folder)`` for every ``run/iterations/iteration-k`` that ``--keep-iterations`` wrote, by k:
    a run stopped early (stopping rule, interruption) has fewer than its configured iterations."""
    found = [(int(folder.name.split("-")[1]), folder) for folder in Path(run, "iterations").glob("iteration-*")]
    return sorted(found)


def align(
    config: AlignConfig,
    out_dir: str | Path,
    max_batch: int | str | None = "auto",
    keep_iterations: bool = False,
    *,
    reference: str | Path | None = None,
    oracles: tuple[torch.nn.Module, torch.nn.Module] | None = None,
    **fit_options: Any,
) -> dict:
    """Run DAV into ``out_dir`` (``checkpoints/last.ckpt`` for resume; ``model.pt`` +
    ``config.json`` + ``history.json`` + ``manifest.json`` at the end). Returns the last record.

    The reward is ``config.objective`` (an expression over the reward oracle's cell types) or, when
    None, the reward oracle's log-odds; ``config.constraints`` are enforced on every E-step path and
    in the per-iteration plain samples. ``max_batch`` rows per network/oracle call (results do not
    depend on it). ``keep_iterations``: also write each iteration's model to
    ``out_dir/iterations/iteration-k/`` (3.2 MB each for the shipped backbone). ``reference``: a file of
    real sequences, the validation naturalness set (the logged 3-mer correlation and the
    ``min_naturalness`` selection; default: the oracle's own). ``oracles``: (reward, eval) already
    loaded, e.g. a user's modules (``config.oracle`` then only names them). ``fit_options`` (devices,
    accelerator, strategy, resume, progress, callbacks) go to ``fit_em``."""
    from dnadav.errors import InputError

    out_dir = Path(out_dir)
    judge = run_judge(config, reference, oracles)
    prior, prior_config = judge.prior, judge.prior_config
    anchor, warm = prior, None  # the model the run starts from and tilts / anchors to
    if config.warm_start_steps:
        from dnadav.jobs.align_warm import warm_started_prior

        anchor, warm = warm_started_prior(config, judge, out_dir)
    model = copy.deepcopy(anchor).train()
    try:  # the module checks how the reward and the config go together (replay needs a fixed reward)
        module = MaskedDAVModule(
            model,
            judge.reward_fn,
            config,
            judge.schedule,
            prior=anchor if config.distill.kl_weight > 0 or config.search.tilt_base == "prior" else None,
            evaluate=judge.metrics_of,
            frozen_modules=(prior, anchor, judge.reward_oracle, judge.eval_oracle),
            constraint=judge.constraint,
            max_batch=max_batch,
            select=judge.select,
            pass_score=judge.pass_score,
        )
    except ValueError as error:
        raise InputError(str(error)) from None
    metadata = {
        "schedule": prior_config.get("schedule", "loglinear"),
        "length": config.length,
        "aligned_from": _portable_name(config.prior),
        "align_config": config.as_dict(),
        **({"objective": config.objective} if config.objective else {}),
        **({"reference": Path(reference).name} if reference is not None else {}),
        "prior_config": prior_config.get("train_config"),
        **({"warm_start": warm} if warm is not None else {}),
    }
    callbacks = [_KeepIterations(out_dir / "iterations", metadata)] if keep_iterations else []
    snapshots = _Snapshots(out_dir / "snapshots")  # every iteration's weights, for the back-off
    if config.back_off:
        if not (fit_options.get("resume", True) and (out_dir / "checkpoints" / "last.ckpt").is_file()):
            snapshots.clear()  # a fresh run: an earlier run's weights in the folder are not this run's
        callbacks.append(_EachIteration(snapshots.save))
    fit_options = {**fit_options, "callbacks": [*fit_options.get("callbacks", []), *callbacks]}
    started = time.time()
    trainer = fit_em(module, out_dir, **fit_options)
    if trainer.global_rank != 0:
        return {}
    # the back-off leaves module.model at its choice; without it the kept iteration's weights go back in
    backed = None
    if config.back_off:
        weights = snapshots.load(next(module.model.parameters()).device)
        backed = back_off_rejected(module, weights, anchor, judge.metrics_of, judge.select, config)
    aligned = module.model.cpu().eval()
    if module.best is not None:
        metadata = {**metadata, "selection": selection_note(module, config.min_naturalness, backed)}
        if module.best.weights is not None and backed is None:
            aligned.load_state_dict(module.best.weights)
    save_denoiser(out_dir, aligned, metadata)
    atomic_write_text(out_dir / "history.json", json.dumps(module.history, indent=2) + "\n")
    write_manifest(
        out_dir / "manifest.json",
        command=current_command(f"dnadav.jobs.align.align({config.as_dict()!r}, {str(out_dir)!r})"),
        config=config.as_dict(),
        checkpoints={
            "model": out_dir / "model.pt",
            "prior": prior.checkpoint_file,
            **{
                role: oracle.checkpoint_file
                for role, oracle in (("reward_oracle", judge.reward_oracle), ("eval_oracle", judge.eval_oracle))
                if getattr(oracle, "checkpoint_file", None) is not None  # a module passed in Python has no file
            },
            **({"reference": Path(reference)} if reference is not None else {}),
        },
        extra={"wall_minutes_this_session": (time.time() - started) / 60},
    )
    kept = module.best.iteration if module.best is not None and module.best.iteration else len(module.history)
    record = module.history[kept - 1] if module.history else {}
    if backed is not None and backed.toward is not None:  # the point kept on the way to a later iteration
        record = {**record, **backed.record, "select/back_off_toward": backed.toward, "select/back_off_scale": backed.scale}
    return {"model_sha256": sha256_file(out_dir / "model.pt"), **record}


def prior_length(prior: str | Path) -> int | None:
    """The sequence length a prior was trained on, read from its checkpoint's config (no weights
    loaded); DRAKES's published ``.ckpt`` is 200 bp; None when the config does not say."""
    from dnadav.checkpoint_format import read_config
    from dnadav.dna.checkpoint import resolve_model_dir
    from dnadav.published.dispatch import is_checkpoint_file

    if is_checkpoint_file(prior):
        return 200
    directory = resolve_model_dir(prior)
    return model_length(read_config(directory), f"{directory}/config.json")


def run_align(options: AlignOptions) -> dict:
    """The run of ``dnadav align`` / ``dnadav.align`` into ``options.out``: resumed from its checkpoint
    unless ``force``; a finished run (``model.pt``) is refused unless ``force``. The sequence length is
    the prior's (its checkpoint is the source of truth); ``options.oracle`` may be a name, a folder, a
    ``FILE.py:NAME`` or (Python) a module / callable, see ``dnadav.oracles.user``."""
    from dnadav.errors import InputError
    from dnadav.loaders import load_oracle
    from dnadav.oracles.user import oracle_label

    if options.out is None:
        raise InputError("align needs an output folder (--out)")
    out = Path(options.out)
    if (out / "model.pt").exists() and not options.force:
        raise InputError(f"{out}: already holds a finished run (model.pt); pass --force to start again")
    if options.reference is not None and not Path(options.reference).is_file():
        raise InputError(f"{options.reference}: no such reference file (--reference takes a FASTA/CSV/TSV/HDF5 file)")
    if options.warm_start_data is not None and not Path(options.warm_start_data).is_file():
        raise InputError(f"{options.warm_start_data}: no such file (--warm-start-data takes a FASTA/CSV/TSV/HDF5 file)")
    oracles = None
    if not isinstance(options.oracle, (str, Path)):
        oracles = (load_oracle(options.oracle, role="reward"), load_oracle(options.oracle, role="eval"))
        options = dataclasses.replace(options, oracle=oracle_label(options.oracle))
    config = align_config(options)
    length = prior_length(config.prior)
    if length is not None:
        config = dataclasses.replace(config, length=length)
    return align(
        config,
        out,
        max_batch=options.max_batch,
        keep_iterations=options.keep_iterations,
        reference=options.reference,
        oracles=oracles,
        devices=fit_devices(options.devices),
        accelerator=options.accelerator,
        strategy=options.strategy,
        resume=not options.force,
        progress=not options.quiet,
    )
