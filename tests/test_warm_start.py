"""The warm start from data (``dnadav.core.warm_start``): the kept data follow the data's law tilted by
exp(r/α) at the α solved for the ESS (closed form), the fit brings the model's exact law to that tilted law
(an enumerable masked process), and an align run starts from — and resumes with — the fitted model."""

from __future__ import annotations

import json
import math

import pytest
import torch

from dnadav.core.importance import effective_sample_size
from dnadav.core.warm_start import WarmStart, fit_clean_samples, tilt_data, warm_start
from dnadav.dna.sampler import MaskedDiffusion
from dnadav.dna.tokens import MASK_INDEX, NUM_BASES
from tests.toys import all_sequences, any_order_model_probability, random_distribution


def two_level_beta(share: float, target_ess: float) -> float:
    """β = 1/α at which weights e^β (a ``share`` of the data, reward 1) and 1 (the rest, reward 0) have Kish ESS
    ``target_ess``·N: with u = e^β, (s·u + 1 − s)² = ρ·(s·u² + 1 − s), the root u > 1."""
    s, rho = share, target_ess
    a, b, c = s * s - rho * s, 2 * s * (1 - s), (1 - s) ** 2 - rho * (1 - s)
    return math.log((-b - math.sqrt(b * b - 4 * a * c)) / (2 * a))


@pytest.mark.parametrize("target_ess", [0.3, 0.5])
def test_the_kept_data_are_the_tilted_share_at_the_closed_form_temperature(target_ess):
    n, share, kept = 10_000, 0.2, 4096
    rewards = (torch.arange(n) < n * share).double()
    indices, temperature, ess = tilt_data(rewards, target_ess, kept, torch.Generator().manual_seed(0))
    beta = two_level_beta(share, target_ess)
    assert 1 / temperature == pytest.approx(beta, rel=1e-6)
    assert ess == pytest.approx(target_ess * n, rel=1e-6)
    expected = share * math.exp(beta) / (share * math.exp(beta) + 1 - share)  # the tilted law's share of reward 1
    assert abs(float(rewards[indices].mean()) - expected) <= 1 / kept
    # systematic resampling: each sample kept ⌊kept·w_i⌋ or ⌈kept·w_i⌉ times
    weights = torch.softmax(rewards / temperature, 0)
    counts = torch.bincount(indices, minlength=n).double()
    assert ((counts - kept * weights).abs() < 1).all()


class LearnableTable(torch.nn.Module):
    """A denoiser whose logits are a free table indexed by the whole state x_t (5**L rows): any law over
    4**L sequences is within its reach, so the fit's optimum is the data law itself."""

    def __init__(self, length: int):
        super().__init__()
        self.table = torch.nn.Parameter(torch.zeros(5**length, length, NUM_BASES))
        self.powers = 5 ** torch.arange(length - 1, -1, -1)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.table[(x_t * self.powers).sum(dim=-1)]


def g_count(onehot: torch.Tensor) -> torch.Tensor:
    return onehot[:, 2].sum(dim=-1)  # [N, 4, L] -> the number of G


def tilted_data_law(data: torch.Tensor, rewards: torch.Tensor, temperature: float, length: int) -> torch.Tensor:
    """The data's empirical law tilted by exp(r/α) over all 4**L sequences -> ``[4**L]``."""
    index = (data * NUM_BASES ** torch.arange(length - 1, -1, -1)).sum(dim=-1)
    law = torch.zeros(NUM_BASES**length, dtype=torch.float64).index_add_(0, index, torch.exp(rewards.double() / temperature))
    return law / law.sum()


