"""How much each M-step fits, and which iteration a run keeps — both decided on held-out data.

* ``HeldOutStopper``: the M-step fits the E-step's transitions in passes; after every pass it scores
  the transitions of sequences held out of the same E-step, keeps the weights with the best held-out
  loss (the initial weights included) and stops after ``patience`` passes without improvement. An
  M-step that stops too early leaves the search's gain behind; one that runs on copies the kept
  sequences' k-mer noise. The held-out loss measures both.
* ``BestKeeper``: after every EM iteration a selection rule scores the iteration's record from
  validation-side metrics only (the reward oracle, the chr2 split) or calls it ineligible; the best
  eligible iteration's weights are kept, and the run stops ``stop_patience`` iterations after the last
  eligible one.
* ``backtrack_plan``: with backtracking, an iteration the rule rejects is undone — the next E-step
  starts again from the kept iteration's weights (and optimiser state) with the trust region's step
  halved once for every rejection so far (docs/concepts.md, "Backtracking"). Read from the run's
  history alone, so a resumed run makes the same choices.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch.utils.data import DataLoader, TensorDataset

from dnadav.core.distill import distill_loss, transition_batch, transition_pairs
from dnadav.core.modes import eval_mode
from dnadav.core.move_limit import MoveMeter, limit_move
from dnadav.core.state import copy_state, cpu_copy
from dnadav.core.trajectory import Trajectory

__all__ = [
    "BestKeeper", "HeldOutStopper", "backtrack_plan", "held_out_loss", "held_out_passes", "holdout_split", "pass_batches",
    "pass_end_batches", "restore_kept",
]  # fmt: skip


def holdout_split(
    pairs: torch.Tensor, num_sequences: int, fraction: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Split transition ``pairs [N, 2]`` (step, sequence) by sequence: ``ceil(fraction·B)`` sequences
    (at least 1, at most B − 1) held out -> ``(train_pairs, held_out_pairs)``."""
    if not 0 < fraction < 1:
        raise ValueError(f"holdout fraction must lie in (0, 1); got {fraction}")
    if num_sequences < 2:
        raise ValueError("a held-out split needs at least 2 sequences per iteration")
    count = min(max(math.ceil(fraction * num_sequences), 1), num_sequences - 1)
    held = torch.zeros(num_sequences, dtype=torch.bool)
    held[torch.randperm(num_sequences, generator=generator)[:count]] = True
    is_held = held[pairs[:, 1].cpu()]
    return pairs[~is_held], pairs[is_held]


def pass_batches(num_rows: int, passes: int, batch_size: int, generator: torch.Generator) -> list[list[int]]:
    """Row indices for ``passes`` passes over ``num_rows`` rows, each pass in its own shuffled order and
    cut into batches of ``batch_size`` (a pass's last batch may be smaller; no batch spans two passes)."""
    batches = []
    for _ in range(passes):
        order = torch.randperm(num_rows, generator=generator).tolist()
        batches.extend(order[i : i + batch_size] for i in range(0, num_rows, batch_size))
    return batches


def pass_end_batches(batch_lengths: list[int], pass_rows: int) -> set[int]:
    """The indices of the batches (of ``batch_lengths`` rows, in order) that end a pass of ``pass_rows`` rows."""
    seen, ends = 0, set()
    for index, length in enumerate(batch_lengths):
        seen += length
        if seen % pass_rows == 0:
            ends.add(index)
    return ends


@torch.no_grad()
def held_out_loss(
    process, trajectory: Trajectory, pairs: torch.Tensor, config, reward_temperature: float, reference=None
) -> float:
    """Mean M-step loss (``config.distill``, batches of ``config.batch_size``) over the held-out
    transitions ``pairs [N, 2]`` of ``trajectory``, with ``process.network`` in eval mode."""
    total, count = 0.0, 0
    with eval_mode(process.network):
        for chunk in pairs.split(config.batch_size):
            transitions = transition_batch(trajectory, chunk, reward_temperature)
            loss, _ = distill_loss(process, transitions, config.distill, reference)
            total, count = total + float(loss) * len(chunk), count + len(chunk)
    return total / max(count, 1)


