"""Toy distributions and exact denoisers with known answers, shared by the tests."""

from __future__ import annotations

import itertools

import torch

from dnadav.dna.sampler import MaskedDiffusion
from dnadav.dna.tokens import MASK_INDEX, NUM_BASES


def all_sequences(length: int) -> torch.Tensor:
    """Every sequence of ``length`` over ACGT -> ``[4**length, length]`` in lexicographic order."""
    return torch.tensor(list(itertools.product(range(NUM_BASES), repeat=length)), dtype=torch.long)


def random_distribution(length: int, seed: int, concentration: float = 0.5) -> torch.Tensor:
    """A random (Dirichlet) joint distribution over all ``4**length`` sequences -> ``[4**length]``."""
    generator = torch.Generator().manual_seed(seed)
    gamma = torch.distributions.Gamma(torch.full((NUM_BASES**length,), concentration), torch.ones(1))
    torch.manual_seed(seed)  # Gamma has no generator argument; tests only
    del generator
    probs = gamma.sample()
    return probs / probs.sum()


class ExactDenoiser:
    """The true posterior ``p(x0_i | x_t)`` of a known joint distribution over short sequences.

    For each masked position i it conditions the joint on the unmasked positions and marginalises
    the other masked ones: exactly what an optimal network would learn.
    """

    def __init__(self, joint: torch.Tensor, length: int):
        self.joint = joint.double()
        self.support = all_sequences(length)  # [S, L]
        self.powers = 5 ** torch.arange(length - 1, -1, -1)
        states = torch.tensor(list(itertools.product(range(NUM_BASES + 1), repeat=length)))
        self.table = self._posterior(states)  # one row per possible x_t (5**L of them)

    def _posterior(self, x_t: torch.Tensor) -> torch.Tensor:
        observed = x_t != MASK_INDEX  # [B, L]
        # agree[b, s]: sequence s matches x_t[b] at every unmasked position
        agree = (self.support[None] == x_t[:, None]) | ~observed[:, None]
        weights = self.joint[None] * agree.all(dim=-1)  # [B, S]
        onehot = torch.nn.functional.one_hot(self.support, NUM_BASES).double()  # [S, L, 4]
        marginals = torch.einsum("bs,slv->blv", weights, onehot)
        marginals = marginals / marginals.sum(dim=-1, keepdim=True).clamp_min(1e-300)
        return torch.log(marginals.clamp_min(1e-300)).float()

    def __call__(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.table[(x_t * self.powers).sum(dim=-1)]


def exact_continuous_elbo(denoiser, x0: torch.Tensor) -> torch.Tensor:
    """The continuous-time (log-linear, eps → 0) ELBO of ``x0 [B, L]`` computed exactly by
    enumerating mask sets: ``Σ_M (m-1)!(L-m)!/L! · Σ_{i∈M} log p(x0_i | x0 outside M)`` -> ``[B]``.

    (∫_0^1 t^{m-1}(1-t)^{L-m} dt = B(m, L-m+1) is the weight of a mask set of size m.)
    """
    import math

    batch, length = x0.shape
    total = torch.zeros(batch, dtype=torch.float64)
    for mask in itertools.product([False, True], repeat=length):
        m = sum(mask)
        if m == 0:
            continue
        mask_t = torch.tensor(mask)
        x_t = torch.where(mask_t[None], torch.full_like(x0, MASK_INDEX), x0)
        log_probs = torch.log_softmax(denoiser(x_t, torch.full((batch,), 0.5)).double(), dim=-1)
        picked = log_probs.gather(-1, x0[..., None]).squeeze(-1)
        weight = math.factorial(m - 1) * math.factorial(length - m) / math.factorial(length)
        total += weight * (picked * mask_t[None]).sum(dim=-1)
    return total


class TableDenoiser:
    """An arbitrary (generally inconsistent) denoiser: a fixed random logit table indexed by the
    whole state ``x_t`` (5**L states). Its conditionals are not those of any single joint."""

    def __init__(self, length: int, seed: int, scale: float = 2.0):
        generator = torch.Generator().manual_seed(seed)
        self.length = length
        self.table = scale * torch.randn(5**length, length, NUM_BASES, generator=generator)
        self.powers = 5 ** torch.arange(length - 1, -1, -1)

    def __call__(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.table[(x_t * self.powers).sum(dim=-1)]


def any_order_model_probability(denoiser, length: int) -> torch.Tensor:
    """The distribution sampled by the continuous-time reverse process (one position unmasked at a
    time, in uniformly random order): ``p(x) = mean_σ Π_i p(x_σi | x_σ<i)`` -> ``[4**length]``."""
    x0 = all_sequences(length)
    total = torch.zeros(len(x0), dtype=torch.float64)
    orders = list(itertools.permutations(range(length)))
    for order in orders:
        x_t = torch.full_like(x0, MASK_INDEX)
        log_p = torch.zeros(len(x0), dtype=torch.float64)
        for position in order:
            log_probs = torch.log_softmax(denoiser(x_t, torch.full((len(x0),), 0.5)).double(), dim=-1)
            log_p += log_probs[torch.arange(len(x0)), position, x0[:, position]]
            x_t = x_t.clone()
            x_t[:, position] = x0[:, position]
        total += log_p.exp()
    return total / len(orders)


class TimeDependentDenoiser:
    """A denoiser whose logits depend on the state and on the time: ``table[x_t] + 4 t · slope[x_t]``
    (two fixed random tables over the 5**L states). A call at the wrong grid time gives other
    numbers (and, for some states, another argmax), which a time-blind toy cannot show."""

    def __init__(self, length: int, seed: int, scale: float = 1.5):
        generator = torch.Generator().manual_seed(seed)
        self.table = scale * torch.randn(5**length, length, NUM_BASES, generator=generator)
        self.slope = scale * torch.randn(5**length, length, NUM_BASES, generator=generator)
        self.powers = 5 ** torch.arange(length - 1, -1, -1)

    def __call__(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        index = (x_t * self.powers).sum(dim=-1)
        return self.table[index] + 4.0 * t.float()[:, None, None] * self.slope[index]


class RecordingProcess(MaskedDiffusion):
    """``MaskedDiffusion`` that records every ``propose`` call: ``(x_t, t, s, proposal)`` per step, so a
    test sees each step's whole population before selection or resampling."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.steps: list[tuple[torch.Tensor, float, float, object]] = []

    def propose(self, prediction, x, t, s, num_children, generator, guidance=None):
        proposal = super().propose(prediction, x, t, s, num_children, generator, guidance)
        self.steps.append((x.clone(), float(t), float(s), proposal))
        return proposal


def tiny_pixel_pipeline(root, size: int):
    """A random pixel-space diffusers pipeline of 1×``size``×``size`` images (a 2-block UNet, a 100-step
    DDIM scheduler) saved to the folder ``root``; returns ``root``."""
    import json

    from diffusers import DDIMScheduler, UNet2DModel

    torch.manual_seed(0)
    unet = UNet2DModel(sample_size=size, in_channels=1, out_channels=1, layers_per_block=1, block_out_channels=(8, 16),
                       down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"),
                       norm_num_groups=4)  # fmt: skip
    unet.save_pretrained(root / "unet")
    DDIMScheduler(num_train_timesteps=100, clip_sample=False).save_pretrained(root / "scheduler")
    (root / "model_index.json").write_text(json.dumps({"_class_name": "DDPMPipeline", "unet": ["diffusers", "UNet2DModel"],
                                                       "scheduler": ["diffusers", "DDIMScheduler"]}))  # fmt: skip
    return root
