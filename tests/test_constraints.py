"""Hard constraints: exact enumeration on short sequences, parsing errors, audit counts."""

import itertools
import math

import numpy as np
import pytest
import torch

from dnadav.constraints import build_automaton, spec_from_options
from dnadav.constraints.exact import build
from dnadav.constraints.reach import completable_rows, completion_table
from dnadav.constraints.step import constrained_step, propose
from dnadav.errors import InputError

L = 5


def _constraint():
    return spec_from_options(forbid="ACG", gc="0.2:0.6", max_homopolymer=2, template="NNNNT").compile(L)


def _allowed_set(constraint):
    full = torch.tensor(list(itertools.product(range(4), repeat=L)))
    return full, constraint.violations(full)["total"] == 0


def test_automaton_matches_substring_search():
    words = ["ACG", "CGT", "AAA"]
    automaton = build_automaton(words)
    rng = np.random.default_rng(0)
    for _ in range(300):
        text = "".join(rng.choice(list("ACGT"), 12))
        assert (automaton.run(text) == automaton.dead) == any(w in text for w in words)


def _one_step_case():
    """No MASK in x_s: the target is the product restricted to the allowed set."""
    c = _constraint()
    g = torch.Generator().manual_seed(0)
    base = torch.log_softmax(torch.randn(L, 4, generator=g), -1)
    return c, torch.cat([base, torch.full((L, 1), -1e9)], -1), c.initial_state(1)


def _masked_case():
    """MASK allowed in x_s (existential completability), one position fixed in x_t."""
    c = _constraint()
    g = torch.Generator().manual_seed(1)
    x_t = c.initial_state(1)
    x_t[0, 1] = 2  # G fixed
    rows = torch.log_softmax(torch.randn(L, 5, generator=g), -1)
    rows[1] = torch.tensor([-1e9, -1e9, 0.0, -1e9, -1e9])
    rows[4] = torch.tensor([-1e9, -1e9, -1e9, 0.0, -1e9])
    return c, rows, x_t


_CANDIDATES = torch.tensor(list(itertools.product(range(5), repeat=L)))  # every x_s over A, C, G, T, MASK


def _exact(c, rows):
    """The target over ``_CANDIDATES``: ∏ p_i · 1[completable] / Z (by brute force over fillings)."""
    full, ok = _allowed_set(c)
    allowed = full[ok]
    consistent = ((_CANDIDATES[:, None, :] == 4) | (_CANDIDATES[:, None, :] == allowed[None])).all(-1).any(-1)
    p = rows.double().gather(1, _CANDIDATES.T).sum(0).exp() * consistent
    return p / p.sum(), p.sum()


def _codes(x):
    return (x * (5 ** torch.arange(L - 1, -1, -1))).sum(-1)


@pytest.mark.parametrize("case", [_one_step_case, _masked_case])
def test_set_dp_is_the_exact_conditional(case):
    """Exact enumeration: the set DP's probability of every x_s (product of its choice
    probabilities) is the target, and its Z is the target's normaliser."""
    c, rows, _ = case()
    exact, z = _exact(c, rows)
    dp = build(c.space, rows)
    probs = rows.double().exp()
    got = torch.zeros(len(_CANDIDATES), dtype=torch.float64)
    for n, x in enumerate(_CANDIDATES.tolist()):
        if any(dp.forced[i] not in (-1, x[i]) for i in range(L)):
            continue
        node, prob = 0, 1.0
        for k, position in enumerate(dp.free):
            child = dp.children[k][node][x[position]]
            if child < 0:
                prob = 0.0
                break
            prob *= float(probs[position, x[position]]) * dp.psi[k + 1][child] / dp.psi[k][node]
            node = child
        got[n] = prob
    assert torch.allclose(got, exact, atol=1e-12)
    assert abs(math.exp(dp.log_z) - float(z)) < 1e-12


@pytest.mark.parametrize("case", [_one_step_case, _masked_case])
def test_lookahead_proposal_times_acceptance_is_the_target(case):
    """Exact enumeration of the look-ahead proposal q: it is a distribution on the completable
    x_s only, and q(x)·∏Z_i(x) = ∏p_i(x) for each of them (so accepting with ∏Z_i is exact)."""
    c, rows, x_t = case()
    exact, z = _exact(c, rows)
    n = len(_CANDIDATES)
    table = completion_table(c.space, x_t).expand(-1, -1, n, -1)
    _, log_p, log_z = propose(c.space, table, rows[None].expand(n, -1, -1), None, given=_CANDIDATES)
    q = torch.where(torch.isfinite(log_p), (log_p - log_z).double().exp(), torch.zeros((), dtype=torch.float64))
    assert ((q > 0) == (exact > 0)).all()
    assert abs(float(q.sum()) - 1.0) < 1e-5
    assert torch.allclose((q * log_z.double().exp())[exact > 0], (exact * z)[exact > 0], rtol=1e-4)


