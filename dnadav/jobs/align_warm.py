"""The warm start of a DNA align run (``AlignConfig.warm_start_steps`` > 0): the prior fitted to its own
training data tilted by the run's reward (``dnadav.core.warm_start``), before the first EM iteration.

The data are the training split the prior's checkpoint names (its ``train_config``: the shipped DHS set,
the imported Gosai table or the user's file, split as ``dnadav pretrain`` split it), or a file given as
``warm_start_data``. The fitted model is kept in ``OUT/warm_start/`` (model.pt, config.json with what the
warm start did), so a resumed run reads it back instead of fitting it again.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import torch

from dnadav.core.ranks import stream_seed
from dnadav.core.warm_start import warm_start
from dnadav.dna.checkpoint import save_denoiser
from dnadav.dna.config import AlignConfig
from dnadav.errors import InputError
from dnadav.jobs.align_judge import RunJudge

__all__ = ["warm_start_sequences", "warm_started_prior"]

FOLDER = "warm_start"


def warm_start_sequences(config: AlignConfig, prior_config: dict) -> tuple[list[str], str]:
    """The warm start's data: ``config.warm_start_data`` (a sequence file: its training split by
    ``dnadav pretrain``'s rule) or, when None, the training split the prior's ``train_config`` names.
    -> (sequences, where they came from). InputError when the prior's checkpoint names no data."""
    from dnadav.jobs.pretrain import load_training_sequences

    if config.warm_start_data is not None:
        path = Path(config.warm_start_data)
        if not path.is_file():
            raise InputError(f"{path}: no such file (--warm-start-data takes a FASTA/CSV/TSV/HDF5 file of sequences)")
        sequences = load_training_sequences(str(path), None).train
        where = f"{path.name} (its training split)"
    else:
        trained = prior_config.get("train_config") or {}
        if not trained.get("data"):
            raise InputError(
                f"{config.prior}: its config names no training data for the warm start; pass --warm-start-data FILE "
                "or --warm-start 0"
            )
        keys = {k: trained[k] for k in ("valid_fraction", "split_seed") if k in trained}
        sequences = load_training_sequences(trained["data"], trained.get("cell_type"), trained.get("table"), **keys).train
        shown = trained["data"] if trained["data"] in ("dhs", "gosai") else Path(trained["data"]).name
        where = f"the prior's training split ({shown}" + (f", {trained['cell_type']})" if trained.get("cell_type") else ")")
    wrong = next((i for i, s in enumerate(sequences) if len(s) != config.length), None)
    if wrong is not None:
        raise InputError(f"warm start data: sequence {wrong + 1} is {len(sequences[wrong])} bp; the run is {config.length} bp")
    return sequences, where


def warm_started_prior(config: AlignConfig, judge: RunJudge, out_dir: Path):
    """The run's prior (``judge.prior``, untouched: the warm model is a copy) after the warm start, fitted with the
    run's reward and the prior's own schedule, and the record of what it did: read back from ``out_dir/warm_start/``
    when a run there made it, else fitted and saved there."""
    from dnadav.dna.checkpoint import load_denoiser
    from dnadav.dna.sampler import MaskedDiffusion
    from dnadav.dna.tokens import strings_to_tokens

    prior, prior_config = judge.prior, judge.prior_config
    folder = Path(out_dir) / FOLDER
    device = next(prior.parameters()).device
    if (folder / "model.pt").is_file():
        model, saved = load_denoiser(folder, device=device)
        return model.eval(), saved["warm_start"]
    sequences, where = warm_start_sequences(config, prior_config)
    data = strings_to_tokens(sequences)
    available = len(data)
    if config.warm_start_pool is not None and config.warm_start_pool < available:  # a random pool: fewer reward calls
        pool = torch.Generator().manual_seed(stream_seed(config.seed, 0, 0, 12))
        data = data[torch.randperm(available, generator=pool)[: config.warm_start_pool].sort().values]
    settings = config.warm_start
    model = copy.deepcopy(prior)
    process = MaskedDiffusion(model, config.length, judge.schedule)
    generator = torch.Generator(device).manual_seed(stream_seed(config.seed, 0, 0, 11))
    started = time.time()
    result = warm_start(process, data.to(device), judge.reward_fn, settings, generator)
    record = {
        "seconds": time.time() - started,
        "data": where,
        "data_sequences": available,
        "scored": len(data),
        **vars(settings),
        **result.record(),
    }
    metadata = {k: prior_config[k] for k in ("schedule", "length") if k in prior_config}
    save_denoiser(folder, model.cpu(), {**metadata, "train_config": prior_config.get("train_config"), "warm_start": record})
    return model.to(device).eval(), record
