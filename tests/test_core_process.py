"""The one reverse step: chunking never changes results, DAV-KL is the exact KL of a reverse step,
and the protocol drivers (sample_process, search_process) work for any process."""

import math

import pytest
import torch

from dnadav.core.batching import chunked_call, resolve_max_batch
from dnadav.core.search import SearchConfig
from dnadav.dna import ConvDenoiser, ConvDenoiserConfig, LogLinearSchedule, MaskedDiffusion, sample
from dnadav.dna.sampler import reverse_log_probs
from dnadav.dna.search import search
from dnadav.dna.tokens import MASK_INDEX
from tests.toys import ExactDenoiser, random_distribution


def count_of_g(onehot: torch.Tensor) -> torch.Tensor:
    return onehot[:, 2].sum(dim=-1)


def test_chunked_call_equals_one_call_and_splits_rows():
    seen = []

    def fn(x, y):
        seen.append(x.shape[0])
        return x * 2 + y

    x, y = torch.arange(10.0), torch.ones(10)
    assert torch.equal(chunked_call(fn, x, y, max_batch=4), fn(x, y))
    assert seen == [4, 4, 2, 10]
    assert resolve_max_batch("auto", "cpu") == 64 and resolve_max_batch(None, "cpu") is None
    with pytest.raises(ValueError, match="max_batch"):
        resolve_max_batch(-3, "cpu")


@pytest.mark.parametrize("mode", ["per_sequence", "smc"])
def test_search_outputs_do_not_depend_on_the_chunk_size(mode):
    # An exact table denoiser gives the same numbers whatever the batch, so any difference would
    # come from chunking reordering rows or random draws.
    denoiser = ExactDenoiser(random_distribution(3, seed=4), 3)
    config = SearchConfig(num_children=5, num_steps=4, reward_temperature=0.5, mode=mode, ess_threshold=0.9)
    runs = [
        search(denoiser, count_of_g, 9, 3, config, generator=torch.Generator().manual_seed(1), max_batch=chunk)
        for chunk in (None, 4, 7)
    ]
    for other in runs[1:]:
        assert torch.equal(other.trajectory.states, runs[0].trajectory.states)
        assert torch.equal(other.rewards, runs[0].rewards)


def test_sampling_with_a_real_network_is_unchanged_by_chunking():
    torch.manual_seed(0)
    model = ConvDenoiser(ConvDenoiserConfig(channels=16, num_blocks=2, kernel_size=3, dilations=(1, 2), dropout=0.0))
    x = torch.full((12, 10), MASK_INDEX)
    x[:, ::3] = 1
    t = torch.full((12,), 0.5)
    whole = MaskedDiffusion(model, 10, max_batch=None).predict(x, t)
    pieces = MaskedDiffusion(model, 10, max_batch=5).predict(x, t)
    torch.testing.assert_close(pieces, whole, rtol=1e-5, atol=1e-6)
    a = sample(model, 12, 10, 6, generator=torch.Generator().manual_seed(3), max_batch=None)
    b = sample(model, 12, 10, 6, generator=torch.Generator().manual_seed(3), max_batch=64)
    assert torch.equal(a, b)


def test_dav_kl_is_the_exact_kl_of_one_reverse_step():
    # Enumerate the reverse step's full distribution over (A, C, G, T, MASK) at every position for
    # model and reference and compare KL(p_θ(x_s|x_t) ‖ p_ref(x_s|x_t)) with the closed form.
    schedule = LogLinearSchedule()
    process = MaskedDiffusion(None, 3, schedule)
    generator = torch.Generator().manual_seed(0)
    log_model = torch.log_softmax(torch.randn(2, 3, 4, generator=generator), dim=-1)
    log_ref = torch.log_softmax(torch.randn(2, 3, 4, generator=generator), dim=-1)
    x_t = torch.tensor([[MASK_INDEX, 1, MASK_INDEX], [MASK_INDEX, MASK_INDEX, MASK_INDEX]])
    for t_value, s_value in ((0.9, 0.6), (0.2, 0.1), (1.0, 0.97)):
        t, s = torch.full((2,), t_value), torch.full((2,), s_value)
        model_step = reverse_log_probs(log_model, x_t, schedule.alpha(t), schedule.alpha(s))
        ref_step = reverse_log_probs(log_ref, x_t, schedule.alpha(t), schedule.alpha(s))
        p = model_step.exp()
        exact = (p * (model_step - ref_step)).sum(dim=(-1, -2))  # positions are independent
        torch.testing.assert_close(process.divergence(log_model, log_ref, x_t, t, s), exact, rtol=1e-5, atol=1e-7)


def test_dav_kl_weights_late_steps_more_than_early_ones_on_a_uniform_grid():
    # On a log-linear schedule with T uniform steps the unmasking probability at step t -> t − 1/T is
    # (1/T) / t: the first step (t = 1) weighs 1/T, the last (t = 1/T) weighs 1.
    process = MaskedDiffusion(None, 1, LogLinearSchedule(eps=0.0))
    log_model = torch.log(torch.tensor([[[0.7, 0.1, 0.1, 0.1]]]))
    log_ref = torch.log(torch.full((1, 1, 4), 0.25))
    x_t = torch.tensor([[MASK_INDEX]])
    predictive = 0.7 * math.log(0.7 / 0.25) + 3 * 0.1 * math.log(0.1 / 0.25)
    first = process.divergence(log_model, log_ref, x_t, torch.tensor([1.0]), torch.tensor([0.75])).item()
    last = process.divergence(log_model, log_ref, x_t, torch.tensor([0.25]), torch.tensor([0.0])).item()
    assert first == pytest.approx(predictive / 4, rel=1e-5) and last == pytest.approx(predictive, rel=1e-5)
