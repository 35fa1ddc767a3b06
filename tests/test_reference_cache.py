"""Item 3 of issue 22: App-Log-Lik by masked counts (dnadav.dna.masked_count) — unbiased for the same
NELBO (against quadrature on an enumerable time-dependent toy) and of lower variance at fewer rows —
and the cache of the real held-out rows (dnadav.evaluate.reference_cache), bit-identical to recomputing."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
import torch

from dnadav.dna.backbone import ConvDenoiser, ConvDenoiserConfig
from dnadav.dna.masked import sequence_elbo, x0_log_probs
from dnadav.dna.masked_count import count_weights, draw_counts
from dnadav.dna.schedule import CosineSchedule, LogLinearSchedule
from dnadav.dna.tokens import MASK_INDEX, strings_to_onehot
from tests.toys import TimeDependentDenoiser, all_sequences

SCHEDULES = [LogLinearSchedule(eps=0.3), CosineSchedule(eps=0.3)]  # a large eps: the truncation at p(1) matters


@pytest.mark.parametrize("schedule", SCHEDULES + [LogLinearSchedule()])
def test_count_weights_are_binomial_tails(schedule):
    from scipy.stats import binom

    p_max = 1 - float(schedule.alpha(torch.tensor(1.0, dtype=torch.float64)))
    expected = binom.sf(np.arange(0, 12), 12, p_max)  # P(N ≥ k) = sf(k − 1)
    np.testing.assert_allclose(count_weights(schedule, 12).numpy(), expected, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_the_time_given_the_count_follows_the_truncated_beta(schedule):
    from scipy.stats import beta, kstest

    length = 10
    # with as many draws as positions each stratum holds one count: draw j has k = j + 1
    draws = draw_counts(4000, length, length, schedule, torch.Generator().manual_seed(0))
    assert torch.equal(draws.k, torch.arange(1, length + 1).expand(4000, -1))
    share = (1 - schedule.alpha(draws.t.double())).numpy()
    p_max = 1 - float(schedule.alpha(torch.tensor(1.0, dtype=torch.float64)))
    for k in range(1, length + 1):
        law = beta(k, length - k + 1)
        assert kstest(share[:, k - 1], lambda u, law=law: law.cdf(u) / law.cdf(p_max)).pvalue > 1e-3, k
    weights = count_weights(schedule, length).double() / torch.arange(1, length + 1)
    torch.testing.assert_close(draws.weight[0], weights)  # (L/K)·W_k/k with K = L


def _quadrature_nelbo(denoiser, x0: torch.Tensor, schedule, nodes: int = 200) -> torch.Tensor:
    """``∫_0^1 w(t) Σ_{M ≠ ∅} p^|M| (1 − p)^(L−|M|) Σ_{i∈M} −log x̂0(x0_i | x_M, t) dt`` by Gauss–Legendre, float64."""
    t_nodes, t_weights = np.polynomial.legendre.leggauss(nodes)
    t = torch.tensor((t_nodes + 1) / 2, dtype=torch.float64)
    dt = torch.tensor(t_weights / 2, dtype=torch.float64)
    p = 1 - schedule.alpha(t)
    w = schedule.loss_weight(t)
    batch, length = x0.shape
    total = torch.zeros(batch, dtype=torch.float64)
    for mask in itertools.product([False, True], repeat=length):
        m = sum(mask)
        if m == 0:
            continue
        mask_t = torch.tensor(mask)
        x_t = torch.where(mask_t, torch.full_like(x0, MASK_INDEX), x0).repeat(len(t), 1)  # node-major
        times = t.float().repeat_interleave(batch)
        log_probs = x0_log_probs(denoiser(x_t, times), x_t).double()
        ce = -(log_probs.gather(-1, x0.repeat(len(t), 1)[..., None]).squeeze(-1) * mask_t).sum(-1).view(len(t), batch)
        total += ((dt * w * p**m * (1 - p) ** (length - m))[:, None] * ce).sum(0)
    return -total


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_count_estimator_is_unbiased_for_the_nelbo_of_a_time_dependent_toy(schedule):
    denoiser = TimeDependentDenoiser(3, seed=0)
    x0 = all_sequences(3)[[0, 9, 27, 50]]
    exact = _quadrature_nelbo(denoiser, x0, schedule)
    repeats = 20000
    runs = (
        sequence_elbo(
            denoiser,
            x0.repeat(repeats, 1),
            schedule,
            num_time_samples=2,
            generator=torch.Generator().manual_seed(1),
            times="count",
        )
        .double()
        .view(repeats, 4)
    )
    error = runs.std(0) / math.sqrt(repeats)
    assert torch.all((runs.mean(0) - exact).abs() < 4 * error), (runs.mean(0), exact, error)
    # and the time form estimates the same number (its t ≥ 1e-4 clamp costs < 0.01 nats here)
    stratified = (
        sequence_elbo(denoiser, x0.repeat(repeats, 1), schedule, num_time_samples=4, generator=torch.Generator().manual_seed(2))
        .double()
        .view(repeats, 4)
    )
    assert torch.all((stratified.mean(0) - exact).abs() < 4 * stratified.std(0) / math.sqrt(repeats) + 0.01)


def test_two_count_rows_vary_less_than_four_stratified_time_rows():
    torch.manual_seed(0)
    config = ConvDenoiserConfig(channels=16, num_blocks=2, kernel_size=3, dilations=(1, 2), time_embedding_dim=8)
    network = ConvDenoiser(config).eval()
    x0 = torch.randint(0, 4, (8, 32), generator=torch.Generator().manual_seed(1))
    repeats = 200

    def spread(times: str, rows: int) -> torch.Tensor:
        runs = sequence_elbo(
            network, x0.repeat(repeats, 1), num_time_samples=rows, generator=torch.Generator().manual_seed(3), times=times
        ).view(repeats, len(x0))
        return runs.var(0)

    count, stratified = spread("count", 2), spread("stratified", 4)
    assert torch.all(count < stratified / 4), (count, stratified)  # measured 10–40× lower
    with pytest.raises(ValueError, match="times"):
        sequence_elbo(network, x0, times="antithetic")


def test_app_log_lik_is_two_count_rows_per_sequence_by_default():
    """What every report's App-Log-Lik is: ``prior_log_likelihood`` (evaluate, the API, the real rows)
    and the align log use the defaults' estimator — 2 masked-count rows — bit for bit."""
    from dnadav import defaults
    from dnadav.evaluate.evaluator import prior_log_likelihood

    torch.manual_seed(0)
    config = ConvDenoiserConfig(channels=16, num_blocks=2, kernel_size=3, dilations=(1, 2), time_embedding_dim=8)
    network = ConvDenoiser(config).eval()
    x0 = torch.randint(0, 4, (8, 32), generator=torch.Generator().manual_seed(1))
    assert (defaults.APP_LOG_LIK_ROWS, defaults.APP_LOG_LIK_TIMES) == (2, "count")
    expected = sequence_elbo(network, x0, num_time_samples=2, generator=torch.Generator().manual_seed(0), times="count")
    assert torch.equal(prior_log_likelihood(network)(x0), expected)
    stratified = sequence_elbo(network, x0, num_time_samples=4, generator=torch.Generator().manual_seed(0))
    assert torch.equal(prior_log_likelihood(network, num_time_samples=4, times="stratified")(x0), stratified)


