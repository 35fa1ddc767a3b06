"""The stratified unmask order (dnadav.dna.stratified): each call unmasks one position per block of T, in
a uniformly random order; on an enumerable toy (length 3, 64 sequences, an exact network) its law,
enumerated over every order with the implementation's own step, is the model's joint exactly at T = L and
the product of the marginals at T = 1; the sampler's draws follow the enumerated law."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from dnadav.dna.adaptive import sample_adaptive
from dnadav.dna.masked import x0_log_probs
from dnadav.dna.schedule import LogLinearSchedule
from dnadav.dna.stratified import check_order, stratified_calls, stratified_rows
from dnadav.dna.tokens import MASK_INDEX
from tests.toys import ExactDenoiser, random_distribution

LENGTH = 3
SCHEDULE = LogLinearSchedule(1e-3)


def test_each_call_takes_one_position_of_every_block_in_a_uniform_order():
    calls = stratified_calls(4000, 23, 5, torch.Generator().manual_seed(0))
    assert calls.shape == (4000, 23) and calls.dtype == torch.long
    full = calls[:, :20].view(4000, 4, 5)  # four whole blocks of 5 consecutive positions
    assert (full.sort(dim=-1).values == torch.arange(5)).all()  # each block: every call exactly once
    last = calls[:, 20:]  # the short block of 3: three different calls
    assert (last[:, 0] != last[:, 1]).all() and (last[:, 1] != last[:, 2]).all() and (last[:, 0] != last[:, 2]).all()
    # the order inside a block is uniform: each of the 120 permutations of the first block ~ 4000 / 120
    codes = (full[:, 0] * torch.tensor([625, 125, 25, 5, 1])).sum(dim=-1)
    counts = torch.bincount(codes, minlength=5**5)[torch.bincount(codes, minlength=5**5) > 0].double()
    assert len(counts) == 120
    chi2 = float(((counts - 4000 / 120) ** 2 / (4000 / 120)).sum())
    assert chi2 < 119 + 3.1 * math.sqrt(2 * 119) + 5  # ~ the 99.9 % quantile
    again = stratified_calls(4000, 23, 5, torch.Generator().manual_seed(0))
    assert torch.equal(calls, again)


def test_a_call_unmasks_exactly_the_positions_whose_turn_it_is():
    log_x0 = torch.log_softmax(torch.randn(2, 6, 4, generator=torch.Generator().manual_seed(1)), dim=-1)
    x = torch.tensor([[MASK_INDEX, 2, MASK_INDEX, MASK_INDEX, 0, MASK_INDEX]] * 2)
    calls = torch.tensor([[0, 0, 1, 0, 1, 1], [1, 0, 0, 1, 1, 0]])
    probs = stratified_rows(log_x0, x, calls, 0, last=False).exp()
    for n in range(2):
        for i in range(6):
            if x[n, i] != MASK_INDEX:
                assert probs[n, i, x[n, i]] == pytest.approx(1.0)
            elif calls[n, i] == 0:
                torch.testing.assert_close(probs[n, i, :4], log_x0[n, i].exp())
                assert probs[n, i, MASK_INDEX] == pytest.approx(0.0, abs=1e-12)
            else:
                assert probs[n, i, MASK_INDEX] == pytest.approx(1.0)
    last = stratified_rows(log_x0, x, calls, 0, last=True).exp()
    assert (last[..., MASK_INDEX] < 1e-12).all()  # the last call unmasks everything still masked


def _index(tokens: torch.Tensor) -> torch.Tensor:
    return (tokens * torch.tensor([16, 4, 1])).sum(dim=-1)


def _enumerated_law(denoiser, num_steps: int) -> torch.Tensor:
    """The stratified sampler's exact law over the 64 sequences: every call assignment (uniform over the
    block permutations) times every outcome of the implementation's own step, call by call."""
    turns = list(itertools.permutations(range(num_steps)))
    assignments = [sum(combo, ()) for combo in itertools.product(turns, repeat=-(-LENGTH // num_steps))]
    law = torch.zeros(4**LENGTH, dtype=torch.float64)
    for assignment in assignments:
        calls = torch.tensor([assignment[:LENGTH]])
        frontier = {(MASK_INDEX,) * LENGTH: 1.0 / len(assignments)}
        for call in range(num_steps):
            following: dict = {}
            for state, weight in frontier.items():
                x = torch.tensor([state])
                log_x0 = x0_log_probs(denoiser(x, torch.ones(1)), x)
                rows = stratified_rows(log_x0, x, calls, call, last=call == num_steps - 1).double().exp()[0]
                options = [[(v, float(p)) for v, p in enumerate(row) if p > 1e-12] for row in rows]
                for combo in itertools.product(*options):
                    key = tuple(v for v, _ in combo)
                    following[key] = following.get(key, 0.0) + weight * math.prod(p for _, p in combo)
            frontier = following
        for state, weight in frontier.items():
            law[_index(torch.tensor(state))] += weight
    return law


def test_the_law_is_the_joint_at_one_position_per_call_and_the_marginals_product_at_one_call():
    joint = random_distribution(LENGTH, seed=3).double()
    p = joint / joint.sum()
    denoiser = ExactDenoiser(joint, LENGTH)
    exact = _enumerated_law(denoiser, num_steps=LENGTH)  # T = L: any-order chain rule
    torch.testing.assert_close(exact, p, atol=1e-6, rtol=0)
    product = _enumerated_law(denoiser, num_steps=1)  # T = 1: all three drawn together
    marginals = [torch.stack([p[_index_of(i, v)].sum() for v in range(4)]) for i in range(LENGTH)]
    expected = torch.einsum("a,b,c->abc", *marginals).reshape(-1)
    torch.testing.assert_close(product, expected, atol=1e-6, rtol=0)
    assert 0.5 * (product - p).abs().sum() > 0.05  # the toy's positions are dependent


def _index_of(position: int, value: int) -> torch.Tensor:
    codes = torch.arange(64)
    return (codes // 4 ** (LENGTH - 1 - position)) % 4 == value


def test_the_sampler_draws_the_enumerated_law():
    joint = random_distribution(LENGTH, seed=3).double()
    denoiser = ExactDenoiser(joint, LENGTH)
    n = 20000
    drawn = sample_adaptive(
        denoiser, n, LENGTH, LENGTH, schedule=SCHEDULE, generator=torch.Generator().manual_seed(4), order="stratified"
    )
    assert drawn.network_rows == n * LENGTH and drawn.network_calls == LENGTH
    counts = torch.bincount(_index(drawn.tokens), minlength=64).double()
    for law, accept in ((_enumerated_law(denoiser, LENGTH), True), (_enumerated_law(denoiser, 1), False)):
        expected = law * n
        keep = expected > 5
        chi2, dof = float((((counts - expected) ** 2) / expected)[keep].sum()), int(keep.sum()) - 1
        limit = dof + 3.1 * math.sqrt(2 * dof) + 5  # ~ the 99.9 % quantile
        assert (chi2 < limit) if accept else (chi2 > 3 * limit), (chi2, dof)


def test_the_order_is_checked_and_stratified_needs_the_fixed_grid():
    assert check_order("stratified") == "stratified"
    with pytest.raises(ValueError, match="random or stratified"):
        check_order("dilated")
    with pytest.raises(ValueError, match="bound must be 0"):
        sample_adaptive(ExactDenoiser(random_distribution(LENGTH, seed=3), LENGTH), 2, LENGTH, 3, bound=1.0, order="stratified")
    from dnadav.dna.schedule import CosineSchedule

    with pytest.raises(ValueError, match="cosine schedule: use --unmask random"):  # the sampler keeps log-linear's pace
        exact = ExactDenoiser(random_distribution(LENGTH, seed=3), LENGTH)
        sample_adaptive(exact, 2, LENGTH, 3, schedule=CosineSchedule(), order="stratified")


def test_design_takes_the_order_records_it_and_refuses_it_with_search(tmp_path):
    import json

    import dnadav
    from dnadav.errors import InputError
    from dnadav.jobs.design import DesignOptions

    plain = dnadav.design("hepg2", n=3, steps=4, seed=0, model="dhs_prior")
    spread = dnadav.design("hepg2", n=3, steps=4, seed=0, model="dhs_prior", unmask="stratified")
    assert spread.sequences != plain.sequences and spread.result.network_rows == plain.result.network_rows == 64 * 4
    assert plain.sequences == dnadav.design("hepg2", n=3, steps=4, seed=0, model="dhs_prior", unmask="random").sequences
    spread.to_fasta(tmp_path / "spread.fa")
    manifest = json.loads((tmp_path / "spread.fa.manifest.json").read_text())
    assert manifest["config"]["unmask"] == "stratified" and "unmask='stratified'" in manifest["command"]
    for bad in ({"unmask": "dilated"}, {"unmask": "stratified", "num_children": 2}, {"unmask": "stratified", "adaptive": 1.0}):
        with pytest.raises(InputError) as error:
            DesignOptions(**bad)
        assert "\n" not in str(error.value) and "unmask" in str(error.value)


def test_hard_constraints_hold_in_the_stratified_order():
    import dnadav
    from dnadav.constraints import spec_from_options

    spec = spec_from_options(gc="0.45:0.55", prefix="ACGTACGT", max_homopolymer=4)
    designs = dnadav.design("hepg2", n=8, steps=5, seed=1, model="dhs_prior", unmask="stratified", constraints=spec)
    for sequence in designs.sequences:
        gc = (sequence.count("G") + sequence.count("C")) / len(sequence)
        assert sequence.startswith("ACGTACGT") and 0.45 <= gc <= 0.55
        assert all(base * 5 not in sequence for base in "ACGT")
