"""bf16 autocast inference: float32 logits close to the float32 forward, the same module underneath."""

import pytest
import torch

from dnadav.dna import ConvDenoiser, ConvDenoiserConfig, sample
from dnadav.errors import InputError
from dnadav.precision import AutocastDenoiser, with_precision


def tiny():
    torch.manual_seed(0)
    return ConvDenoiser(ConvDenoiserConfig(channels=16, num_blocks=2, kernel_size=3, dilations=(1, 2))).eval()


def test_fp32_is_the_network_itself_and_bf16_wraps_it():
    net = tiny()
    assert with_precision(net, "fp32") is net
    wrapped = with_precision(net, "bf16")
    assert isinstance(wrapped, AutocastDenoiser) and wrapped.network is net
    assert [p.data_ptr() for p in wrapped.parameters()] == [p.data_ptr() for p in net.parameters()]
    with pytest.raises(InputError, match="precision"):
        with_precision(net, "fp8")


def test_bf16_logits_are_float32_and_close():
    net = tiny()
    g = torch.Generator().manual_seed(1)
    x, t = torch.randint(0, 5, (8, 24), generator=g), torch.rand(8, generator=g)
    with torch.no_grad():
        exact, low = net(x, t), with_precision(net, "bf16")(x, t)
    assert low.dtype == torch.float32 and low.shape == exact.shape
    assert not torch.equal(low, exact)  # it really ran in bf16
    torch.testing.assert_close(low, exact, atol=0.1, rtol=0.05)


def test_sampling_runs_in_bf16():
    tokens = sample(with_precision(tiny(), "bf16"), 4, 24, 6, generator=torch.Generator().manual_seed(0))
    assert tokens.shape == (4, 24) and int(tokens.max()) < 4