# ---- the cache of the real held-out rows --------------------------------------------------------------


def _umask() -> int:
    import os

    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _world(seed: int = 0):
    """Tiny oracles and prior (dnadav modules, so hashable), sequences of 16 bp, a 3-wide motif."""
    from dnadav.evaluate.evaluator import prior_log_likelihood
    from dnadav.evaluate.motifs import MotifSet
    from dnadav.oracles.base import CellTypeOracle
    from dnadav.oracles.cnn import ConvClassifier, ConvClassifierConfig

    torch.manual_seed(seed)
    config = ConvClassifierConfig(num_outputs=3, channels=8, first_kernel=5, kernels=(3,))
    reward, held_out = (CellTypeOracle(ConvClassifier(config), ("a", "b", "c"), "b").eval() for _ in range(2))
    prior = ConvDenoiser(
        ConvDenoiserConfig(channels=16, num_blocks=2, kernel_size=3, dilations=(1, 2), time_embedding_dim=8)
    ).eval()
    g = np.random.default_rng(seed)

    def strings(n: int) -> list[str]:
        return ["".join(g.choice(list("ACGT"), 16)) for _ in range(n)]

    inputs = {"designs": strings(12), "real b": strings(10), "real c": strings(9)}
    keywords = dict(
        reward_oracle=reward, eval_oracle=held_out, reference=strings(20), training=strings(30), prior=prior,
        log_likelihood=prior_log_likelihood(prior, num_time_samples=2),
        motifs=MotifSet.from_counts({"GCG": [[0, 0, 0], [0, 9, 0], [9, 0, 9], [0, 0, 0]]}),
        length=16, controls=["real b", "real c"],
    )  # fmt: skip
    return inputs, keywords


