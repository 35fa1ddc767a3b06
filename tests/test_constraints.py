"""Hard constraints: exact enumeration on short sequences, parsing errors, audit counts."""

import itertools

import numpy as np
import pytest
import torch

from dnadav.constraints import build_automaton, spec_from_options
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


def test_one_step_distribution_equals_restricted_product():
    c = _constraint()
    full, ok = _allowed_set(c)
    g = torch.Generator().manual_seed(0)
    base = torch.log_softmax(torch.randn(L, 4, generator=g), -1)
    step = torch.cat([base, torch.full((L, 1), -1e9)], -1)
    n = 40000
    x_s, _ = c.sample_step(step[None].expand(n, -1, -1), c.initial_state(n), g)
    assert int(c.violations(x_s)["total"].sum()) == 0
    codes = (x_s * (4 ** torch.arange(L - 1, -1, -1))).sum(-1)
    empirical = torch.bincount(codes, minlength=4**L).double() / n
    full_codes = (full * (4 ** torch.arange(L - 1, -1, -1))).sum(-1)
    p = base.double().gather(1, full.T).sum(0).exp() * ok
    exact = torch.zeros(4**L, dtype=torch.float64)
    exact[full_codes] = p / p.sum()
    assert (empirical[exact == 0] == 0).all()
    assert 0.5 * (empirical - exact).abs().sum() < 0.03


def test_masked_step_distribution_equals_conditioned_product():
    c = _constraint()
    full, ok = _allowed_set(c)
    allowed = full[ok]
    g = torch.Generator().manual_seed(1)
    x_t = c.initial_state(1)
    x_t[0, 1] = 2  # G fixed
    rows = torch.log_softmax(torch.randn(L, 5, generator=g), -1)
    rows[1] = torch.tensor([-1e9, -1e9, 0.0, -1e9, -1e9])
    rows[4] = torch.tensor([-1e9, -1e9, -1e9, 0.0, -1e9])
    candidates = torch.tensor(list(itertools.product(range(5), repeat=L)))
    consistent = ((candidates[:, None, :] == 4) | (candidates[:, None, :] == allowed[None])).all(-1).any(-1)
    p = rows.double().gather(1, candidates.T).sum(0).exp() * consistent
    exact = p / p.sum()
    n = 40000
    x_s, _ = c.sample_step(rows[None].expand(n, -1, -1), x_t.expand(n, -1), g)
    assert bool(c.completable(x_s).all())
    codes = (x_s * (5 ** torch.arange(L - 1, -1, -1))).sum(-1)
    empirical = torch.bincount(codes, minlength=5**L).double() / n
    cand_codes = (candidates * (5 ** torch.arange(L - 1, -1, -1))).sum(-1)
    exact_by_code = torch.zeros(5**L, dtype=torch.float64)
    exact_by_code[cand_codes] = exact
    assert (empirical[exact_by_code == 0] == 0).all()
    assert 0.5 * (empirical - exact_by_code).abs().sum() < 0.03


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