class HeldOutStopper:
    """Early stopping of one M-step on held-out transitions.

    ``held_out_loss()`` scores the current weights; ``batch_lengths`` are the epoch's batch sizes in
    order, so the stopper knows which batch ends a pass of ``pass_rows`` rows. ``meter`` (optional)
    measures how far the M-step moved the model on the same held-out transitions (``finish``)."""

    def __init__(
        self, held_out_loss: Callable[[], float], batch_lengths: list[int], pass_rows: int, patience: int,
        meter: MoveMeter | None = None,
    ):  # fmt: skip
        if patience < 1:
            raise ValueError(f"patience must be ≥ 1; got {patience}")
        self._loss, self.meter = held_out_loss, meter
        self._pass_ends = pass_end_batches(batch_lengths, pass_rows)
        self._last = len(batch_lengths) - 1
        self.patience = patience
        self.stopped = False

    def start(self, model: torch.nn.Module) -> None:
        if self.meter is not None:
            self.meter.start(model)
        self.initial = self.best_loss = self._loss()
        self.best_state, self.best_pass, self.passes, self._bad = copy_state(model), 0, 0, 0
        self.stopped = False

    def after_batch(self, model: torch.nn.Module, batch_index: int) -> None:
        if batch_index not in self._pass_ends or self.stopped:
            return
        self.passes += 1
        loss = self._loss()
        if loss < self.best_loss:
            self.best_loss, self.best_state, self.best_pass, self._bad = loss, copy_state(model), self.passes, 0
        else:
            self._bad += 1
        if self._bad >= self.patience or batch_index == self._last:
            if self.best_pass != self.passes:
                model.load_state_dict(self.best_state)
            self.stopped = True

    def log(self) -> dict[str, float]:
        return {
            "mstep/heldout_initial": self.initial,
            "mstep/heldout_best": self.best_loss,
            "mstep/passes": float(self.passes),
            "mstep/best_pass": float(self.best_pass),
        }

    def finish(self, model: torch.nn.Module, max_move: float | None) -> dict[str, float]:
        """After the M-step: with a meter, its move measured and shrunk to ``max_move`` nats per path
        (``dnadav.core.move_limit.limit_move``); returns what to log (``log()`` and the move's record)."""
        return {**self.log(), **({} if self.meter is None else limit_move(model, self.meter, max_move))}


class BestKeeper:
    """The best iteration by ``select(record) -> score or None`` (None: ineligible), with its weights."""

    def __init__(self, select: Callable[[dict[str, float]], float | None], stop_patience: int):
        if stop_patience < 1:
            raise ValueError(f"stop_patience must be ≥ 1; got {stop_patience}")
        self._select, self.stop_patience = select, stop_patience
        self.iteration: int | None = None  # 1-based EM iteration kept
        self.score = -math.inf
        self.weights: dict[str, torch.Tensor] | None = None
        self.optimizer_state: dict | None = None  # the optimiser's state after the kept iteration
        self._since_eligible: int | None = None  # iterations since the last eligible one

    def consider(
        self, iteration: int, record: dict[str, float], model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None
    ) -> dict[str, float]:
        """Score iteration ``iteration`` (1-based) from its ``record``, keeping the model's weights (and the
        optimiser's state, for backtracking) when it is the best so far; returns what to log."""
        score = self._select(record)
        if score is None:
            self._since_eligible = None if self._since_eligible is None else self._since_eligible + 1
        else:
            self._since_eligible = 0
            if score > self.score:
                self._keep(iteration, score, model, optimizer)
        return {"select/eligible": float(score is not None), "select/kept_iteration": float(self.iteration or 0)}

    def _keep(self, iteration: int, score: float, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None) -> None:
        self.iteration, self.score = iteration, score
        self.weights = cpu_copy(model.state_dict())
        self.optimizer_state = None if optimizer is None else cpu_copy(optimizer.state_dict())

    def keep_start(
        self, record: dict[str, float], model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None
    ) -> dict[str, float]:
        """Judge the model a run starts from (``record``: its judge's record) before iteration 1: when eligible it is
        kept as iteration 0 (weights and optimiser state) and counts as eligible for the stopping rule; returns what
        to log with iteration 1 (``select/start_eligible``, read back by ``backtrack_plan``)."""
        score = self._select(record)
        if score is not None:
            self._keep(0, score, model, optimizer)
            self._since_eligible = 0
        return {"select/start_eligible": float(score is not None)}

    def should_stop(self) -> bool:
        return self._since_eligible is not None and self._since_eligible >= self.stop_patience

    def state(self) -> dict:
        return {
            "iteration": self.iteration,
            "score": self.score,
            "weights": self.weights,
            "optimizer": self.optimizer_state,
            "since": self._since_eligible,
        }

    def load(self, state: dict) -> None:
        self.iteration, self.score, self.weights = state["iteration"], state["score"], state["weights"]
        self.optimizer_state = state.get("optimizer")  # absent in checkpoints written before backtracking
        self._since_eligible = state["since"]