def _assert_identical(a, b) -> None:
    """Every field of two EvaluationResults equal to the bit (``info`` up to its timing and cache note)."""
    import dataclasses

    for field in dataclasses.fields(a):
        x, y = getattr(a, field.name), getattr(b, field.name)
        if field.name == "info":
            drop = ("seconds", "cached_rows")
            assert {k: v for k, v in x.items() if k not in drop} == {k: v for k, v in y.items() if k not in drop}
        elif isinstance(x, pd.DataFrame):
            pd.testing.assert_frame_equal(x, y, check_exact=True)
        elif isinstance(x, dict):
            assert list(x) == list(y), field.name
            for k in x:
                assert np.array_equal(np.asarray(x[k]), np.asarray(y[k]), equal_nan=True) and type(x[k]) is type(y[k]), (
                    field.name,
                    k,
                )
        else:
            assert x is y or x == y, field.name


def test_cached_rows_are_bit_identical_to_recomputing_them(tmp_path, monkeypatch):
    from dnadav.evaluate import evaluator
    from dnadav.evaluate.reference_cache import cached_evaluate_sets

    inputs, keywords = _world()
    whole = evaluator.evaluate_sets(inputs, **keywords)
    evaluated: list[list[str]] = []
    plain = evaluator.evaluate_sets
    monkeypatch.setattr(evaluator, "evaluate_sets", lambda given, **k: evaluated.append(list(given)) or plain(given, **k))
    first = cached_evaluate_sets(inputs, cached=["real b", "real c"], folder=tmp_path, **keywords)
    (stored,) = (tmp_path / "evaluate").glob("*.npz")
    assert evaluated == [["designs"], ["real b", "real c"]] and stored.stat().st_mode & 0o777 == 0o666 & ~_umask()
    second = cached_evaluate_sets(inputs, cached=["real b", "real c"], folder=tmp_path, **keywords)
    assert evaluated[2:] == [["designs"]]  # the real rows came from the file
    _assert_identical(first, whole)
    _assert_identical(second, whole)
    assert second.info["cached_rows"] == ["real b", "real c"] and second.controls == ["real b", "real c"]


def test_the_key_follows_every_input_of_the_rows(tmp_path):
    from dnadav.evaluate.reference_cache import cached_evaluate_sets

    inputs, keywords = _world()
    cached_evaluate_sets(inputs, cached=["real b", "real c"], folder=tmp_path, **keywords)
    changed_sequence = {**inputs, "real b": ["A" * 16] + inputs["real b"][1:]}
    cached_evaluate_sets(changed_sequence, cached=["real b", "real c"], folder=tmp_path, **keywords)
    with torch.no_grad():
        next(keywords["eval_oracle"].parameters()).add_(1e-3)  # one weight of the evaluation oracle
    cached_evaluate_sets(inputs, cached=["real b", "real c"], folder=tmp_path, **keywords)
    cached_evaluate_sets(inputs, cached=["real b", "real c"], folder=tmp_path, **{**keywords, "seed": 1})
    cached_evaluate_sets(
        inputs, cached=["real b", "real c"], folder=tmp_path, **{**keywords, "reference": keywords["reference"][1:]}
    )
    assert len(list((tmp_path / "evaluate").glob("*.npz"))) == 5
    cached_evaluate_sets({**inputs, "designs": inputs["designs"][:3]}, cached=["real b", "real c"], folder=tmp_path, **keywords)
    assert len(list((tmp_path / "evaluate").glob("*.npz"))) == 5  # other designs: the same real rows


