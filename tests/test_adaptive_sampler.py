"""The adaptive-step sampler (dnadav.dna.adaptive): bit for bit the fixed-step sampler at bound 0, and
on an enumerable toy (length 3, 64 sequences) its exact law, computed by enumerating every reachable
state with the implementation's own step and checked against an independent hand-written rule, with
the deviation from the model's joint bounded as docs/concepts.md says."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from dnadav.dna.adaptive import adaptive_step, check_bound, confident_positions, sample_adaptive
from dnadav.dna.backbone import ConvDenoiser, ConvDenoiserConfig
from dnadav.dna.masked import x0_log_probs
from dnadav.dna.sampler import sample, time_grid
from dnadav.dna.schedule import LogLinearSchedule
from dnadav.dna.tokens import MASK_INDEX
from tests.toys import ExactDenoiser, all_sequences, random_distribution

LENGTH, STEPS, EPS = 3, 4, 1e-3
SCHEDULE = LogLinearSchedule(EPS)


def _network(length: int = 16) -> ConvDenoiser:
    torch.manual_seed(0)
    config = ConvDenoiserConfig(channels=16, num_blocks=2, kernel_size=3, dilations=(1, 2), time_embedding_dim=8)
    return ConvDenoiser(config).eval()


@pytest.mark.parametrize("constrained", [False, True])
def test_bound_zero_is_the_fixed_step_sampler_bit_for_bit(constrained):
    from dnadav.constraints import spec_from_options

    constraint = spec_from_options(forbid="ACG", gc="0.3:0.7", prefix="GG").compile(16) if constrained else None
    network = _network()
    fixed = sample(network, 12, 16, 10, generator=torch.Generator().manual_seed(5), constraint=constraint, max_batch=5)
    steps: list[int] = []
    adaptive = sample_adaptive(
        network, 12, 16, 10, bound=0.0, generator=torch.Generator().manual_seed(5), constraint=constraint, max_batch=5,
        on_step=steps.append,
    )  # fmt: skip
    assert torch.equal(adaptive.tokens, fixed)
    assert (adaptive.network_rows, adaptive.network_calls, steps) == (12 * 10, 10, list(range(10)))


def test_a_positive_bound_spends_fewer_rows_and_keeps_constraints():
    from dnadav.constraints import spec_from_options

    constraint = spec_from_options(forbid="ACG", prefix="GG").compile(16)
    result = sample_adaptive(_network(), 12, 16, 10, bound=5.0, generator=torch.Generator().manual_seed(1), constraint=constraint)
    assert result.network_rows < 12 * 10 and not (result.tokens == MASK_INDEX).any()
    assert all(s.startswith("GG") and "ACG" not in s and "CGT" not in s for s in _strings(result.tokens))


def _strings(tokens: torch.Tensor) -> list[str]:
    return ["".join("ACGT"[i] for i in row) for row in tokens.tolist()]


def test_confident_set_is_the_lowest_entropy_prefix_within_the_bound():
    # entropies (nats) of the masked positions 0, 1, 3: H(1/2, 1/2) = 0.693, H(0.9, 0.1/3 ×3) = 0.394,
    # uniform = 1.386; position 2 is unmasked (its x̂0 is irrelevant)
    probs = torch.tensor([[[0.5, 0.5, 0, 0], [0.9, 0.1 / 3, 0.1 / 3, 0.1 / 3], [1, 0, 0, 0], [0.25] * 4]])
    log_x0 = torch.log(probs.clamp_min(1e-30))
    x = torch.tensor([[MASK_INDEX, MASK_INDEX, 0, MASK_INDEX]])
    h1 = -(0.9 * math.log(0.9) + 0.1 * math.log(0.1 / 3))
    assert confident_positions(log_x0, x, 0.0).tolist() == [[False] * 4]
    assert confident_positions(log_x0, x, h1 - 1e-3).tolist() == [[False] * 4]
    assert confident_positions(log_x0, x, h1 + 1e-3).tolist() == [[False, True, False, False]]
    assert confident_positions(log_x0, x, h1 + math.log(2) + 1e-3).tolist() == [[True, True, False, False]]
    assert confident_positions(log_x0, x, 10.0).tolist() == [[True, True, False, True]]


def test_the_bound_is_checked():
    for bad in (-0.1, math.nan, math.inf, True, "1"):
        with pytest.raises(ValueError, match="entropy bound"):
            check_bound(bad)
    assert check_bound(2) == 2.0


# ---- the exact law on a length-3 toy --------------------------------------------------------------


def _outcomes(probs: list[list[float]]):
    """Every outcome of a product distribution over positions (rows of 5 probabilities) with its probability."""
    options = [[(v, p) for v, p in enumerate(row) if p > 0] for row in probs]
    for combo in itertools.product(*options):
        yield tuple(v for v, _ in combo), math.prod(p for _, p in combo)


def _index(state: tuple) -> int:
    """A clean sequence's row in the lexicographic list of all 64."""
    return sum(v * 4 ** (LENGTH - 1 - i) for i, v in enumerate(state))