def backtrack_plan(history: list[dict[str, float]]) -> tuple[int | None, int]:
    """What backtracking does before the next iteration, from the records of the iterations so far
    (their ``select/eligible`` and ``select/kept_iteration``): (the 1-based iteration whose weights the
    next E-step restarts from — the kept one, when the last iteration was rejected — or None to go on
    from the current model; how many iterations the rule has rejected since the first eligible one,
    so the trust region's step is ``target_kl / 2**rejected``). Iterations before the first eligible
    one are never undone — there is nothing to go back to — unless the start was judged eligible
    (``select/start_eligible`` in iteration 1's record, ``BestKeeper.keep_start``): then it is iteration 0, and
    the restart may be 0."""
    flags = [record.get("select/eligible") for record in history]
    start = bool(history) and history[0].get("select/start_eligible") == 1.0
    if 1.0 not in flags and not start:
        return None, 0
    rejected = sum(1 for flag in flags[0 if start else flags.index(1.0) + 1 :] if flag == 0.0)
    kept = int(history[-1].get("select/kept_iteration", 0))
    return (kept if flags[-1] == 0.0 and (kept > 0 or start) else None), rejected  # kept 0: the start, if judged


def judge_start(
    best: BestKeeper, model: torch.nn.Module, optimizer: torch.optim.Optimizer, evaluate, generator: torch.Generator
) -> dict[str, float]:
    """``EMConfig.backtrack_start``: the model a run starts from, judged by ``evaluate(model, generator)`` (the
    per-iteration judge) in eval mode and handed to ``best.keep_start``; returns what to log with iteration 1.
    torch's global random streams are left as they were, so the run after it draws as a run without it."""
    if evaluate is None:
        raise ValueError("backtrack_start judges the start with the per-iteration judge: pass evaluate=")
    device = next(model.parameters()).device
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), eval_mode(model):
        record = evaluate(model, generator)
    return best.keep_start(record, model, optimizer)


def restore_kept(
    best: BestKeeper, model: torch.nn.Module, optimizer: torch.optim.Optimizer, broadcast: Callable[[object], object]
) -> None:
    """Put the kept iteration's weights and optimiser state back into ``model`` and ``optimizer``.
    ``best`` is filled on rank 0 only; ``broadcast(value)`` hands rank 0's value to every rank."""
    model.load_state_dict(broadcast(best.weights))
    state = broadcast(best.optimizer_state)
    if state is not None:  # None: a run resumed from a checkpoint written before backtracking kept it
        # a copy: the optimiser updates the tensors it loads in place, and the kept state must not drift
        optimizer.load_state_dict(cpu_copy(state))


def held_out_passes(
    trajectory: Trajectory, fraction: float, config, loss_of: Callable[[torch.Tensor], float], generator: torch.Generator,
    meter_of: Callable[[torch.Tensor], MoveMeter] | None = None, current: int | None = None,
) -> tuple[DataLoader, HeldOutStopper, torch.Tensor]:  # fmt: skip
    """Batches of at most ``config.inner_epochs`` passes over the training sequences' transitions, each
    pass shuffled on its own, the stopper that judges every pass by ``loss_of(held-out pairs)`` on
    the ``fraction`` of the E-step's sequences held out (``config``: an ``EMConfig``; ``meter_of(held-out
    pairs)`` builds the stopper's move meter) and the held-out sequences' indices. ``current``: how many
    leading sequences this iteration's E-step made (None: all); the rest are replayed ones
    (``dnadav.core.replay``), always trained on and never held out."""
    pairs = transition_pairs(trajectory)
    batch = trajectory.states.shape[1] if current is None else current
    is_current = pairs[:, 1] < batch
    train, held_out = holdout_split(pairs[is_current], batch, fraction, generator)
    train = torch.cat([train, pairs[~is_current]])
    batches = pass_batches(len(train), config.inner_epochs, config.batch_size, generator)
    meter = None if meter_of is None else meter_of(held_out)
    stopper = HeldOutStopper(lambda: loss_of(held_out), [len(b) for b in batches], len(train), config.patience, meter)
    return DataLoader(TensorDataset(train.cpu()), batch_sampler=batches), stopper, held_out[:, 1].unique()
