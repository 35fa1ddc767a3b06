"""The constrained reverse step: an exact draw from the model's per-position product distribution
conditioned on the result still being completable.

Target, for one sequence with per-position ``p_i(v)`` over v ∈ {A, C, G, T, MASK}::

    P(x_s) = ∏_i p_i(x_s,i) · 1[x_s completable] / Z,     Z = P_p(x_s completable)

``constrained_step`` chains three exact samplers (each row's draw is exact whichever made it, since
the choice never depends on a draw's value): rejection from the product itself (Z ≈ 1 for most steps
and rows; one vectorised check), the set DP of ``exact.py`` (no rejection; for the last steps, where
Z can be 1e-8), and the look-ahead rejection below for rows the DP finds too large.

Look-ahead proposal (left to right): keep the exact set F ⊆ (q, g) of states reachable
by the prefix chosen so far (a MASK in the prefix is free, so F is a set); at position i a value v is
*valid* when some state of F, reading v (MASK: any allowed base), lands in a (q, g) from which positions
i+1.. of x_t can still be completed (the ``completion_table``; positions after i not yet decided are
free, exactly as MASK would leave them). Draw v ∝ p_i(v)·valid(v), with ``Z_i = Σ_v p_i(v)·valid(v)``.
Every proposal is completable, and ``q(x_s) = P(x_s)·Z / ∏_i Z_i`` — so accepting a proposal with
probability ``∏_i Z_i`` (≤ 1) makes the accepted draw exactly ``P`` (rejection sampling with bound 1;
acceptance rate Z). ``∏_i Z_i`` of an independent proposal is an unbiased estimate of Z.
Rejected sequences are proposed again, all pending ones together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from dnadav.constraints.exact import build
from dnadav.constraints.reach import ReachSpace, completable_rows, completion_table, contains_start
from dnadav.core.gumbel import gumbel_argmax
from dnadav.core.gumbel import gumbel_noise as _gumbel
from dnadav.dna.tokens import MASK_INDEX, NUM_BASES

__all__ = ["StepStats", "propose", "constrained_step"]


@dataclass
class StepStats:
    """Accounting of the last ``constrained_step``: proposals made, rows accepted only at the cap."""

    proposals: int = 0
    capped_rows: int = 0


def propose(
    space: ReachSpace,
    table: torch.Tensor,
    step_log_probs: torch.Tensor,
    generator: torch.Generator | None,
    given: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One look-ahead proposal for every row: ``(x_s [N, L], log p(x_s) [N], log ∏ Z_i [N])``.

    ``table [L+1, Q, N, W]`` is ``completion_table`` of each row's x_t; ``step_log_probs [N, L, 5]``.
    With ``given [N, L]`` the choices are those values instead (to score a proposal:
    ``log q(given) = log p − log ∏ Z_i``, −inf where a value is not valid)."""
    n, length, _ = step_log_probs.shape
    device = step_log_probs.device
    reach = space.start(n, device)
    keep = torch.where(space.allowed.to(device), -1, 0)[:, :, None, None, None]  # [L, 4, 1, 1, 1]
    x_s = torch.empty(n, length, dtype=torch.long, device=device)
    log_p = torch.zeros(n, dtype=step_log_probs.dtype, device=device)
    log_z = torch.zeros(n, dtype=step_log_probs.dtype, device=device)
    noise = _gumbel((n, length, NUM_BASES + 1), generator, device) if given is None else None
    rows = torch.arange(n, device=device)
    for i in range(length):  # the one loop over positions
        pulled = space.pull(table[i + 1]) & keep[i]  # [4, Q, N, W]
        valid_base = (reach[None] & pulled).ne(0).any(dim=-1).any(dim=1).T  # [N, 4]
        valid = torch.cat([valid_base, valid_base.any(dim=-1, keepdim=True)], dim=-1)  # MASK: any base
        row = step_log_probs[:, i]
        masked = torch.where(valid, row, torch.full_like(row, float("-inf")))
        log_z = log_z + torch.logsumexp(masked, dim=-1).clamp(max=0.0)
        choice = (masked + noise[:, i]).argmax(dim=-1) if given is None else given[:, i]
        x_s[:, i] = choice
        log_p = log_p + masked[rows, choice]
        pick = torch.where(
            (choice == MASK_INDEX)[:, None],
            space.allowed[i].to(device)[None].expand(n, -1),
            torch.nn.functional.one_hot(choice.clamp(max=NUM_BASES - 1), NUM_BASES).bool(),
        )
        pushed = space.push(reach) & torch.where(pick, -1, 0).T[:, None, :, None]  # [4, Q, N, W]
        reach = pushed[0] | pushed[1] | pushed[2] | pushed[3]
    return x_s, log_p, log_z