def test_the_cache_folder_the_switch_and_a_damaged_file(tmp_path, monkeypatch):
    from dnadav.evaluate import evaluator
    from dnadav.evaluate.reference_cache import cache_dir, cached_evaluate_sets

    inputs, keywords = _world()
    whole = evaluator.evaluate_sets(inputs, **keywords)
    monkeypatch.setenv("DNADAV_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"
    cached_evaluate_sets(inputs, cached=["real b"], **keywords)
    (entry,) = (tmp_path / "mine" / "evaluate").glob("*.npz")
    entry.write_bytes(b"not an npz")
    _assert_identical(cached_evaluate_sets(inputs, cached=["real b"], **keywords), whole)  # recomputed, rewritten
    assert np.load(entry, allow_pickle=False)["__meta__"].size > 0
    monkeypatch.setenv("DNADAV_CACHE_DIR", "off")
    assert cache_dir() is None
    monkeypatch.delenv("DNADAV_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "dnadav"


def test_what_cannot_be_hashed_is_computed_not_cached(tmp_path):
    from dnadav.evaluate.reference_cache import cached_evaluate_sets, fingerprint

    inputs, keywords = _world()
    lambda_loglik = {**keywords, "log_likelihood": lambda tokens: -tokens.float().sum(dim=1)}
    result = cached_evaluate_sets(inputs, cached=["real b"], folder=tmp_path, **lambda_loglik)
    assert not (tmp_path / "evaluate").exists() and "real b" in result.summary.index
    assert fingerprint(keywords["log_likelihood"]) is not None  # prior_log_likelihood's closure: prior, seed, rows
    wrapped = torch.nn.Sequential(torch.nn.Linear(2, 2))
    wrapped.score = lambda x: x  # a scoring function nobody can hash
    assert fingerprint(wrapped) is None and fingerprint(torch.nn.Linear(2, 2)) is not None


def test_the_shipped_scorers_can_be_hashed():
    # otherwise `dnadav evaluate` would silently never use the cache
    from dnadav.evaluate.evaluator import prior_log_likelihood
    from dnadav.evaluate.reference_cache import fingerprint
    from dnadav.loaders import load_model, load_oracle

    prior = load_model("dhs_prior")
    for scorer in (load_oracle("hepg2", role="reward"), load_oracle("hepg2", role="eval"), prior, prior_log_likelihood(prior)):
        assert fingerprint(scorer) is not None, scorer


def test_an_unknown_app_log_lik_estimator_is_one_input_error():
    import dnadav
    from dnadav.errors import InputError

    with pytest.raises(InputError, match="loglik_times must be count or stratified"):
        dnadav.evaluate({"x": ["ACGT" * 50]}, loglik_times="antithetic")


def test_the_reference_ranking_is_computed_once_per_oracle_and_sequences(tmp_path, monkeypatch):
    from dnadav.evaluate.reference import rank_by_oracle

    _, keywords = _world()
    oracle = keywords["eval_oracle"]
    table = pd.DataFrame({"sequence": keywords["reference"]})
    calls: list[int] = []
    oracle.register_forward_pre_hook(lambda module, args: calls.append(len(args[0])))  # hooks are not in the key
    monkeypatch.setenv("DNADAV_CACHE_DIR", "off")
    fresh = rank_by_oracle(table, oracle)
    per_call = len(calls)
    assert per_call >= 1 and rank_by_oracle(table, oracle) == fresh and len(calls) == 2 * per_call  # off: computed each time
    with torch.no_grad():
        score = oracle.reward(strings_to_onehot(keywords["reference"]))
    assert fresh == score.argsort(descending=True, stable=True).tolist()
    monkeypatch.setenv("DNADAV_CACHE_DIR", str(tmp_path))
    calls.clear()
    assert rank_by_oracle(table, oracle) == fresh and len(calls) == per_call  # computed and stored
    assert rank_by_oracle(table, oracle) == fresh and len(calls) == per_call  # read from the file
    (stored,) = (tmp_path / "ranking").glob("*.npz")
    assert stored.stat().st_mode & 0o777 == 0o666 & ~_umask()  # an ordinary file's mode, not a temporary file's 0600
    assert rank_by_oracle(table.iloc[::-1].reset_index(drop=True), oracle) == [
        19 - i for i in fresh
    ]  # other sequences: a new key
    with torch.no_grad():
        next(oracle.parameters()).add_(1e-3)  # other weights: a new key
    rank_by_oracle(table, oracle)
    assert len(calls) == 3 * per_call and len(list((tmp_path / "ranking").glob("*.npz"))) == 3