def _implementation_law(denoiser, bound: float) -> tuple[torch.Tensor, dict]:
    """The exact law of sample_adaptive over the 64 sequences, enumerating reachable (state, clock)
    pairs with the implementation's own step; also every visited state's step (probabilities, next clock)."""
    grid = time_grid(STEPS)
    law, visited = torch.zeros(4**LENGTH, dtype=torch.float64), {}
    frontier = {((MASK_INDEX,) * LENGTH, float(grid[0])): 1.0}
    while frontier:
        following: dict = {}
        for (state, tau), weight in frontier.items():
            if MASK_INDEX not in state:
                law[_index(state)] += weight
                continue
            x, tau_t = torch.tensor([state]), torch.tensor([tau])
            s = grid[grid < tau_t - 1e-6][:1]
            log_x0 = x0_log_probs(denoiser(x, tau_t), x)
            rows, tau_next = adaptive_step(log_x0, x, tau_t, s, bound, SCHEDULE)
            probs = rows.double().exp()[0].tolist()
            visited[(state, tau)] = (probs, float(tau_next[0]))
            for outcome, p in _outcomes(probs):
                key = (outcome, float(tau_next[0]))
                following[key] = following.get(key, 0.0) + weight * p
        frontier = following
    return law, visited


def _conditional(joint: torch.Tensor, state: tuple) -> torch.Tensor:
    """``p(x | the unmasked positions of state)`` over the 64 sequences (float64)."""
    support = all_sequences(LENGTH)
    agree = torch.ones(len(support), dtype=torch.bool)
    for i, v in enumerate(state):
        if v != MASK_INDEX:
            agree &= support[:, i] == v
    weights = joint.double() * agree
    return weights / weights.sum()


def _entropy(p: torch.Tensor) -> float:
    p = p[p > 0]
    return float(-(p * p.log()).sum())


def _marginal(conditional: torch.Tensor, positions: tuple) -> torch.Tensor:
    support = all_sequences(LENGTH)
    index = sum(support[:, i] * 4 ** (len(positions) - 1 - j) for j, i in enumerate(positions))
    return torch.zeros(4 ** len(positions), dtype=torch.float64).index_add(0, index, conditional)


def _hand_rule(joint, state, tau, bound):
    """The documented rule, written out independently: (stay probability per masked position or 0 when
    forced, the confident set, the next clock) for the log-linear schedule, p(t) = (1 − ε) t."""
    masked = [i for i, v in enumerate(state) if v == MASK_INDEX]
    grid = [1 - k / STEPS for k in range(STEPS + 1)]
    s = max(g for g in grid if g < tau - 1e-6)
    conditional = _conditional(joint, state)
    entropy = {i: _entropy(_marginal(conditional, (i,))) for i in masked}
    forced, total = [], 0.0
    for i in sorted(masked, key=lambda i: (entropy[i], i)):
        if bound > 0 and total + entropy[i] <= bound:
            forced.append(i)
            total += entropy[i]
        else:
            break
    stay = {i: (0.0 if i in forced else s / tau) for i in masked}
    tau_next = s * (len(masked) - len(forced)) / len(masked) if forced else s
    return stay, forced, tau_next, conditional