def _group_rows(step_log_probs: torch.Tensor, rows: torch.Tensor) -> dict[bytes, list[int]]:
    """Rows with identical step distributions (E-step children share a parent) -> one group each."""
    groups: dict[bytes, list[int]] = {}
    for row in rows.tolist():
        groups.setdefault(step_log_probs[row].cpu().numpy().tobytes(), []).append(row)
    return groups


def constrained_step(
    space: ReachSpace,
    step_log_probs: torch.Tensor,
    x_t: torch.Tensor,
    generator: torch.Generator | None,
    max_proposals: int = 1000,
    stats: StepStats | None = None,
    product_rounds: int = 3,
    max_nodes: int = 4096,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x_s [N, L], log_prob [N])``: exact draws from the target of the module docstring, by three
    exact samplers tried in turn (each row's output is exact whichever one produced it):

    1. plain rejection: draw from the product, keep the completable draws (acceptance Z; cheap, one
       vectorised check) — up to ``product_rounds`` rounds for the rows still pending;
    2. the set DP of ``exact.py`` (no rejection) for each distinct pending row with ≤ ``max_nodes``
       reachable sets — the last steps, where Z can be 1e-8;
    3. the look-ahead rejection of the module docstring for the rest.

    ``log_prob`` is ``log p(x_s) − log Ẑ``: Ẑ = Z exactly for rows drawn by the set DP, the first
    look-ahead proposal's ``∏ Z_i`` (unbiased) for rows drawn by 3, and 1 / (product draws made) for
    rows accepted in 1 (the sampler does not use it). Rows of ``x_t`` must be completable.
    A row still rejected after ``max_proposals`` look-ahead proposals keeps its last (completable)
    proposal; ``stats`` counts proposals (product rounds count one each) and such rows."""
    n, device = x_t.shape[0], x_t.device
    x_s = x_t.clone()
    log_z = torch.zeros(n, dtype=step_log_probs.dtype, device=device)
    pending = torch.ones(n, dtype=torch.bool, device=device)
    proposals = 0
    for _ in range(product_rounds):
        rows = torch.nonzero(pending).flatten()
        if len(rows) == 0:
            break
        draw = gumbel_argmax(step_log_probs[rows], generator)
        ok = completable_rows(space, draw)
        proposals += 1
        x_s[rows[ok]] = draw[ok]
        log_z[rows[ok]] = -math.log(proposals)
        pending[rows[ok]] = False
    capped = 0
    if bool(pending.any()):
        for members in _group_rows(step_log_probs, torch.nonzero(pending).flatten()).values():
            dp = build(space, step_log_probs[members[0]], max_nodes)
            if dp is None:
                continue
            if dp.log_z == -math.inf:
                raise ValueError(f"x_t row {members[0]} cannot be completed under the constraints (start from initial_state)")
            uniforms = torch.rand(len(members), len(dp.free), generator=generator, dtype=torch.float64, device=device)
            x_s[members] = dp.sample(uniforms).to(device)
            log_z[members] = dp.log_z
            pending[members] = False
    if bool(pending.any()):
        rows = torch.nonzero(pending).flatten()
        sub_x, sub_log_z, used, capped = _lookahead_step(space, step_log_probs[rows], x_t[rows], generator, max_proposals)
        x_s[rows], log_z[rows] = sub_x, sub_log_z
        proposals += used
    if stats is not None:
        stats.proposals += proposals
        stats.capped_rows += capped
    log_p = step_log_probs.gather(-1, x_s[..., None]).squeeze(-1).sum(-1)
    return x_s, log_p - log_z


def _lookahead_step(
    space: ReachSpace, step_log_probs: torch.Tensor, x_t: torch.Tensor, generator: torch.Generator | None, max_proposals: int
) -> tuple[torch.Tensor, torch.Tensor, int, int]:
    """The look-ahead rejection sampler: ``(x_s, log Ẑ, proposals, rows capped)``."""
    n = x_t.shape[0]
    unique, inverse = torch.unique(x_t, dim=0, return_inverse=True)
    table = completion_table(space, unique).index_select(2, inverse)
    ok = contains_start(table)
    if not bool(ok.all()):
        bad = torch.nonzero(~ok).flatten().tolist()
        raise ValueError(f"x_t rows {bad[:10]} cannot be completed under the constraints (start from initial_state)")
    x_s, _, log_z = propose(space, table, step_log_probs, generator)
    first_log_z = log_z
    pending = torch.rand(n, generator=generator, device=x_t.device).log() >= log_z  # rejected rows
    proposals = 1
    while bool(pending.any()) and proposals < max_proposals:
        rows = torch.nonzero(pending).flatten()
        again, _, again_log_z = propose(space, table[:, :, rows], step_log_probs[rows], generator)
        x_s[rows] = again
        accepted = torch.rand(len(rows), generator=generator, device=x_t.device).log() < again_log_z
        pending[rows[accepted]] = False
        proposals += 1
    return x_s, first_log_z, proposals, int(pending.sum())
