"""The DAV EM loop on Lightning: one epoch = one EM iteration.

At the start of every epoch ``train_dataloader`` runs the E-step with the current model (each DDP
rank searches its own slice of the sequences with its own seed; the trajectories are gathered so no
sequence is duplicated or lost), and the epoch's batches are that iteration's transitions, repeated
``inner_epochs`` times: the M-step. Epoch-end checkpoints make runs resumable; every random stream is
seeded from (seed, iteration, rank), so a resumed run repeats an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from dnadav.core.config import EMConfig
from dnadav.core.distill import distill_loss, transition_batch
from dnadav.core.fit_control import BestKeeper, HeldOutStopper, backtrack_plan, held_out_loss, judge_start, restore_kept
from dnadav.core.modes import eval_mode
from dnadav.core.move_limit import MoveMeter
from dnadav.core.mstep_batches import mstep_plan
from dnadav.core.pass_guard import PassGuard
from dnadav.core.protocol import ReverseProcess
from dnadav.core.ranks import gather_rows, local_count, stream_seed
from dnadav.core.replay import ReplayBuffer
from dnadav.core.search import search_process
from dnadav.core.trajectory import RewardFn, Trajectory
from dnadav.core.trust_region import estep_kl_log, pilot_temperature

__all__ = ["DAVModule", "stream_seed"]  # stream_seed: re-exported from dnadav.core.ranks


class DAVModule(pl.LightningModule):
    """Holds the model being aligned; the frozen prior and oracles are kept out of checkpoints.

    The E-step and M-step drive ``process``, a modality's ``ReverseProcess`` whose network is
    ``model`` (DNA: ``dnadav.dna.em.MaskedDAVModule`` builds it); ``make_context(num, generator)``
    conditions the rows (e.g. on prompts). ``max_batch`` rows go through the network and the reward per call.
    When the reward is a bound method of an objective with ``update`` (a ``LagrangianObjective``), its multipliers take
    one dual step after every E-step from that E-step's final sequences, saved in (and restored from) the run's checkpoints.
    ``select(record) -> score or None`` (None: the iteration is not eligible) keeps the weights of the
    best-scoring iteration (``self.best``) and stops the run ``config.stop_patience`` iterations after
    the last eligible one (a run resumed after that iteration stops too); it must read only validation-side
    metrics of the record. With ``config.backtrack`` an iteration it rejects is undone: the next E-step
    restarts from the kept iteration's weights, optimiser state and α, with ``target_kl`` halved for every
    rejection so far (``dnadav.core.fit_control.backtrack_plan``).
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
        select: Callable[[dict[str, float]], float | None] | None = None,
        pass_score: Callable[[torch.nn.Module, torch.Generator], float] | None = None,
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
        self._evaluate, self._pass_score = evaluate, pass_score
        if config.mstep_min_naturalness is not None and pass_score is None:
            raise ValueError("mstep_min_naturalness needs the modality's naturalness score: pass pass_score=")
        objective = self._objective_with_update()
        self._initial_multipliers = None if objective is None else objective.multipliers.detach().cpu().clone()
        if objective is not None and config.replay:  # its children's values were read at earlier multipliers
            raise ValueError("replay needs a fixed reward: a constrained objective's values move with its multipliers")
        self._replay = ReplayBuffer(config.replay)
        self._multipliers_after: dict[int, torch.Tensor] = {}  # iteration -> multipliers after its dual step
        self.trajectory: Trajectory | None = None
        self.history: list[dict[str, float]] = []
        self.best = BestKeeper(select, config.stop_patience) if select is not None else None
        self._stopper: HeldOutStopper | PassGuard | None = None
        self._averager = None  # the M-step's tail average (config.mstep_average > 0)
        self._reward_temperature = config.search.reward_temperature
        self._restart: int | None = None  # this iteration's backtracking: the kept iteration it restarts from
        self._rejected = 0  # iterations rejected so far (the trust region's step is halved this often)

    def on_fit_start(self) -> None:
        for module in self._frozen["modules"]:
            module.to(self.device).eval().requires_grad_(False)
        self._stop_by_rule()  # resumed after the iteration the stopping rule ended the run at: end there too

    def _stop_by_rule(self) -> None:
        stop = self.trainer.global_rank == 0 and self.best is not None and self.best.should_stop()
        if self.trainer.strategy.reduce_boolean_decision(stop, all=False):
            self.trainer.should_stop = True

    def e_step(self) -> Trajectory:
        """Search with the current model on this rank's slice; gather all ranks' trajectories."""
        iteration, rank = self.current_epoch, self.trainer.global_rank
        generator = torch.Generator(self.device).manual_seed(stream_seed(self.config.seed, iteration, rank, 0))
        count = local_count(self.config.sequences_per_iteration, self.trainer.world_size, self.trainer.global_rank)
        context = None
        if self._make_context is not None:
            context = self._make_context(count, torch.Generator().manual_seed(stream_seed(self.config.seed, iteration, rank, 4)))
            context = None if context is None else context.to(self.device)
        start_log = {}
        if iteration == 0 and self.config.backtrack_start and self.best is not None and self.trainer.global_rank == 0:
            generator = torch.Generator(self.device).manual_seed(stream_seed(self.config.seed, 0, 0, 3))  # iteration 1's draws
            start_log = judge_start(self.best, self.model, self.trainer.optimizers[0], self._evaluate, generator)
        self._backtrack(iteration)
        objective = self._objective_with_update()
        if objective is not None:
            # the multipliers after the iteration the model comes from (the previous one, or the kept one
            # when backtracking), whatever the objective holds: a resumed run starts with fresh ones
            came_from = (self._restart if self._restart is not None else iteration) - 1
            objective.multipliers.copy_(self._multipliers_after.get(came_from, self._initial_multipliers))
        search_config, pilot_log = self._search_config(iteration, context)
        self._reward_temperature = search_config.reward_temperature  # the α the M-step weighs children at
        result = search_process(
            self.process,
            self._frozen["reward_fn"],
            count,
            search_config,
            generator,
            context,
            max_batch=self.max_batch,
            reference=self._tilt_reference(),
        )
        trajectory = result.trajectory
        rows = {**trajectory.sequence_major(), "rewards": result.rewards}
        if self.trainer.world_size > 1:
            rows = gather_rows(self.all_gather, rows, self.config.sequences_per_iteration, self.trainer.world_size)
        fitted_alpha = (self._solved_alpha(iteration) or self.config.search.reward_temperature) if iteration > 0 else None
        self._search_log = {
            "estep/reward_mean": float(rows["rewards"].float().mean()),
            "estep/oracle_calls": float(result.stats.oracle_calls),
            "estep/seconds": result.stats.wall_seconds,
            **({"estep/ess": result.stats.ess_history[-1]} if result.stats.ess_history else {}),  # SMC, importance
            **({"estep/reward_temperature": result.stats.reward_temperature} if result.stats.reward_temperature else {}),
            **pilot_log,
            **estep_kl_log(trajectory, search_config, fitted_alpha),
            **start_log,
        }
        if objective is not None:  # every rank holds the gathered rows, so every rank takes the same step
            record = objective.update(self.process.decode(rows["states"][:, -1]))
            self._multipliers_after[iteration] = objective.multipliers.detach().cpu().clone()
            self._search_log.update({f"objective/{k}": v for k, v in record.items()})
        return Trajectory.from_sequence_major(rows, trajectory.times.to(self.device))

    def _tilt_reference(self) -> torch.nn.Module | None:
        """The network a ``tilt_base="prior"`` E-step tilts: the frozen prior (None for "model")."""
        if self.config.search.tilt_base == "prior" and self._frozen["prior"] is None:
            raise ValueError("search.tilt_base='prior' needs the prior: pass prior= to the module")
        return self._frozen["prior"] if self.config.search.tilt_base == "prior" else None

    def _backtrack(self, iteration: int) -> None:
        """With ``config.backtrack`` and a selection rule: when the rule rejected the last iteration, put
        the kept iteration's weights and optimiser state back (rank 0 holds them; every rank gets them),
        and count the rejections so far. Decided from the history, so a resumed run decides alike."""
        self._restart, self._rejected = None, 0
        if not self.config.backtrack or self.best is None:
            return
        broadcast = lambda value: self.trainer.strategy.broadcast(value, src=0)  # noqa: E731  (rank 0's to all)
        plan = backtrack_plan(self.history[:iteration]) if self.trainer.global_rank == 0 else None
        self._restart, self._rejected = broadcast(plan)
        if self._restart is not None:
            restore_kept(self.best, self.model, self.trainer.optimizers[0], broadcast)

    def _solved_alpha(self, iteration: int) -> float | None:
        """The α the current model was fitted to: the one the trust region solved last before
        ``iteration``, or the restarted-from iteration's when backtracking (read from the history, so a
        resumed run reads the same); None when none was solved yet."""
        records = self.history[: self._restart if self._restart is not None else iteration]
        solved = [r["estep/reward_temperature"] for r in records if "estep/reward_temperature" in r]
        return solved[-1] if solved else None

    def _search_config(self, iteration: int, context_rows: torch.Tensor | None):
        """This iteration's E-step settings: the configured ones, or with ``target_kl`` set, α solved on
        a pilot search of ``pilot_sequences`` with the current model (the same on every rank), started
        from the previous iteration's α (read from the history, so a resumed run starts alike)."""
        config = self.config.search
        if self.config.target_kl is None:
            return config, {}
        target_kl = self.config.target_kl / 2**self._rejected
        generator = torch.Generator(self.device).manual_seed(stream_seed(self.config.seed, iteration, 0, 5))
        count = self.config.pilot_sequences
        context = None if context_rows is None else context_rows[torch.arange(count) % len(context_rows)]  # rows reused in turn
        previous = self._solved_alpha(iteration)
        start = config if previous is None else dataclasses.replace(config, reward_temperature=previous)
        alpha = pilot_temperature(
            self.process,
            self._frozen["reward_fn"],
            start,
            target_kl,
            count,
            generator,
            context,
            self.max_batch,
            reference=self._tilt_reference(),
            previous=previous if config.tilt_base == "prior" else None,
            include_drift=self.config.trust_region == "total",
        )
        log = {"estep/reward_temperature": alpha, "estep/target_kl": target_kl}
        if self._restart is not None:
            log["estep/restarted_from"] = float(self._restart)
        return dataclasses.replace(config, reward_temperature=alpha), log

    def _objective_with_update(self):
        owner = getattr(self._frozen["reward_fn"], "__self__", None)
        return owner if callable(getattr(owner, "update", None)) else None

    def train_dataloader(self) -> DataLoader:
        self._averager = None
        if self.current_epoch < len(self.history):
            # Restoring a run, Lightning asks for the loader of the iteration the checkpoint finished
            # before the next one's and never trains on it: no search (it would cost a whole E-step, and
            # take the dual step or the backtracking decision of a finished iteration again)
            return DataLoader(TensorDataset(torch.zeros(1, 2, dtype=torch.long)), batch_size=1)
        current = self.e_step()
        self.trajectory = self._replay.joined(current)  # [current, *earlier E-steps' training sequences]
        meter_of = lambda pairs: MoveMeter(self.process, self.trajectory, pairs.to(self.device), self.config.batch_size)  # noqa: E731
        plan = mstep_plan(
            self.trajectory, len(current.final), self.config, self.current_epoch, self.model.parameters(),
            self._held_out_loss, meter_of, self._pass_score,
        )  # fmt: skip
        self._replay.keep(current, plan.held_out)
        self._stopper, self._averager = plan.judge, plan.averager
        return plan.loader

    def _held_out_loss(self, pairs: torch.Tensor) -> float:
        return held_out_loss(
            self.process, self.trajectory, pairs.to(self.device), self.config, self._reward_temperature, self._frozen["prior"]
        )

    def on_train_epoch_start(self) -> None:
        if self._stopper is not None:
            self._stopper.start(self.model)

    def on_train_batch_start(self, batch: list[torch.Tensor], batch_idx: int) -> int | None:
        if self._stopper is not None and self._stopper.stopped:
            return -1  # Lightning skips the rest of this epoch's batches
        # Dropout draws from the global stream: seed it per (iteration, batch) so resume is exact.
        torch.manual_seed(stream_seed(self.config.seed, self.current_epoch, self.trainer.global_rank, 1000 + batch_idx))
        return None

    def on_train_batch_end(self, outputs, batch: list[torch.Tensor], batch_idx: int) -> None:
        if self._averager is not None:  # first, so a pass's judge sees the mean of its last iterates
            self._averager.after_step()
        if self._stopper is not None:
            self._stopper.after_batch(self.model, batch_idx)

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        transitions = transition_batch(self.trajectory, batch[0].to(self.device), self._reward_temperature)
        loss, parts = distill_loss(self.process, transitions, self.config.distill, self._frozen["prior"])
        self.log_dict({f"mstep/{k}": v for k, v in parts.items()}, prog_bar=True)
        return loss

    def on_train_epoch_end(self) -> None:
        record = {"iteration": float(self.current_epoch), **self._search_log}
        if self._stopper is not None:
            record.update(self._stopper.finish(self.model, self.config.mstep_max_kl))
        if self._evaluate is not None and self.trainer.global_rank == 0:
            generator = torch.Generator(self.device).manual_seed(stream_seed(self.config.seed, self.current_epoch, 0, 3))
            with eval_mode(self.model):
                record.update(self._evaluate(self.model, generator))
        if self.best is not None and self.trainer.global_rank == 0:  # the records (and so the choice) live on rank 0
            optimizer = self.trainer.optimizers[0] if self.config.backtrack else None
            record.update(self.best.consider(self.current_epoch + 1, record, self.model, optimizer))
        self._stop_by_rule()
        self.history.append(record)
        self.log_dict({k: float(v) for k, v in record.items() if k != "iteration"}, rank_zero_only=True)

    def configure_optimizers(self):
        return torch.optim.AdamW(self.model.parameters(), lr=self.config.lr, weight_decay=0.0)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["dav_history"] = self.history
        if self._multipliers_after:
            checkpoint["objective_multipliers"] = dict(self._multipliers_after)
        if self.best is not None:
            checkpoint["dav_best"] = self.best.state()
        if self._replay.parts:
            checkpoint["dav_replay"] = self._replay.state()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.history = list(checkpoint.get("dav_history", []))
        if self.best is not None and "dav_best" in checkpoint:
            self.best.load(checkpoint["dav_best"])
        self._multipliers_after = dict(checkpoint.get("objective_multipliers", {}))
        self._replay.load(checkpoint.get("dav_replay", []))