def test_the_fit_brings_the_models_law_to_the_tilted_data_law():
    length = 2
    joint = random_distribution(length, seed=3)
    data = all_sequences(length)[torch.multinomial(joint, 20_000, replacement=True, generator=torch.Generator().manual_seed(1))]
    process = MaskedDiffusion(LearnableTable(length), length)
    settings = WarmStart(steps=3000, kept=8192, target_ess=0.5, batch_size=1024, lr=0.01)
    result = warm_start(process, data, g_count, settings, torch.Generator().manual_seed(2))
    rewards = (data == 2).sum(dim=-1).double()
    target = tilted_data_law(data, rewards, result.temperature, length)
    untilted = tilted_data_law(data, rewards, math.inf, length)
    with torch.no_grad():
        model_law = any_order_model_probability(process.network, length)
    assert effective_sample_size(rewards / result.temperature) == pytest.approx(0.5 * len(data), rel=1e-6)
    assert 0.5 * float((model_law - target).abs().sum()) < 0.02  # the kept set itself is 0.008 from it
    assert 0.5 * float((untilted - target).abs().sum()) > 0.3  # the tilt is not small: the test can tell them apart
    assert result.reward_mean_kept > result.reward_mean_data
    assert len(result.losses) == 10 and result.losses[-1] < result.losses[0]


def test_the_fit_depends_on_its_generator_alone_not_on_the_global_stream_or_grad_mode():
    # dropout draws from torch's global stream; two fits in one process (e.g. two dnadav.align calls) must agree
    from dnadav.dna.backbone import ConvDenoiser, ConvDenoiserConfig

    length, data = 12, torch.randint(0, NUM_BASES, (64, 12), generator=torch.Generator().manual_seed(0))
    settings = WarmStart(steps=6, kept=32, target_ess=0.5, batch_size=8, lr=0.01)
    fitted = []
    for global_seed in (0, 1):
        torch.manual_seed(7)
        network = ConvDenoiser(ConvDenoiserConfig(channels=8, num_blocks=1, dropout=0.5))
        torch.manual_seed(global_seed)
        before = torch.get_rng_state()
        with torch.set_grad_enabled(global_seed == 0):  # a caller under no_grad (a bench script) fits the same
            warm_start(MaskedDiffusion(network, length), data, g_count, settings, torch.Generator().manual_seed(2))
        assert torch.equal(torch.get_rng_state(), before)  # the caller's global stream is left as it was
        fitted.append(network.state_dict())
    assert all(torch.equal(fitted[0][k], fitted[1][k]) for k in fitted[0])


def test_tail_averaging_keeps_the_mean_of_the_last_iterates_and_zero_keeps_the_last():
    # a fit of j steps is the first j steps of a longer fit (same generator), so the iterates W_1..W_n are
    # fits of 1..n steps: tail_average = 3/6 must give (W_4 + W_5 + W_6) / 3, and 0 must give W_6 bit for bit
    from dnadav.dna.backbone import ConvDenoiser, ConvDenoiserConfig

    length, steps = 12, 6
    samples = torch.randint(0, NUM_BASES, (40, length), generator=torch.Generator().manual_seed(0))

    def fitted(num_steps: int, tail_average: float) -> dict[str, torch.Tensor]:
        torch.manual_seed(7)
        network = ConvDenoiser(ConvDenoiserConfig(channels=8, num_blocks=1, dropout=0.5))
        settings = WarmStart(steps=num_steps, kept=32, target_ess=0.5, batch_size=8, lr=0.05, tail_average=tail_average)
        fit_clean_samples(MaskedDiffusion(network, length), samples, settings, torch.Generator().manual_seed(2))
        return {k: v.clone() for k, v in network.named_parameters()}

    iterates = [fitted(j, 0.0) for j in range(1, steps + 1)]
    averaged = fitted(steps, 0.5)
    for name, value in averaged.items():
        expected = torch.stack([iterate[name] for iterate in iterates[3:]]).mean(dim=0)
        torch.testing.assert_close(value, expected, rtol=1e-5, atol=1e-6)
    assert any(not torch.allclose(iterates[-1][k], averaged[k]) for k in averaged)  # the mean is not the last iterate
    assert all(torch.equal(fitted(steps, 0.0)[k], iterates[-1][k]) for k in averaged)


