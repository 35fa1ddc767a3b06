"""An Aho–Corasick automaton over A/C/G/T that reaches an absorbing *dead* state as soon as the text
read so far ends with a forbidden word.

States are the prefixes of the forbidden words that do not contain a forbidden word (the trie nodes),
with failure links folded into a full transition table; every state whose text ends with a forbidden
word is merged into one dead state. After reading a sequence, the state is alive iff no forbidden word
occurs in it. A homopolymer cap h is the words A^(h+1), C^(h+1), G^(h+1), T^(h+1).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import torch

from dnadav.dna.tokens import ALPHABET

__all__ = ["SiteAutomaton", "build_automaton"]


@dataclass(frozen=True)
class SiteAutomaton:
    """``transitions [Q, 4]`` int64 (next state per base, ACGT), state 0 = start, state ``Q - 1`` = dead
    (absorbing); ``alive [Q]`` bool (False only for the dead state)."""

    transitions: torch.Tensor
    words: tuple[str, ...]

    @property
    def num_states(self) -> int:
        return self.transitions.shape[0]

    @property
    def dead(self) -> int:
        return self.num_states - 1

    @property
    def alive(self) -> torch.Tensor:
        alive = torch.ones(self.num_states, dtype=torch.bool)
        alive[self.dead] = False
        return alive

    def run(self, text: str) -> int:
        """The state after reading ``text`` (A/C/G/T) from the start state (for tests and checks)."""
        state = 0
        for char in text:
            state = int(self.transitions[state, ALPHABET.index(char)])
        return state


def build_automaton(words: list[str] | tuple[str, ...]) -> SiteAutomaton:
    """The automaton of ``words`` (concrete A/C/G/T strings, each ≥ 1 base). No words: one live state."""
    children: list[dict[int, int]] = [{}]
    terminal = [False]
    for word in words:
        node = 0
        for char in word:
            base = ALPHABET.index(char)
            if base not in children[node]:
                children.append({})
                terminal.append(False)
                children[node][base] = len(children) - 1
            node = children[node][base]
        terminal[node] = True
    count = len(children)
    goto = [[0] * 4 for _ in range(count)]
    fail = [0] * count
    queue: deque[int] = deque()
    for base in range(4):
        child = children[0].get(base)
        if child is not None:
            goto[0][base] = child
            queue.append(child)
    while queue:  # breadth-first: failure links point to shorter prefixes, already finished
        node = queue.popleft()
        terminal[node] = terminal[node] or terminal[fail[node]]
        for base in range(4):
            child = children[node].get(base)
            if child is None:
                goto[node][base] = goto[fail[node]][base]
            else:
                fail[child] = goto[fail[node]][base]
                goto[node][base] = child
                queue.append(child)
    live = [n for n in range(count) if not terminal[n]]
    index = {n: i for i, n in enumerate(live)}
    dead = len(live)
    table = torch.full((dead + 1, 4), dead, dtype=torch.long)
    for n in live:
        for base in range(4):
            table[index[n], base] = index.get(goto[n][base], dead)
    return SiteAutomaton(table, tuple(words))
