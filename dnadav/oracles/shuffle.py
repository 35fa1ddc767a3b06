"""Dinucleotide-preserving shuffles (Altschul & Erickson 1985), for background sequences."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["dinucleotide_shuffle"]


def _shuffle_one(sequence: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One uniformly random sequence with the same dinucleotide counts, first and last base.

    Eulerian-path method: pick a random last exit edge for every base (a random arborescence
    towards the final base), shuffle the remaining exits, then walk.
    """
    length = len(sequence)
    if length < 3:
        return sequence.copy()
    exits: list[list[int]] = [[] for _ in range(4)]
    for a, b in zip(sequence[:-1], sequence[1:]):
        exits[a].append(int(b))
    last = int(sequence[-1])
    present = [v for v in range(4) if exits[v] or v == last]
    while True:  # draw last edges until they form a tree rooted at the last base (Wilson-style rejection)
        last_edge = {v: exits[v][rng.integers(len(exits[v]))] for v in present if v != last and exits[v]}
        ok = True
        for v in last_edge:
            seen, node = set(), v
            while node != last:
                if node in seen or node not in last_edge:
                    ok = False
                    break
                seen.add(node)
                node = last_edge[node]
            if not ok:
                break
        if ok:
            break
    order: list[list[int]] = []
    for v in range(4):
        edges = list(exits[v])
        if v in last_edge:
            edges.remove(last_edge[v])
            rng.shuffle(edges)
            edges.append(last_edge[v])
        else:
            rng.shuffle(edges)
        order.append(edges)
    out = np.empty(length, dtype=sequence.dtype)
    out[0] = sequence[0]
    position = [0, 0, 0, 0]
    for i in range(1, length):
        previous = int(out[i - 1])
        out[i] = order[previous][position[previous]]
        position[previous] += 1
    return out


def dinucleotide_shuffle(tokens: torch.Tensor, generator: np.random.Generator | int = 0) -> torch.Tensor:
    """Shuffle each row of ``tokens [B, L]`` (A/C/G/T only) keeping its dinucleotide counts -> ``[B, L]``.

    A Python loop over sequences: this is offline data preparation, not a hot path.
    """
    rng = generator if isinstance(generator, np.random.Generator) else np.random.default_rng(generator)
    array = tokens.cpu().numpy()
    if array.size and array.max() > 3:
        raise ValueError("dinucleotide_shuffle takes A/C/G/T tokens only (no MASK)")
    return torch.from_numpy(np.stack([_shuffle_one(row, rng) for row in array])) if len(array) else tokens.clone()
