"""A third modality in one file: a masked process over ONE categorical token of K classes, implementing
``dnadav.core.protocol.ReverseProcess``, run through the core (plain sampling, the E-step, one EM
iteration) and the jobs layer (``dnadav.jobs.modality``) without touching any other file.

State ``x [N]`` int64: a class 0..K-1, or ``K`` (masked) until it is drawn. On the grid t = 1 -> 0 a
masked token is unmasked between t and s with probability (t − s)/t, from the network's
``softmax(logits)``; so the clean law is exactly ``softmax(logits)`` and the tilted target of the
E-step is ``softmax(logits) · exp(r/α)``. The reward takes the one-hot clean token ``[N, K]``.
"""

from __future__ import annotations

import math

import pytest
import torch

from dnadav.core.config import EMConfig
from dnadav.core.em import DAVModule
from dnadav.core.fit import fit_em
from dnadav.core.protocol import Proposal, ReverseProcess, sample_process
from dnadav.core.search import SearchConfig, search_process
from dnadav.jobs.modality import ModalityOptions, align_process, sample

K = 4
MASK = K


class Logits(torch.nn.Module):
    """The toy network: one logit per class, whatever the state."""

    def __init__(self, logits: list[float]):
        super().__init__()
        self.logits = torch.nn.Parameter(torch.tensor(logits))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(self.logits, -1).expand(x.shape[0], K)


class OneToken:
    """The categorical reverse process (``ReverseProcess``) around ``network``."""

    def __init__(self, network: torch.nn.Module):
        self.network = network

    def time_grid(self, num_steps: int) -> torch.Tensor:
        return torch.linspace(1.0, 0.0, num_steps + 1)

    def initial_state(self, num: int, generator: torch.Generator | None) -> torch.Tensor:
        return torch.full((num,), MASK, dtype=torch.long)

    def predict(self, x, t, context, network=None):
        return (network or self.network)(x, t)  # log p [N, K]

    def propose(self, prediction, x, t, s, num_children, generator, guidance=None) -> Proposal:
        x = x.repeat_interleave(num_children)
        log_p = prediction.repeat_interleave(num_children, dim=0)
        draw = torch.multinomial(log_p.exp(), 1, generator=generator).squeeze(1)
        unmask = torch.rand(x.shape, generator=generator) < (t - s) / t
        return Proposal(torch.where((x == MASK) & unmask, draw, x))

    def clean_estimate(self, prediction, x, num_samples, generator):
        if num_samples is None:
            return self.decode(torch.where(x == MASK, prediction.argmax(-1), x))
        draws = torch.multinomial(prediction.exp(), num_samples, replacement=True, generator=generator).T
        return self.decode(torch.where(x == MASK, draws, x).reshape(-1))

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.one_hot(x, K).float()

    def transition_log_prob(self, prediction, x_t, x_s, t, s):
        newly = (x_t == MASK) & (x_s != MASK)
        return torch.where(newly, prediction.gather(1, x_s.clamp(max=K - 1)[:, None]).squeeze(1), torch.zeros_like(t))

    def divergence(self, prediction, reference, x_t, t, s):
        kl = (prediction.exp() * (prediction - reference)).sum(-1)
        return torch.where(x_t == MASK, (t - s) / t * kl, torch.zeros_like(kl))

    def sample_loss(self, network, x0, context, generator):
        return -network(x0, torch.zeros(x0.shape[0])).gather(1, x0[:, None]).squeeze(1)


PRIOR = [0.0, 0.5, -0.5, 0.2]
REWARD = torch.tensor([0.0, 0.0, 0.0, 1.0])  # class 3 is rewarded


def reward(onehot: torch.Tensor) -> torch.Tensor:
    return onehot @ REWARD


def frequencies(x: torch.Tensor) -> torch.Tensor:
    return torch.bincount(x, minlength=K).float() / x.numel()


def test_the_toy_implements_every_method_of_the_protocol():
    process = OneToken(Logits(PRIOR))
    methods = [n for n, v in vars(ReverseProcess).items() if callable(v) and not n.startswith("_")]
    assert "propose" in methods and "sample_loss" in methods
    assert all(callable(getattr(process, name, None)) for name in methods)
    assert isinstance(process.network, torch.nn.Module)


def test_plain_sampling_draws_the_network_law():
    process = OneToken(Logits(PRIOR))
    x = sample_process(process, 20000, 8, torch.Generator().manual_seed(0))
    assert bool((x != MASK).all())
    assert torch.allclose(frequencies(x), torch.softmax(torch.tensor(PRIOR), -1), atol=0.015)


def test_the_estep_tilts_toward_the_reward_and_keeps_the_law_at_zero_reward():
    process = OneToken(Logits(PRIOR))
    alpha = 0.5
    config = SearchConfig(num_children=128, reward_temperature=alpha, num_steps=1, mode="per_sequence")
    result = search_process(process, reward, 20000, config, torch.Generator().manual_seed(1))
    p = torch.softmax(torch.tensor(PRIOR), -1)
    target = p * torch.exp(REWARD / alpha)
    # one step from all-masked: sampling-importance-resampling, whose law tends to the tilted one as M grows
    assert torch.allclose(frequencies(result.sequences), target / target.sum(), atol=0.02)
    assert result.stats.oracle_calls == 20000 * 128
    flat = search_process(process, lambda c: torch.zeros(c.shape[0]), 20000, config, torch.Generator().manual_seed(2))
    assert torch.allclose(frequencies(flat.sequences), p, atol=0.015)  # reward ≡ 0: the model's own law


def test_one_em_iteration_through_the_core_moves_the_model_toward_the_reward(tmp_path):
    network = Logits(PRIOR)
    before = torch.softmax(network.logits.detach().clone(), -1)[3]
    config = EMConfig(
        iterations=1,
        sequences_per_iteration=64,
        search=SearchConfig(num_children=8, reward_temperature=0.2, num_steps=4),
        inner_epochs=4,
        batch_size=32,
        lr=0.1,
    )
    module = DAVModule(network, reward, config, OneToken(network))
    fit_em(module, tmp_path, accelerator="cpu", progress=False)
    assert len(module.history) == 1 and module.history[0]["estep/reward_mean"] > 0.5
    assert torch.softmax(network.logits.detach(), -1)[3] > before
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()


def test_the_jobs_layer_runs_sampling_search_and_one_em_iteration(tmp_path):
    network = Logits(PRIOR)
    process = OneToken(network)
    plain = sample(process, ModalityOptions(num=4000, steps=4, seed=3))
    searched = sample(process, ModalityOptions(num=4000, steps=4, children=8, temperature=0.2, seed=3), reward)
    assert frequencies(searched)[3] > frequencies(plain)[3] + 0.3
    with pytest.raises(ValueError, match="needs a reward_fn"):
        sample(process, ModalityOptions(children=2))
    options = ModalityOptions(num=32, steps=4, children=8, temperature=0.2, inner_epochs=4, batch_size=32, lr=0.1)
    before = float(torch.softmax(network.logits.detach(), -1)[3])
    module = align_process(
        network, process, reward, options, tmp_path, reference=Logits(PRIOR), accelerator="cpu", progress=False
    )
    assert len(module.history) == 1 and not math.isnan(module.history[0]["estep/reward_mean"])
    assert float(torch.softmax(network.logits.detach(), -1)[3]) > before