@pytest.mark.parametrize("bound", [0.0, 0.6, 1.5, 2.5])
def test_exact_law_of_the_adaptive_sampler_on_a_length_3_toy(bound):
    joint = random_distribution(LENGTH, seed=3)
    denoiser = ExactDenoiser(joint, LENGTH)
    law, visited = _implementation_law(denoiser, bound)
    assert law.sum().item() == pytest.approx(1.0, abs=1e-6)
    # 1. every visited step is the documented rule (independent code, exact conditionals of the joint)
    forced_somewhere = False
    for (state, tau), (probs, tau_next) in visited.items():
        stay, forced, expected_next, conditional = _hand_rule(joint, state, tau, bound)
        forced_somewhere |= bool(forced)
        assert tau_next == pytest.approx(expected_next, abs=1e-6)
        for i, v in enumerate(state):
            if v != MASK_INDEX:
                assert probs[i][v] == pytest.approx(1.0, abs=1e-6)
                continue
            marginal = _marginal(conditional, (i,)).tolist()
            expected = [(1 - stay[i]) * m for m in marginal] + [stay[i]]
            assert probs[i] == pytest.approx(expected, abs=1e-5)
    assert forced_somewhere == (bound > 0)
    # 2. the deviation from the model's joint: KL(p ‖ q) ≤ E_p[Σ_calls TC(U)], computed by the same
    # chain with joint draws (which samples p exactly)
    exact_law, total_correlation, bound_term = _joint_draw_chain(joint, bound)
    p = joint.double() / joint.double().sum()
    torch.testing.assert_close(exact_law, p, atol=1e-9, rtol=0)
    kl = float((p * (p.log() - law.clamp_min(1e-300).log())).sum())
    assert 0 <= kl <= total_correlation + 1e-9, (kl, total_correlation)
    assert total_correlation <= bound_term + 1e-9  # TC(S ∪ E) ≤ TC(S) + Σ_E H ≤ TC(S) + bound, per call
    # 3. at 0.6 only lone last positions are ever confident: drawing the last masked position now or later
    # is the same draw for an exact model, so the law is the fixed-step one; at 1.5 and 2.5 it is not
    fixed = law if bound == 0 else _implementation_law(denoiser, 0.0)[0]
    difference = 0.5 * (law - fixed).abs().sum().item()
    assert difference < 1e-6 if bound < 1 else difference > 0.01
    fixed_kl = float((p * (p.log() - fixed.clamp_min(1e-300).log())).sum())
    assert kl >= fixed_kl - 1e-9 if bound < 1 else kl > fixed_kl + 1e-3


def _joint_draw_chain(joint, bound):
    """The same rule with x_U drawn from p(x_U | rest): its law (= p), E_p[Σ_calls TC(U)], and
    E_p[Σ_calls (TC(S) + bound·[E ≠ ∅])]."""
    law = torch.zeros(4**LENGTH, dtype=torch.float64)
    frontier = {((MASK_INDEX,) * LENGTH, 1.0): 1.0}
    tc_total = bound_total = 0.0
    while frontier:
        following: dict = {}
        for (state, tau), weight in frontier.items():
            if MASK_INDEX not in state:
                law[_index(state)] += weight
                continue
            stay, forced, tau_next, conditional = _hand_rule(joint, state, tau, bound)
            free = [i for i in stay if i not in forced]
            for chosen in itertools.product([False, True], repeat=len(free)):
                selected = [i for i, c in zip(free, chosen) if c]
                p_select = math.prod((1 - stay[i]) if c else stay[i] for i, c in zip(free, chosen))
                if p_select == 0:
                    continue
                unmask = tuple(sorted(selected + forced))
                marginal = _marginal(conditional, unmask) if unmask else None
                tc = tc_s = 0.0
                if unmask:
                    tc = sum(_entropy(_marginal(conditional, (i,))) for i in unmask) - _entropy(marginal)
                    if selected:
                        tc_s = sum(_entropy(_marginal(conditional, (i,))) for i in selected) - _entropy(
                            _marginal(conditional, tuple(selected))
                        )
                tc_total += weight * p_select * tc
                bound_total += weight * p_select * (tc_s + (bound if forced else 0.0))
                values = itertools.product(range(4), repeat=len(unmask)) if unmask else [()]
                for index, value in enumerate(values):
                    p_value = float(marginal[index]) if unmask else 1.0
                    if p_value == 0:
                        continue
                    new = list(state)
                    for i, v in zip(unmask, value):
                        new[i] = v
                    key = (tuple(new), tau_next)
                    following[key] = following.get(key, 0.0) + weight * p_select * p_value
        frontier = following
    return law, tc_total, bound_total