@pytest.fixture(autouse=True)
def _one_thread():
    """Sampling tests are many tiny tensor ops: threads only add contention on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _draw(c, rows, x_t, n, seed, **options):
    """``n`` draws from ``constrained_step`` -> (empirical, exact) over the 5**L codes."""
    exact, _ = _exact(c, rows)
    g = torch.Generator().manual_seed(seed)
    x_s, _ = constrained_step(c.space, rows[None].expand(n, -1, -1), x_t.expand(n, -1), g, **options)
    assert bool(c.completable(x_s).all())
    counts = torch.bincount(_codes(x_s), minlength=5**L).double()
    exact_by_code = torch.zeros(5**L, dtype=torch.float64)
    exact_by_code[_codes(_CANDIDATES)] = exact
    assert (counts[exact_by_code == 0] == 0).all()
    return counts, exact_by_code


def _chi2_pvalue(counts, exact):
    """Pearson's test of ``counts`` against ``exact``; outcomes expected < 5 times pooled into one bin."""
    from scipy.stats import chisquare

    expected = exact * counts.sum()
    small = (expected < 5) & (exact > 0)
    observed = torch.cat([counts[~small & (exact > 0)], counts[small].sum()[None]])
    wanted = torch.cat([expected[~small & (exact > 0)], expected[small].sum()[None]])
    keep = wanted > 0
    return float(chisquare(observed[keep].numpy(), wanted[keep].numpy()).pvalue)


def test_completable_rows_matches_brute_force():
    """The product-rejection acceptance test, on every x_s (the sampler 1 is then exact by construction)."""
    for case in (_one_step_case, _masked_case):
        c, rows, _ = case()
        full, ok = _allowed_set(c)
        brute = ((_CANDIDATES[:, None, :] == 4) | (_CANDIDATES[:, None, :] == full[ok][None])).all(-1).any(-1)
        assert (completable_rows(c.space, _CANDIDATES) == brute).all()


@pytest.mark.parametrize("case", [_one_step_case, _masked_case])
@pytest.mark.parametrize("options", [{}, {"product_rounds": 0}], ids=["default", "set-dp"])
def test_step_samples_match_the_target(case, options):
    """End to end, 40,000 draws (the chain of samplers, and the set DP alone): TV < 0.03."""
    c, rows, x_t = case()
    counts, exact = _draw(c, rows, x_t, 40000, 0, **options)
    assert 0.5 * float((counts / counts.sum() - exact).abs().sum()) < 0.03


@pytest.mark.parametrize("case", [_one_step_case, _masked_case])
@pytest.mark.parametrize(
    "options", [{"product_rounds": 10**6}, {"product_rounds": 0, "max_nodes": 0}], ids=["product-rejection", "lookahead"]
)
def test_rejection_samplers_match_the_target(case, options):
    """The two rejection samplers alone (their parts are checked exactly above): 4,000 draws, Pearson χ²."""
    c, rows, x_t = case()
    counts, exact = _draw(c, rows, x_t, 4000, 2, **options)
    assert _chi2_pvalue(counts, exact) > 1e-4


def test_sample_step_checks_and_audits():
    c, rows, x_t = _one_step_case()
    x_s, log_prob = c.sample_step(rows[None].expand(64, -1, -1), x_t.expand(64, -1), torch.Generator().manual_seed(3))
    assert int(c.violations(x_s)["total"].sum()) == 0 and torch.isfinite(log_prob).all()


def test_unsatisfiable_and_bad_strings():
    with pytest.raises(InputError, match="unsatisfiable"):
        spec_from_options(gc="0.9:1.0", template="AAAAA").compile(5)
    with pytest.raises(InputError, match="not a known enzyme"):
        spec_from_options(forbid="BsaX")
    with pytest.raises(InputError, match="LO:HI"):
        spec_from_options(gc="0.4")
    with pytest.raises(InputError, match="whole number"):
        spec_from_options(max_homopolymer="x")


def test_constraints_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("forbid: [BsaI]\ngc: 0.4:0.6\ncolour: red\n")
    with pytest.raises(InputError, match=r"c.yaml: unknown field 'colour'"):
        spec_from_options(constraints_file=path)
    path.write_text("forbid: [BsaI]\ngc: '0.4:0.6'\nprefix: ACGT\n")
    spec = spec_from_options(constraints_file=path, forbid="EcoRI")
    assert [s.name for s in spec.forbid] == ["BsaI", "EcoRI"] and spec.gc == (0.4, 0.6) and spec.prefix == "ACGT"


def test_audit_counts():
    c = spec_from_options(forbid="EcoRI", gc="0.4:0.6", max_homopolymer=3, prefix="GG").compile(12)
    tokens = torch.tensor([[("ACGT".index(b)) for b in "GAATTCAAAACG"]])
    v = c.violations(tokens)
    assert int(v["site:EcoRI"]) == 1 and int(v["homopolymer"]) == 1 and int(v["fixed"]) == 1 and int(v["gc"]) == 1
