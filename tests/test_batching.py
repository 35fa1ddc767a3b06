"""Row chunking (dnadav.core.batching): chunked and unchunked calls give the same outputs on tiny models.

search()/sample() under chunking are covered in tests/test_core_process.py; this file covers the
helper itself, a network, an oracle and sequence_elbo."""

from __future__ import annotations

import pytest
import torch

from dnadav.core.batching import chunked_call, default_max_batch, resolve_max_batch
from dnadav.dna.backbone import ConvDenoiser, ConvDenoiserConfig
from dnadav.dna.masked import sequence_elbo
from dnadav.oracles.base import CellTypeOracle
from dnadav.oracles.cnn import ConvClassifier, ConvClassifierConfig


def _denoiser() -> ConvDenoiser:
    torch.manual_seed(0)
    config = ConvDenoiserConfig(channels=16, num_blocks=2, kernel_size=3, dilations=(1, 2), time_embedding_dim=8)
    return ConvDenoiser(config).eval()


def test_chunked_call_splits_rows_and_concatenates_in_order():
    calls = []

    def fn(a, b):
        calls.append(a.shape[0])
        return a * 10 + b

    a, b = torch.arange(10), torch.arange(10) % 3
    out = chunked_call(fn, a, b, max_batch=4)
    assert calls == [4, 4, 2]
    assert torch.equal(out, a * 10 + b)
    calls.clear()
    chunked_call(fn, a, b, max_batch=None)
    assert calls == [10]


def test_resolve_max_batch():
    assert resolve_max_batch("auto", "cpu") == default_max_batch("cpu")
    assert resolve_max_batch(None, "cpu") is None and resolve_max_batch(0, "cpu") is None
    assert resolve_max_batch(7, "cpu") == 7
    for bad in (-1, 2.5, True, "big"):
        with pytest.raises(ValueError):
            resolve_max_batch(bad, "cpu")


@torch.no_grad()
def test_chunked_network_and_oracle_match_one_call():
    denoiser = _denoiser()
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, 5, (37, 12), generator=g)
    t = torch.rand(37, generator=g)
    whole = denoiser(x, t)
    for rows in (1, 5, 16):
        assert torch.allclose(chunked_call(denoiser, x, t, max_batch=rows), whole, atol=1e-5, rtol=1e-5)
    torch.manual_seed(0)
    oracle = CellTypeOracle(
        ConvClassifier(ConvClassifierConfig(num_outputs=3, channels=8, first_kernel=5, kernels=(3,))), ("a", "b", "c"), "b"
    ).eval()
    onehot = torch.nn.functional.one_hot(torch.randint(0, 4, (37, 12), generator=g), 4).float().transpose(1, 2)
    whole = oracle.reward(onehot)
    for rows in (1, 5, 16):
        assert torch.allclose(chunked_call(oracle.reward, onehot, max_batch=rows), whole, atol=1e-5, rtol=1e-5)


def test_sequence_elbo_does_not_depend_on_max_batch():
    denoiser = _denoiser()
    x0 = torch.randint(0, 4, (9, 12), generator=torch.Generator().manual_seed(2))

    def elbo(max_batch, batch_size=1024):
        g = torch.Generator().manual_seed(0)
        return sequence_elbo(denoiser, x0, num_time_samples=3, generator=g, batch_size=batch_size, max_batch=max_batch)

    whole = elbo(None)
    for rows in (1, 4, 64):
        assert torch.allclose(elbo(rows), whole, atol=1e-4, rtol=1e-6)
    # the random stream is fixed by batch_size (masking blocks), not by max_batch
    assert torch.allclose(elbo(4, batch_size=10), elbo(None, batch_size=10), atol=1e-4, rtol=1e-6)