def test_settings_out_of_range_are_refused():
    bad_settings = (dict(target_ess=1.0), dict(target_ess=0.0), dict(kept=0), dict(steps=-1), dict(batch_size=0))
    for bad in (*bad_settings, dict(tail_average=-0.1), dict(tail_average=1.5), dict(tail_average=math.nan)):
        with pytest.raises(ValueError, match="warm start"):
            WarmStart(**bad)


def test_an_align_run_starts_from_the_warm_model_and_a_resumed_run_reads_it_back(tmp_path):
    import dnadav
    from dnadav.data.example import write_example
    from dnadav.dna.checkpoint import load_denoiser
    from tests.test_byod import ORACLE_FILE

    data = write_example(tmp_path / "data", length=120, rows=400, seed=0)
    (tmp_path / "my_oracle.py").write_text(ORACLE_FILE)
    prior = tmp_path / "prior"
    dnadav.pretrain(data["sequences.fa"], prior, steps=12, channels=8, blocks=1, batch_size=32, accelerator="cpu")
    small = dict(prior=str(prior), oracle=f"{tmp_path}/my_oracle.py:Scorer", objective="gata",
                 reference=str(data["reference_valid.fa"]), sequences=4, children=2, steps=4, eval_sequences=4,
                 eval_steps=4, inner_epochs=1, min_naturalness=-1.0, batch_size=8, accelerator="cpu", quiet=True,
                 warm_start=20, warm_start_kept=64, warm_start_ess=0.2, warm_start_pool=200)  # fmt: skip
    dnadav.align(tmp_path / "run", iterations=1, **small)
    warm, saved = load_denoiser(tmp_path / "run" / "warm_start")
    record = saved["warm_start"]
    assert record["data"] == "the prior's training split (sequences.fa)" and record["steps"] == 20
    assert (record["data_sequences"], record["scored"]) == (328, 200)  # a random pool of the 328 training rows
    assert record["reward_mean_kept"] > record["reward_mean_data"]
    assert json.loads((tmp_path / "run" / "config.json").read_text())["warm_start"] == record
    start, _ = load_denoiser(prior)
    assert any(not torch.equal(a, b) for a, b in zip(warm.state_dict().values(), start.state_dict().values()))
    # the run is the run that starts from the warm model as its prior: the same model, bit for bit
    dnadav.align(
        tmp_path / "from_warm", iterations=1, **{**small, "prior": str(tmp_path / "run" / "warm_start"), "warm_start": 0}
    )
    ran, from_warm = (load_denoiser(tmp_path / r)[0].state_dict() for r in ("run", "from_warm"))
    assert all(torch.equal(ran[k], from_warm[k]) for k in ran)
    # resumed: the warm model is read back, not fitted again (its file is untouched), and the run goes on from it
    written = (tmp_path / "run" / "warm_start" / "model.pt").stat().st_mtime_ns
    (tmp_path / "run" / "model.pt").unlink()
    dnadav.align(tmp_path / "run", iterations=2, **small)
    assert (tmp_path / "run" / "warm_start" / "model.pt").stat().st_mtime_ns == written
    assert len(json.loads((tmp_path / "run" / "history.json").read_text())) == 2


def test_a_prior_that_names_no_training_data_is_refused_in_one_line(tmp_path):
    from dnadav.dna.config import AlignConfig
    from dnadav.errors import InputError
    from dnadav.jobs.align_warm import warm_start_sequences

    with pytest.raises(InputError, match="names no training data"):
        warm_start_sequences(AlignConfig(prior="x", warm_start_steps=10), {"schedule": "loglinear"})
    with pytest.raises(InputError, match="no such file"):
        warm_start_sequences(AlignConfig(warm_start_steps=10, warm_start_data=str(tmp_path / "none.fa")), {})


assert MASK_INDEX == NUM_BASES  # the table's 5**L rows index masked states too
