"""The DAV EM loop on Lightning: one epoch = one EM iteration.

At the start of every epoch ``train_dataloader`` runs the E-step with the current model (each DDP
rank searches its own slice of the sequences with its own seed; the trajectories are gathered so no
sequence is duplicated or lost), and the epoch's batches are that iteration's transitions, repeated
``inner_epochs`` times: the M-step. Epoch-end checkpoints make runs resumable; every random stream is
seeded from (seed, iteration, rank), so a resumed run repeats an uninterrupted one.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from dnadav.core.config import EMConfig
from dnadav.core.distill import distill_loss, transition_batch, transition_pairs
from dnadav.core.modes import eval_mode
from dnadav.core.protocol import ReverseProcess
from dnadav.core.search import search_process
from dnadav.core.trajectory import RewardFn, Trajectory

__all__ = ["DAVModule", "fit_em", "stream_seed"]


def stream_seed(seed: int, iteration: int, rank: int, stream: int) -> int:
    """A distinct, reproducible seed for each (run seed, EM iteration, rank, purpose)."""
    return (seed * 1_000_003 + iteration * 10_007 + rank * 101 + stream) % (2**63 - 1)


class DAVModule(pl.LightningModule):
    """Holds the model being aligned; the frozen prior and oracles are kept out of checkpoints.

    The E-step and M-step drive ``process``, a modality's ``ReverseProcess`` whose network is
    ``model`` (DNA: ``dnadav.dna.em.MaskedDAVModule`` builds it); ``make_context(num, generator)``
    conditions the rows (e.g. on prompts). ``max_batch`` rows go through the network and the reward
    per call.
    When the reward is a bound method of an objective with ``update`` (a ``LagrangianObjective``),
    its multipliers take one dual step after every E-step from that E-step's final sequences and
    are saved in (and restored from) the run's checkpoints.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        reward_fn: RewardFn,
        config: EMConfig,
        process: ReverseProcess,
        prior: torch.nn.Module | None = None,
        evaluate: Callable[[torch.nn.Module, torch.Generator], dict[str, float]] | None = None,
        frozen_modules: Sequence[torch.nn.Module] = (),
        make_context: Callable[[int, torch.Generator], torch.Tensor | None] | None = None,
        max_batch: int | str | None = "auto",
    ):
        super().__init__()
        self.model = model
        self.config = config
        self.max_batch = max_batch
        self.process = process
        if self.process.network is not model:
            raise ValueError("the process must wrap the model being aligned")
        self._make_context = make_context
        # Kept in plain containers so they are not registered submodules (and stay out of checkpoints);
        # moved to the training device at fit start. A bound method's module (oracle.reward) is included.
        owner = getattr(reward_fn, "__self__", reward_fn)
        modules = [m for m in (prior, owner, *frozen_modules) if isinstance(m, torch.nn.Module)]
        self._frozen = {"reward_fn": reward_fn, "prior": prior, "modules": modules}
        self._evaluate = evaluate
        objective = self._objective_with_update()
        self._initial_multipliers = None if objective is None else objective.multipliers.detach().cpu().clone()
        self._multipliers_after: dict[int, torch.Tensor] = {}  # iteration -> multipliers after its dual step
        self.trajectory: Trajectory | None = None
        self.history: list[dict[str, float]] = []

    def on_fit_start(self) -> None:
        for module in self._frozen["modules"]:
            module.to(self.device).eval().requires_grad_(False)

    def _local_count(self) -> int:
        world, rank = self.trainer.world_size, self.trainer.global_rank
        total = self.config.sequences_per_iteration
        return total // world + (1 if rank < total % world else 0)

    def e_step(self) -> Trajectory:
        """Search with the current model on this rank's slice; gather all ranks' trajectories."""
        iteration, rank = self.current_epoch, self.trainer.global_rank
        generator = torch.Generator(self.device).manual_seed(stream_seed(self.config.seed, iteration, rank, 0))
        count = self._local_count()
        context = None
        if self._make_context is not None:
            context_generator = torch.Generator().manual_seed(stream_seed(self.config.seed, iteration, rank, 4))
            context = self._make_context(count, context_generator)
            context = None if context is None else context.to(self.device)
        result = search_process(
            self.process, self._frozen["reward_fn"], count, self.config.search, generator, context, max_batch=self.max_batch
        )
        rows = {"states": result.trajectory.states.transpose(0, 1), "rewards": result.rewards}
        if result.trajectory.context is not None:
            rows["context"] = result.trajectory.context
        if result.trajectory.clean is not None:
            rows["clean"] = result.trajectory.clean.transpose(0, 1)
        if self.trainer.world_size > 1:
            rows = self._gather_rows(rows)
        self._search_log = {
            "estep/reward_mean": float(rows["rewards"].float().mean()),
            "estep/oracle_calls": float(result.stats.oracle_calls),
            "estep/seconds": result.stats.wall_seconds,
        }
        objective = self._objective_with_update()
        if objective is not None:  # every rank holds the gathered rows, so every rank takes the same step
            # The step starts from the multipliers after the previous iteration, not from whatever the
            # objective holds: Lightning runs an extra E-step when it restores a run, and the dual
            # step must not be taken twice.
            objective.multipliers.copy_(self._multipliers_after.get(iteration - 1, self._initial_multipliers))
            record = objective.update(self.process.decode(rows["states"][:, -1]))
            self._multipliers_after[iteration] = objective.multipliers.detach().cpu().clone()
            self._search_log.update({f"objective/{k}": v for k, v in record.items()})
        clean = rows["clean"].transpose(0, 1) if "clean" in rows else None
        return Trajectory(rows["states"].transpose(0, 1), result.trajectory.times.to(self.device), rows.get("context"), clean)

    def _objective_with_update(self):
        owner = getattr(self._frozen["reward_fn"], "__self__", None)
        return owner if callable(getattr(owner, "update", None)) else None

    def _gather_rows(self, rows: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """All ranks' rows (batch-first tensors), in rank order, without padding duplicates."""
        # equal-size slices are padded by one row where B is not divisible by the world size
        local = next(iter(rows.values())).shape[0]
        pad = math.ceil(self.config.sequences_per_iteration / self.trainer.world_size) - local
        valid = torch.ones(local + pad, dtype=torch.bool, device=self.device)
        if pad:
            rows = {k: torch.cat([v, v[:pad]]) for k, v in rows.items()}
            valid[-pad:] = False
        rows = {k: v.contiguous() for k, v in rows.items()}
        gathered = self.all_gather({**rows, "valid": valid})
        keep = gathered.pop("valid").reshape(-1)
        return {k: v.reshape(-1, *v.shape[2:])[keep] for k, v in gathered.items()}

    def train_dataloader(self) -> DataLoader:
        self.trajectory = self.e_step()
        pairs = transition_pairs(self.trajectory).repeat(self.config.inner_epochs, 1)
        # The order is drawn here, once, so it does not depend on how often Lightning iterates the loader.
        generator = torch.Generator().manual_seed(stream_seed(self.config.seed, self.current_epoch, 0, 2))
        order = torch.randperm(len(pairs), generator=generator)
        return DataLoader(TensorDataset(pairs[order].cpu()), batch_size=self.config.batch_size, shuffle=False)

    def on_train_batch_start(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        # Dropout draws from the global stream: seed it per (iteration, batch) so resume is exact.
        torch.manual_seed(stream_seed(self.config.seed, self.current_epoch, self.trainer.global_rank, 1000 + batch_idx))

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        transitions = transition_batch(self.trajectory, batch[0].to(self.device))
        loss, parts = distill_loss(self.process, transitions, self.config.distill, self._frozen["prior"])
        self.log_dict({f"mstep/{k}": v for k, v in parts.items()}, prog_bar=True)
        return loss

    def on_train_epoch_end(self) -> None:
        record = {"iteration": float(self.current_epoch), **self._search_log}
        if self._evaluate is not None and self.trainer.global_rank == 0:
            generator = torch.Generator(self.device).manual_seed(stream_seed(self.config.seed, self.current_epoch, 0, 3))
            with eval_mode(self.model):
                record.update(self._evaluate(self.model, generator))
        self.history.append(record)
        self.log_dict({k: float(v) for k, v in record.items() if k != "iteration"}, rank_zero_only=True)

    def configure_optimizers(self):
        return torch.optim.AdamW(self.model.parameters(), lr=self.config.lr, weight_decay=0.0)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["dav_history"] = self.history
        if self._multipliers_after:
            checkpoint["objective_multipliers"] = dict(self._multipliers_after)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.history = list(checkpoint.get("dav_history", []))
        self._multipliers_after = dict(checkpoint.get("objective_multipliers", {}))


class _ReleaseProcessGroup(pl.Callback):
    """Destroys the distributed process group when the fit is over: a spawned rank that exits with
    it still alive can abort in gloo's threads at interpreter exit ("terminate called without an
    active exception"), which fails the run after it has finished."""

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.barrier()
            torch.distributed.destroy_process_group()


def fit_em(
    module: DAVModule,
    out_dir: str | Path,
    *,
    devices: int | str = 1,
    accelerator: str = "auto",
    strategy: str = "auto",
    resume: bool = True,
    progress: bool = True,
    callbacks: list[pl.Callback] | None = None,
) -> pl.Trainer:
    """Fit ``module.config.iterations`` EM iterations, checkpointing after each into
    ``out_dir/checkpoints/last.ckpt`` and resuming from it when present and ``resume``."""
    out_dir = Path(out_dir)
    # save_top_k=1 without a monitor keeps the newest iteration; Lightning writes last.ckpt only
    # alongside a saved checkpoint, so this is what makes an interrupted run resumable.
    checkpoints = pl.callbacks.ModelCheckpoint(
        dirpath=out_dir / "checkpoints", filename="iteration-{epoch}", save_last=True, every_n_epochs=1, save_top_k=1
    )
    trainer = pl.Trainer(
        max_epochs=module.config.iterations,
        accelerator=accelerator,
        devices=devices,
        strategy=strategy,
        reload_dataloaders_every_n_epochs=1,
        callbacks=[checkpoints, *(callbacks or []), _ReleaseProcessGroup()],
        logger=pl.loggers.CSVLogger(out_dir, name="logs"),
        enable_progress_bar=progress,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        log_every_n_steps=1,
        default_root_dir=out_dir,
        gradient_clip_val=getattr(module.config, "gradient_clip", None),
    )
    last = out_dir / "checkpoints" / "last.ckpt"
    with warnings.catch_warnings():
        # resuming writes into the run's own checkpoint folder, which is expected to exist
        warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")
        trainer.fit(module, ckpt_path=str(last) if resume and last.exists() else None)
    return trainer
