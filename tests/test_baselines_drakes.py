"""DRAKES-style fine-tuning on tiny models: where the gradient flows, the KL's zero, a toy reward rises."""

from __future__ import annotations

import torch

from dnadav.baselines.drakes import DrakesConfig, drakes_loss, finetune, relaxed_trajectory
from dnadav.dna.backbone import ConvDenoiser, ConvDenoiserConfig
from dnadav.dna.tokens import NUM_BASES


class StepTable(torch.nn.Module):
    """Logits ``table[j]`` (same at every position) at grid step j = round((1 − t)·T): one row per step."""

    def __init__(self, num_steps: int):
        super().__init__()
        self.num_steps = num_steps
        self.table = torch.nn.Parameter(torch.randn(num_steps, NUM_BASES, generator=torch.Generator().manual_seed(0)))

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        step = torch.round((1.0 - t) * self.num_steps).long().clamp(0, self.num_steps - 1)
        return self.table[step][:, None, :].expand(x_t.shape[0], x_t.shape[1], NUM_BASES)


def g_fraction(onehot: torch.Tensor) -> torch.Tensor:
    return onehot[:, 2].mean(dim=-1)


def test_gradient_reaches_only_the_last_k_steps():
    for straight_through in (True, False):
        model = StepTable(8)
        config = DrakesConfig(num_steps=8, truncate_steps=3, kl_weight=0.0, batch_size=16, straight_through=straight_through)
        x0, _ = relaxed_trajectory(model, None, 16, 6, config, generator=torch.Generator().manual_seed(1))
        g_fraction(x0).sum().backward()
        per_step = model.table.grad.abs().sum(dim=-1)
        assert torch.all(per_step[:5] == 0)
        assert torch.all(per_step[5:] > 0)


def test_path_kl_is_zero_for_the_prior_and_positive_otherwise():
    prior = StepTable(6)
    config = DrakesConfig(num_steps=6, truncate_steps=6, kl_weight=1.0, batch_size=8)
    _, kl = relaxed_trajectory(prior, prior, 8, 5, config, generator=torch.Generator().manual_seed(2))
    assert torch.all(kl == 0)
    other = StepTable(6)
    with torch.no_grad():
        other.table[:, 0] += 1.0
    _, kl = relaxed_trajectory(other, prior, 8, 5, config, generator=torch.Generator().manual_seed(2))
    assert torch.all(kl > 0)


def test_loss_adds_weighted_kl():
    prior, other = StepTable(4), StepTable(4)
    with torch.no_grad():
        other.table[:, 1] += 0.5
    config = DrakesConfig(num_steps=4, truncate_steps=2, kl_weight=2.0, batch_size=8)
    loss, parts = drakes_loss(other, prior, g_fraction, 5, config, generator=torch.Generator().manual_seed(3))
    assert parts["path_kl"] > 0
    assert abs(parts["loss"] - (-parts["reward"] + 2.0 * parts["path_kl"])) < 1e-5


def test_a_few_steps_raise_a_toy_reward():
    torch.manual_seed(0)
    prior = ConvDenoiser(ConvDenoiserConfig(channels=16, num_blocks=2, time_embedding_dim=8, dropout=0.0)).eval()
    config = DrakesConfig(num_steps=6, truncate_steps=3, kl_weight=0.01, batch_size=32, iterations=15, lr=3e-2)
    model, history = finetune(prior, g_fraction, 12, config)
    plain = DrakesConfig(num_steps=6, truncate_steps=1, kl_weight=0.0, batch_size=256)
    with torch.no_grad():
        before = g_fraction(relaxed_trajectory(prior, None, 256, 12, plain, generator=torch.Generator().manual_seed(9))[0])
        after = g_fraction(relaxed_trajectory(model, None, 256, 12, plain, generator=torch.Generator().manual_seed(9))[0])
    assert float(after.mean()) > float(before.mean()) + 0.1
    assert len(history) == 15


def test_a_second_run_from_the_same_prior_object_learns_too():
    """bench_methods trains one seed after another from one loaded prior: the second copy must train
    (it stayed frozen once, and its reward never rose), and the prior itself stays unchanged."""
    torch.manual_seed(0)
    prior = ConvDenoiser(ConvDenoiserConfig(channels=16, num_blocks=2, time_embedding_dim=8, dropout=0.0)).eval()
    before = {k: v.clone() for k, v in prior.state_dict().items()}
    config = DrakesConfig(num_steps=6, truncate_steps=3, kl_weight=0.01, batch_size=8, iterations=2, lr=3e-2)
    for seed in (0, 1):
        model, history = finetune(prior, g_fraction, 12, DrakesConfig(**{**config.as_dict(), "seed": seed}))
        assert history[-1]["path_kl"] > 0
        assert any(not torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert all(torch.equal(v, before[k]) for k, v in prior.state_dict().items())
