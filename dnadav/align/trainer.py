"""The DAV EM loop on Lightning: one epoch = one EM iteration.

At the start of every epoch ``train_dataloader`` runs the E-step with the current model (each DDP
rank searches its own slice of the sequences with its own seed; the trajectories are gathered so no
sequence is duplicated or lost), and the epoch's batches are that iteration's transitions, repeated
``inner_epochs`` times: the M-step. Epoch-end checkpoints make runs resumable; every random stream is
seeded from (seed, iteration, rank), so a resumed run repeats an uninterrupted one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from dnadav.align.distill import DistillConfig, distill_loss, transition_batch, transition_pairs
from dnadav.align.protocols import RewardFn, Trajectory
from dnadav.align.search import SearchConfig, search
from dnadav.diffusion.backbone import ConvDenoiser
from dnadav.diffusion.schedule import Schedule

__all__ = ["AlignConfig", "DAVModule", "stream_seed"]


@dataclass
class AlignConfig:
    """A DAV run. Defaults are sized to finish on a 2-core CPU in about a quarter of an hour."""

    oracle: str = "hepg2"
    prior: str = "dhs"
    length: int = 200
    iterations: int = 3  # K EM iterations (Lightning epochs)
    sequences_per_iteration: int = 64  # B, split across ranks
    search: SearchConfig = field(default_factory=lambda: SearchConfig(num_children=16, reward_temperature=0.5, num_steps=25))
    distill: DistillConfig = field(default_factory=DistillConfig)
    inner_epochs: int = 2  # passes over each iteration's transitions
    batch_size: int = 128  # transitions per M-step batch
    lr: float = 1e-3
    eval_sequences: int = 64  # plain samples drawn after every iteration for the log
    eval_steps: int = 25
    seed: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def stream_seed(seed: int, iteration: int, rank: int, stream: int) -> int:
    """A distinct, reproducible seed for each (run seed, EM iteration, rank, purpose)."""
    return (seed * 1_000_003 + iteration * 10_007 + rank * 101 + stream) % (2**63 - 1)


class DAVModule(pl.LightningModule):
    """Holds the model being aligned; the frozen prior and oracles are kept out of checkpoints."""

    def __init__(
        self,
        model: ConvDenoiser,
        reward_fn: RewardFn,
        config: AlignConfig,
        schedule: Schedule,
        prior: ConvDenoiser | None = None,
        evaluate: Callable[[ConvDenoiser, torch.Generator], dict[str, float]] | None = None,
        frozen_modules: Sequence[torch.nn.Module] = (),
    ):
        super().__init__()
        self.model = model
        self.config = config
        self.schedule = schedule
        # Kept in plain containers so they are not registered submodules (and stay out of checkpoints);
        # moved to the training device at fit start. A bound method's module (oracle.reward) is included.
        owner = getattr(reward_fn, "__self__", reward_fn)
        modules = [m for m in (prior, owner, *frozen_modules) if isinstance(m, torch.nn.Module)]
        self._frozen = {"reward_fn": reward_fn, "prior": prior, "modules": modules}
        self._evaluate = evaluate
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
        result = search(
            self.model,
            self._frozen["reward_fn"],
            self._local_count(),
            self.config.length,
            self.config.search,
            self.schedule,
            generator,
            self.device,
        )
        states, rewards = result.trajectory.states, result.rewards
        if self.trainer.world_size > 1:
            # equal-size slices are padded by one row where B is not divisible by the world size
            pad = math.ceil(self.config.sequences_per_iteration / self.trainer.world_size) - states.shape[1]
            valid = torch.ones(states.shape[1] + pad, dtype=torch.bool, device=self.device)
            if pad:
                states = torch.cat([states, states[:, :pad]], dim=1)
                rewards = torch.cat([rewards, rewards[:pad]])
                valid[-pad:] = False
            gathered = self.all_gather({"states": states, "rewards": rewards, "valid": valid})
            keep = gathered["valid"].reshape(-1)
            states = gathered["states"].permute(1, 0, 2, 3).reshape(states.shape[0], -1, states.shape[2])[:, keep]
            rewards = gathered["rewards"].reshape(-1)[keep]
        self._search_log = {
            "estep/reward_mean": float(rewards.float().mean()),
            "estep/oracle_calls": float(result.stats.oracle_calls),
            "estep/seconds": result.stats.wall_seconds,
        }
        return Trajectory(states, result.trajectory.times.to(self.device))

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
        loss, parts = distill_loss(self.model, transitions, self.config.distill, self.schedule, self._frozen["prior"])
        self.log_dict({f"mstep/{k}": v for k, v in parts.items()}, prog_bar=True)
        return loss

    def on_train_epoch_end(self) -> None:
        record = {"iteration": float(self.current_epoch), **self._search_log}
        if self._evaluate is not None and self.trainer.global_rank == 0:
            generator = torch.Generator(self.device).manual_seed(stream_seed(self.config.seed, self.current_epoch, 0, 3))
            was_training = self.model.training
            record.update(self._evaluate(self.model, generator))
            self.model.train(was_training)
        self.history.append(record)
        self.log_dict({k: float(v) for k, v in record.items() if k != "iteration"}, rank_zero_only=True)

    def configure_optimizers(self):
        return torch.optim.AdamW(self.model.parameters(), lr=self.config.lr, weight_decay=0.0)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["dav_history"] = self.history

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.history = list(checkpoint.get("dav_history", []))