def _chi_square(counts: torch.Tensor, law: torch.Tensor) -> tuple[float, int]:
    expected = law * counts.sum()
    keep = expected > 5
    return float((((counts - expected) ** 2) / expected)[keep].sum()), int(keep.sum()) - 1


def test_the_sampler_draws_the_enumerated_law():
    joint = random_distribution(LENGTH, seed=3)
    denoiser = ExactDenoiser(joint, LENGTH)
    law, _ = _implementation_law(denoiser, 2.5)
    fixed, _ = _implementation_law(denoiser, 0.0)
    n = 20000
    result = sample_adaptive(denoiser, n, LENGTH, STEPS, bound=2.5, schedule=SCHEDULE, generator=torch.Generator().manual_seed(4))
    counts = torch.bincount((result.tokens * torch.tensor([16, 4, 1])).sum(dim=-1), minlength=64).double()
    chi2, dof = _chi_square(counts, law)
    assert chi2 < dof + 3.1 * math.sqrt(2 * dof) + 5, (chi2, dof)  # ~ the 99.9% quantile
    chi2_fixed, dof = _chi_square(counts, fixed)
    assert chi2_fixed > 3 * (dof + 3.1 * math.sqrt(2 * dof) + 5)  # and the fixed-step law is rejected
    assert result.network_rows < n * STEPS and result.network_calls <= STEPS


# ---- the design job's option ------------------------------------------------------------------------


def test_design_checks_the_adaptive_option_in_one_line():
    from dnadav.errors import InputError
    from dnadav.jobs.design import DesignOptions

    for bad in (-1.0, math.nan, math.inf, "1", True):
        with pytest.raises(InputError, match="adaptive") as error:
            DesignOptions(adaptive=bad)
        assert "\n" not in str(error.value)
    with pytest.raises(InputError, match="plain sampling"):
        DesignOptions(adaptive=1.0, num_children=2)
    assert DesignOptions(adaptive=0.0, num_children=2).adaptive == 0.0


def test_design_records_the_network_rows_and_bound_zero_changes_nothing(tmp_path):
    import json

    import dnadav

    plain = dnadav.design("hepg2", n=3, steps=3, seed=0, model="dhs_prior")
    zero = dnadav.design("hepg2", n=3, steps=3, seed=0, model="dhs_prior", adaptive=0.0)
    fast = dnadav.design("hepg2", n=3, steps=3, seed=0, model="dhs_prior", adaptive=1000.0)  # all 200 in call 1
    assert plain.sequences == zero.sequences and plain.result.network_rows == 64 * 3  # one whole block
    assert fast.result.network_rows == 64 and fast.sequences != plain.sequences
    fast.to_fasta(tmp_path / "fast.fa")
    manifest = json.loads((tmp_path / "fast.fa.manifest.json").read_text())
    assert manifest["network_rows"] == fast.result.network_rows and manifest["config"]["adaptive"] == 1000.0
    assert "adaptive=1000.0" in manifest["command"]
