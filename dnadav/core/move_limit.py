"""The M-step's trust region: how far one M-step moved the model, and shrinking that move to a bound.

The E-step's trust region (``dnadav.core.trust_region``) bounds how far the *search's target* lies from
the current model; nothing bounds how far the M-step then moves the model toward it, which is decided
by the number of passes the held-out loss allows. ``move(θ)`` measures that:

    move(θ) = mean over held-out E-step sequences of Σ_t KL(p_θ(· | x_t) ‖ p_θ0(· | x_t))   [nats per path]

at the states ``x_t`` the search visited on those sequences, with θ0 the weights the M-step started
from; each step's KL is the process's exact ``divergence`` (for masked DNA the unmasking probability
times the KL of the x̂0 predictions at the masked positions). When the fitted weights θ* move further
than ``max_move``, ``limit_move`` keeps ``θ0 + s·(θ* − θ0)`` with the largest ``s`` in [0, 1] whose move
is within ``max_move``, found by bisection — a backtracking line search in parameter space, as in TRPO.
So every iteration moves the model by at most the same measured amount whatever the learning rate,
the number of passes or the cell type, and the validation-floor selection chooses between nearby
models (docs/concepts.md, "An M-step trust region").
"""

from __future__ import annotations

import math

import torch

from dnadav.core.distill import transition_batch
from dnadav.core.modes import eval_mode
from dnadav.core.state import copy_state
from dnadav.core.trajectory import Trajectory

__all__ = ["MoveMeter", "interpolate_weights", "limit_move"]


class MoveMeter:
    """Measures ``move(θ)`` of ``process.network`` on the held-out transitions ``pairs [N, 2]`` (step,
    sequence) of ``trajectory``, against the weights it had when ``start`` was called."""

    def __init__(self, process, trajectory: Trajectory, pairs: torch.Tensor, batch_size: int):
        if len(pairs) == 0:
            raise ValueError("the M-step's move is measured on held-out transitions: none were given")
        self.process, self.trajectory, self.batch_size = process, trajectory, batch_size
        self.pairs = pairs
        self.num_paths = int(pairs[:, 1].unique().numel())
        self.start_state: dict[str, torch.Tensor] | None = None
        self._start_predictions: list[torch.Tensor] = []

    @torch.no_grad()
    def _predictions(self) -> list[torch.Tensor]:
        with eval_mode(self.process.network):
            return [self.process.predict(b.x_t, b.t, b.context) for b in self._batches()]

    def _batches(self):
        for chunk in self.pairs.split(self.batch_size):
            yield transition_batch(self.trajectory, chunk)

    def start(self, model: torch.nn.Module) -> None:
        """Record the starting weights θ0 and their predictions at the held-out states."""
        self.start_state = copy_state(model)
        self._start_predictions = self._predictions()

    @torch.no_grad()
    def move(self) -> float:
        """``move(θ)`` of the network's current weights, nats per path."""
        if self.start_state is None:
            raise RuntimeError("MoveMeter.move before start")
        total = 0.0
        with eval_mode(self.process.network):
            for batch, reference in zip(self._batches(), self._start_predictions, strict=True):
                prediction = self.process.predict(batch.x_t, batch.t, batch.context)
                total += float(self.process.divergence(prediction, reference, batch.x_t, batch.t, batch.s).sum())
        return total / self.num_paths


def interpolate_weights(model: torch.nn.Module, start: dict, fitted: dict, scale: float) -> None:
    """Load ``start + scale·(fitted − start)`` into ``model`` (floating-point entries; others as fitted)."""
    model.load_state_dict({k: (start[k] + scale * (v - start[k]) if v.is_floating_point() else v) for k, v in fitted.items()})


def limit_move(model: torch.nn.Module, meter: MoveMeter, max_move: float | None, bisections: int = 10) -> dict[str, float]:
    """Measure the M-step's move and, when it exceeds ``max_move`` (nats per path; None or inf: no
    bound), shrink it: ``model`` ends at the largest scale ``s`` of ``bisections`` halvings whose move is
    within ``max_move``. Returns what to log: ``mstep/move_kl`` (the move kept) and, when shrunk,
    ``mstep/move_kl_fitted`` (the fitted weights' move) and ``mstep/step_scale`` (``s``)."""
    moved = meter.move()
    if max_move is None or not math.isfinite(max_move) or moved <= max_move:
        return {"mstep/move_kl": moved}
    if not max_move > 0:
        raise ValueError(f"max_move must be > 0 nats per path; got {max_move}")
    fitted = copy_state(model)
    low, low_move, high = 0.0, 0.0, 1.0
    for _ in range(bisections):
        middle = (low + high) / 2
        interpolate_weights(model, meter.start_state, fitted, middle)
        middle_move = meter.move()
        if middle_move <= max_move:
            low, low_move = middle, middle_move
        else:
            high = middle
    interpolate_weights(model, meter.start_state, fitted, low)
    return {"mstep/move_kl": low_move, "mstep/move_kl_fitted": moved, "mstep/step_scale": low}
