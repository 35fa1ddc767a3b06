"""Exact draws from the constrained step by dynamic programming over reachable *sets* (few free positions).

The target of one step (``step.py``) is ``∏_i p_i(x_i) · 1[x completable]``. Reading a prefix of x
(MASK = any allowed base) from the start leaves the exact set F ⊆ (q, g) of reachable states, and
whether x is completable depends on the prefix only through F. So with ψ(F) = P_p(the rest keeps F
completable), a backward pass ``ψ_k(F) = Σ_v p(v) ψ_{k+1}(F·v)`` over the sets that actually occur,
and a forward walk choosing v ∝ p(v)·ψ_{k+1}(F·v), draw x exactly (no rejection) and give Z = ψ_0.

Only *free* positions (more than one value with p > 0) branch; a run of forced bases is one map on
single states (q -> q', g -> g + Δ). Sets are tuples of Python ints, one per live state, bit g = count g,
pruned to the counts that can still end in [lo, hi]. Feasible when few positions are free (the last
steps of sampling, where the model's product distribution rarely meets the GC bounds by itself);
``build`` returns None beyond ``max_nodes`` sets and the caller falls back to rejection.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from dnadav.constraints.reach import ReachSpace
from dnadav.dna.tokens import MASK_INDEX, NUM_BASES

__all__ = ["SetDP", "build"]


@dataclass
class SetDP:
    """The layered graph of one row: ``free`` positions, ``forced [L]`` values (−1 at free ones), per
    layer k the sets' ``children[k][node][v]`` (−1: none) and ``psi[k][node]``; ``probs [L][5]``."""

    free: list[int]
    forced: list[int]
    probs: list[list[float]]
    children: list[list[list[int]]]
    psi: list[list[float]]

    @property
    def log_z(self) -> float:
        return math.log(self.psi[0][0]) if self.psi[0][0] > 0 else -math.inf

    def sample(self, uniforms: torch.Tensor) -> torch.Tensor:
        """``uniforms [S, K]`` (K = free positions) -> ``x [S, L]``: S independent exact draws."""
        rows = []
        for draws in uniforms.tolist():
            x, node = list(self.forced), 0
            for k, position in enumerate(self.free):
                weights = [
                    self.probs[position][v] * self.psi[k + 1][c] if c >= 0 else 0.0 for v, c in enumerate(self.children[k][node])
                ]
                target, total, choice = draws[k] * sum(weights), 0.0, None
                for v, w in enumerate(weights):
                    if w > 0:
                        choice, total = v, total + w
                        if total > target:
                            break
                x[position], node = choice, self.children[k][node][choice]
            rows.append(x)
        return torch.tensor(rows, dtype=torch.long)


def build(space: ReachSpace, log_probs: torch.Tensor, max_nodes: int = 4096) -> SetDP | None:
    """The ``SetDP`` of one row's ``log_probs [L, 5]``, or None when more than ``max_nodes`` sets occur."""
    probs = log_probs.double().exp().tolist()
    length, dead = len(probs), space.num_states - 1
    step = space.transitions.tolist()
    allowed = space.allowed.tolist()
    gc = [0, int(space.counts_gc), int(space.counts_gc), 0]
    full = (1 << space.num_counts) - 1
    lo = space.lo if space.counts_gc else 0
    options = [[v for v in range(NUM_BASES + 1) if probs[i][v] > 0] for i in range(length)]
    if any(not o for o in options):  # a position with no possible value: nothing to draw (Z = 0)
        return SetDP([], [-1] * length, probs, [], [[0.0]])
    # floor[i]: counts below it entering position i cannot reach lo even if every later position is G/C
    can_gc = [
        any(v in (1, 2) or (v == MASK_INDEX and (allowed[i][1] or allowed[i][2])) for v in opts) for i, opts in enumerate(options)
    ]
    floor = [0] * (length + 1)
    floor[length] = lo
    for i in range(length - 1, -1, -1):
        floor[i] = floor[i + 1] - int(can_gc[i] and space.counts_gc)
    free = [i for i in range(length) if len(options[i]) > 1 or options[i][0] == MASK_INDEX]
    forced = [-1 if len(o) > 1 or o[0] == MASK_INDEX else o[0] for o in options]

    def run_map(start: int, stop: int) -> tuple[list[int], int]:
        qmap, shift = list(range(dead + 1)), 0
        for i in range(start, stop):
            b = forced[i]
            qmap = [step[q][b] if allowed[i][b] else dead for q in qmap]
            shift += gc[b]
        return qmap, shift

    def apply(states: list[int], qmap: list[int], shift: int, position: int) -> tuple[int, ...] | None:
        out = [0] * dead
        keep = full & ~((1 << max(floor[position], 0)) - 1)
        for q, bits in enumerate(states):
            if bits and qmap[q] != dead:
                out[qmap[q]] |= (bits << shift) & keep
        return tuple(out) if any(out) else None

    def read(states: tuple[int, ...], position: int, v: int) -> list[int]:
        bases = [b for b in range(NUM_BASES) if allowed[position][b] and (v == MASK_INDEX or b == v)]
        out = [0] * (dead + 1)
        for b in bases:
            for q, bits in enumerate(states):
                if bits:
                    out[step[q][b]] |= bits << gc[b]
        return out

    bounds = [*free, length]
    qmap, shift = run_map(0, bounds[0])
    root = apply([1] + [0] * (dead - 1) + [0], qmap, shift, bounds[0])
    if root is None:
        return SetDP(free, forced, probs, [], [[0.0]])
    layers: list[list[tuple[int, ...]]] = [[root]]
    children: list[list[list[int]]] = []
    nodes = 1
    for k, position in enumerate(free):
        qmap, shift = run_map(position + 1, bounds[k + 1])
        index: dict[tuple[int, ...], int] = {}
        layer_children = []
        for states in layers[k]:
            row = [-1] * (NUM_BASES + 1)
            for v in options[position]:
                child = apply(read(states, position, v), qmap, shift, bounds[k + 1])
                if child is not None:
                    row[v] = index.setdefault(child, len(index))
            layer_children.append(row)
        nodes += len(index)
        if nodes > max_nodes:
            return None
        children.append(layer_children)
        layers.append(list(index))
    psi = [[0.0] * len(layer) for layer in layers]
    psi[-1] = [1.0 if any(bits >> lo for bits in states) else 0.0 for states in layers[-1]]
    for k in range(len(free) - 1, -1, -1):
        p = probs[free[k]]
        psi[k] = [sum(p[v] * psi[k + 1][c] for v, c in enumerate(row) if c >= 0) for row in children[k]]
    return SetDP(free, forced, probs, children, psi)
