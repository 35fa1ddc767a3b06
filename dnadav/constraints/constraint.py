"""``SequenceConstraint``: the compiled constraints the sampler calls, for one sequence length.

Forbidden sites (both strands) and the homopolymer cap become one Aho–Corasick automaton
(``automaton.py``); the GC bounds a count dimension; prefix / suffix / template a per-position set of
allowed bases. ``sample_step`` is the hook of the reverse process (``step.py``), ``initial_state`` the
first state, ``violations`` the audit of finished sequences, ``completable`` the per-sequence check.
"""

from __future__ import annotations

import math

import torch

from dnadav.constraints.automaton import SiteAutomaton, build_automaton
from dnadav.constraints.reach import ReachSpace, completion_table, contains_start
from dnadav.constraints.sites import iupac_rows, site_words
from dnadav.constraints.step import StepStats, constrained_step
from dnadav.dna.tokens import ALPHABET, MASK_INDEX, NUM_BASES
from dnadav.errors import InputError

__all__ = ["SequenceConstraint"]


class SequenceConstraint:
    """Hard constraints for sequences of ``length`` (built by ``ConstraintSpec.compile``).

    Raises InputError at construction when no sequence of this length satisfies them all."""

    def __init__(self, spec, length: int, max_proposals: int = 1000):
        if length < 1:
            raise InputError(f"sequence length must be ≥ 1; got {length}")
        self.spec, self.length, self.max_proposals = spec, int(length), int(max_proposals)
        self.allowed = self._template(spec, self.length)
        words = site_words(spec.forbid)
        if spec.max_homopolymer and spec.max_homopolymer < self.length:  # a cap ≥ the length forbids nothing
            words = sorted(set(words) | {b * (spec.max_homopolymer + 1) for b in ALPHABET})
        self.automaton: SiteAutomaton = build_automaton(words)
        if spec.gc is not None:
            lo = math.ceil(spec.gc[0] * self.length - 1e-9)
            hi = math.floor(spec.gc[1] * self.length + 1e-9)
            if lo > hi:
                raise InputError(
                    f"--gc {spec.gc[0]:g}:{spec.gc[1]:g}: no whole number of G/C bases of {self.length} lies in the range"
                )
            self.gc_counts: tuple[int, int] | None = (lo, hi)
        else:
            self.gc_counts = None
        self.space = ReachSpace(
            transitions=self.automaton.transitions,
            lo=self.gc_counts[0] if self.gc_counts else 0,
            hi=self.gc_counts[1] if self.gc_counts else 0,
            counts_gc=self.gc_counts is not None,
            allowed=self.allowed,
        )
        self.stats = StepStats()
        self._check_satisfiable()

    # --- construction -------------------------------------------------------------------------
    @staticmethod
    def _template(spec, length: int) -> torch.Tensor:
        allowed = torch.ones(length, NUM_BASES, dtype=torch.bool)
        if spec.template:
            if len(spec.template) != length:
                raise InputError(f"--template has {len(spec.template)} letters; the sequences have {length}")
            allowed &= iupac_rows(spec.template)
        for name, text, start in (("--prefix", spec.prefix, 0), ("--suffix", spec.suffix, length - len(spec.suffix))):
            if len(text) > length:
                raise InputError(f"{name} has {len(text)} letters; the sequences have {length}")
            if text:
                allowed[start : start + len(text)] &= iupac_rows(text)
        empty = torch.nonzero(~allowed.any(dim=-1)).flatten()
        if len(empty):
            raise InputError(
                "constraints unsatisfiable: --prefix/--suffix/--template disagree at position "
                f"{int(empty[0]) + 1} (no base allowed)"
            )
        return allowed

    def _check_satisfiable(self) -> None:
        start = self.initial_state(1)
        if bool(self.completable(start)[0]):
            return
        reasons = []
        fixed_only = self.allowed.sum(-1) == 1
        if self.gc_counts is not None:
            can_gc = self.allowed[:, 1:3].any(-1)
            must_gc = ~self.allowed[:, [0, 3]].any(-1)
            lo, hi = self.gc_counts
            if int(can_gc.sum()) < lo or int(must_gc.sum()) > hi:
                reasons.append(
                    f"GC {lo}–{hi} of {self.length} is out of reach of the fixed positions "
                    f"({int(must_gc.sum())}–{int(can_gc.sum())} G/C possible)"
                )
        if not reasons and bool(fixed_only.all()):
            reasons.append("the fixed sequence itself contains a forbidden site or homopolymer")
        detail = (
            reasons[0]
            if reasons
            else ("no sequence satisfies the forbidden sites, homopolymer cap, GC bounds and fixed positions together")
        )
        raise InputError(f"constraints unsatisfiable for length {self.length}: {detail}")

    # --- the sampler's hooks ------------------------------------------------------------------
    def initial_state(self, n: int, length: int | None = None) -> torch.Tensor:
        """``x [n, L]`` int64: positions the template fixes to one base are filled, the rest MASK."""
        if length is not None and length != self.length:
            raise ValueError(f"constraints were compiled for length {self.length}; got {length}")
        fixed = self.allowed.sum(-1) == 1
        row = torch.where(fixed, self.allowed.to(torch.long).argmax(-1), torch.full((self.length,), MASK_INDEX))
        return row[None].repeat(n, 1)

    def completable(self, x: torch.Tensor) -> torch.Tensor:
        """``[N]`` bool: can the MASK positions of ``x [N, L]`` be filled to satisfy every constraint?
        (Non-MASK positions must be A/C/G/T.) The per-sequence satisfiability report."""
        self._check_shape(x)
        unique, inverse = torch.unique(x, dim=0, return_inverse=True)
        return contains_start(completion_table(self.space, unique))[inverse]

    def check(self, x: torch.Tensor) -> None:
        """Raise one InputError line naming the rows of ``x [N, L]`` that cannot be completed."""
        ok = self.completable(x)
        if not bool(ok.all()):
            bad = (torch.nonzero(~ok).flatten() + 1).tolist()
            shown = ", ".join(map(str, bad[:10])) + (" …" if len(bad) > 10 else "")
            raise InputError(f"constraints unsatisfiable for {len(bad)} of {len(ok)} sequences (#{shown})")

    def sample_step(
        self, step_log_probs: torch.Tensor, x_t: torch.Tensor, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One constrained reverse step for all sequences: ``step_log_probs [N, L, 5]`` (the model's
        per-position log p(x_s | x_t) over A, C, G, T, MASK; unmasked positions one-hot) and
        ``x_t [N, L]`` -> ``(x_s [N, L], log_prob [N])``: an exact draw from the product distribution
        conditioned on x_s being completable, and its log-probability under that conditioned
        distribution (normaliser estimated without bias, see ``dnadav.constraints.step``)."""
        self._check_shape(x_t)
        if step_log_probs.shape != (*x_t.shape, NUM_BASES + 1):
            raise ValueError(
                f"step_log_probs must be [N, L, 5] = {(*x_t.shape, NUM_BASES + 1)}; got {tuple(step_log_probs.shape)}"
            )
        return constrained_step(self.space, step_log_probs, x_t, generator, self.max_proposals, self.stats)

    def violations(self, tokens: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-sequence counts ``[N]`` int64 for finished ``tokens [N, L]`` (see ``audit``)."""
        from dnadav.constraints.audit import count_violations

        return count_violations(self, tokens)

    def _check_shape(self, x: torch.Tensor) -> None:
        if x.dim() != 2 or x.shape[1] != self.length:
            raise ValueError(f"expected tokens [N, {self.length}]; got {tuple(x.shape)}")

    def __repr__(self) -> str:
        return f"SequenceConstraint(length={self.length}, {self.spec.as_dict()}, states={self.automaton.num_states})"
