"""Exact reachability over (automaton state q, GC count g): which partial sequences can be completed.

A partial sequence ``x [N, L]`` (A/C/G/T = 0..3, MASK = 4 = free) is *completable* when some filling of
its free positions, with bases the template allows, gives a sequence whose automaton path never
reaches the dead state and whose G+C count lies in ``[lo, hi]``. ``completion_table`` computes, by one
backward pass over positions (a loop over L, vectorised over sequences, states and counts),

    B[n, i, q, g] = True  iff  positions i..L-1 of x[n] can be filled so that, entering position i in
                               state q with g G/C bases so far, the sequence ends alive with lo ≤ total ≤ hi.

Counts above ``hi`` are never completable, so g runs over 0..hi (``G = hi + 1`` values; 1 when there is
no GC bound). Sets over g are **bit-packed** into ``W = ceil(G / 64)`` int64 words (bit g of word
g // 64); a batch of sets of (q, g) is laid out state-major, ``[Q, N, W]`` int64, so that moving sets
along the automaton is a row gather; a GC base is a one-bit shift.
``pull`` and ``push`` move such sets across one position (backward and forward).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from dnadav.dna.tokens import MASK_INDEX, NUM_BASES

__all__ = [
    "ReachSpace",
    "allowed_bases",
    "completable_rows",
    "completion_table",
    "contains_start",
    "pack_counts",
    "unpack_counts",
]

_LOW63 = (1 << 63) - 1  # all bits but the sign bit: makes >> logical


def pack_counts(dense: torch.Tensor) -> torch.Tensor:
    """``[..., G]`` bool -> ``[..., ceil(G/64)]`` int64 bit sets."""
    g = dense.shape[-1]
    words = (g + 63) // 64
    padded = torch.zeros(*dense.shape[:-1], words * 64, dtype=torch.long, device=dense.device)
    padded[..., :g] = dense.long()
    weights = torch.ones(64, dtype=torch.long, device=dense.device) << torch.arange(64, device=dense.device)
    return (padded.reshape(*dense.shape[:-1], words, 64) * weights).sum(-1)


def unpack_counts(packed: torch.Tensor, num_counts: int) -> torch.Tensor:
    """``[..., W]`` int64 -> ``[..., num_counts]`` bool (inverse of ``pack_counts``)."""
    bits = (packed[..., None] >> torch.arange(64, device=packed.device)) & 1
    return bits.reshape(*packed.shape[:-1], -1)[..., :num_counts].bool()


@dataclass(frozen=True)
class ReachSpace:
    """The (q, g) space: ``transitions [Q, 4]`` (dead state last), GC bounds in counts, template
    ``allowed [L, 4]`` bool (bases permitted at each position)."""

    transitions: torch.Tensor
    lo: int
    hi: int
    counts_gc: bool
    allowed: torch.Tensor
    _predecessors: torch.Tensor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # predecessors[b, q', k]: the k-th state q with transitions[q, b] == q' (Q = "none", a zero row),
        # padded to a power of two so the OR over k is a halving tree.
        q = self.num_states
        lists = [[[] for _ in range(q)] for _ in range(NUM_BASES)]
        for state in range(q):
            for base in range(NUM_BASES):
                lists[base][int(self.transitions[state, base])].append(state)
        width = max(len(p) for per_base in lists for p in per_base)
        width = 1 << max(0, (width - 1).bit_length())
        table = torch.full((NUM_BASES, q, width), q, dtype=torch.long)
        for base in range(NUM_BASES):
            for target, sources in enumerate(lists[base]):
                table[base, target, : len(sources)] = torch.tensor(sources, dtype=torch.long)
        object.__setattr__(self, "_predecessors", table)

    @property
    def num_states(self) -> int:
        return self.transitions.shape[0]

    @property
    def num_counts(self) -> int:
        return self.hi + 1 if self.counts_gc else 1

    @property
    def num_words(self) -> int:
        return (self.num_counts + 63) // 64

    @property
    def length(self) -> int:
        return self.allowed.shape[0]

    def _gc_bases(self, device) -> torch.Tensor:
        return torch.tensor([False, self.counts_gc, self.counts_gc, False], device=device)

    def _top_mask(self, device) -> torch.Tensor:
        """``[W]`` int64: the bits that stand for counts 0..G-1."""
        dense = torch.ones(self.num_counts, dtype=torch.bool, device=device)
        return pack_counts(dense)

    def final(self, batch: int, device) -> torch.Tensor:
        """``B[L]`` ``[Q, N, W]``: alive and the count ≥ lo."""
        alive = torch.ones(self.num_states, dtype=torch.bool, device=device)
        alive[-1] = False
        enough = torch.arange(self.num_counts, device=device) >= (self.lo if self.counts_gc else 0)
        return pack_counts(alive[:, None] & enough[None, :])[:, None, :].expand(-1, batch, -1)

    def start(self, batch: int, device) -> torch.Tensor:
        """The set {(start state, count 0)} ``[Q, N, W]``."""
        reach = torch.zeros(self.num_states, batch, self.num_words, dtype=torch.long, device=device)
        reach[0, :, 0] = 1
        return reach

    def pull(self, after: torch.Tensor) -> torch.Tensor:
        """``after [Q, N, W]`` (sets at position i+1) -> ``[4, Q, N, W]``: for each base b, the (q, g)
        at position i from which reading b lands in ``after``."""
        q, n, w = after.shape
        index = self.transitions.to(after.device).T.reshape(-1)  # [4Q], b-major
        pulled = after.index_select(0, index).reshape(NUM_BASES, q, n, w)
        if not self.counts_gc:
            return pulled
        # count g at i is count g+1 at i+1: shift every set down by one bit, carrying across words
        carry = torch.cat([pulled[..., 1:] & 1, torch.zeros_like(pulled[..., :1])], dim=-1) << 63
        shifted = ((pulled >> 1) & _LOW63) | carry
        return torch.where(self._gc_bases(after.device)[:, None, None, None], shifted, pulled)

    def push(self, before: torch.Tensor) -> torch.Tensor:
        """``before [Q, N, W]`` -> ``[4, Q, N, W]``: for each base b, the sets reached by reading b."""
        q, n, w = before.shape
        padded = torch.cat([before, torch.zeros_like(before[:1])], dim=0)  # row Q = empty
        gathered = padded.index_select(0, self._predecessors.to(before.device).reshape(-1)).reshape(NUM_BASES, q, -1, n, w)
        while gathered.shape[2] > 1:  # OR over the predecessors, halving
            half = gathered.shape[2] // 2
            gathered = gathered[:, :, :half] | gathered[:, :, half:]
        pushed = gathered[:, :, 0]
        if not self.counts_gc:
            return pushed
        carry = torch.cat([torch.zeros_like(pushed[..., :1]), (pushed[..., :-1] >> 63) & 1], dim=-1)
        shifted = ((pushed << 1) | carry) & self._top_mask(before.device)  # counts > hi drop out
        return torch.where(self._gc_bases(before.device)[:, None, None, None], shifted, pushed)


def allowed_bases(space: ReachSpace, x: torch.Tensor) -> torch.Tensor:
    """``[N, L, 4]`` bool: the bases each position of ``x [N, L]`` may still take (template ∧ x)."""
    free = (x == MASK_INDEX)[..., None]
    own = torch.nn.functional.one_hot(x.clamp(max=NUM_BASES - 1), NUM_BASES).bool()
    return space.allowed.to(x.device)[None] & (free | own)


def completion_table(space: ReachSpace, x: torch.Tensor) -> torch.Tensor:
    """``B [L + 1, Q, N, W]`` packed bit sets for partial sequences ``x [N, L]`` (module docstring)."""
    n, length = x.shape
    table = torch.empty(length + 1, space.num_states, n, space.num_words, dtype=torch.long, device=x.device)
    table[length] = space.final(n, x.device)
    # [L, 4, 1, N, 1]: an all-ones word where the base is allowed
    keep = torch.where(allowed_bases(space, x), -1, 0).permute(1, 2, 0)[:, :, None, :, None]
    for i in range(length - 1, -1, -1):  # the one loop over positions
        pulled = space.pull(table[i + 1]) & keep[i]
        table[i] = pulled[0] | pulled[1] | pulled[2] | pulled[3]
    return table


def completable_rows(space: ReachSpace, x: torch.Tensor) -> torch.Tensor:
    """``[N]`` bool: ``contains_start(completion_table(space, x))`` without keeping the table.

    One backward pass; per position the A/T rows are gathered as they are and the C/G rows OR-ed
    first and shifted once (the per-row keep masks are all-ones or zero, so they commute with it)."""
    n, length = x.shape
    after = space.final(n, x.device).contiguous()
    keep = torch.where(allowed_bases(space, x), -1, 0).permute(1, 2, 0)[:, :, None, :, None]  # [L, 4, 1, N, 1]
    q = space.num_states
    index = space.transitions.to(x.device).T.reshape(-1)  # [4Q], b-major
    for i in range(length - 1, -1, -1):
        pulled = after.index_select(0, index).reshape(NUM_BASES, q, n, -1) & keep[i]
        plain, gc = pulled[0] | pulled[3], pulled[1] | pulled[2]
        if space.counts_gc:
            carry = torch.cat([gc[..., 1:] & 1, torch.zeros_like(gc[..., :1])], dim=-1) << 63
            gc = ((gc >> 1) & _LOW63) | carry
        after = plain | gc
    return (after[0, :, 0] & 1) != 0


def contains_start(table: torch.Tensor) -> torch.Tensor:
    """``[N]`` bool: is (start state, count 0) completable, i.e. is the whole sequence completable?"""
    return (table[0, 0, :, 0] & 1) != 0
