"""``GaussianDDIM``: stochastic DDIM (η > 0) over a diffusers UNet as a ``dnadav.core.protocol.ReverseProcess``.

States are latents ``[N, C, H, W]`` (pixels in [-1, 1] for a pixel-space model, VAE latents
for Stable Diffusion). The grid is the DDIM timestep ladder ``t_0 > … > t_{T-1}`` followed by
``-1``, which stands for the clean end (``ᾱ = final_alpha``). A *prediction* stacks the noise and
clean estimates, ``[N, 2, C, H, W]`` = (ε̂, x̂0), so every method can work row by row without
knowing t. One step ``x_t -> x_s``:

    x_s ~ N(μ, σ² I),  μ = √ᾱ_s · x̂0 + √(1 − ᾱ_s − σ²) · ε̂,
    σ = η · √((1 − ᾱ_s)/(1 − ᾱ_t)) · √(1 − ᾱ_t/ᾱ_s)          (Song et al., DDIM eq. 12/16)

A step with σ = 0 (η = 0, or onto ᾱ = 1) is deterministic and carries no density: it contributes
0 to ``transition_log_prob`` and ``divergence``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch

from dnadav.core.protocol import Guidance, Proposal

__all__ = ["ddim_timesteps", "GaussianDDIM", "gaussian_log_prob"]

PredictionType = Literal["epsilon", "v_prediction"]


def ddim_timesteps(num_steps: int, num_train_timesteps: int = 1000, offset: int = 0) -> list[int]:
    """DDIM's "leading" spacing: ``[(T−1)·r, …, r, 0] + offset`` with ``r = num_train // T``."""
    if not 1 <= num_steps <= num_train_timesteps:
        raise ValueError(f"num_steps must be in 1..{num_train_timesteps}; got {num_steps}")
    ratio = num_train_timesteps // num_steps
    return [k * ratio + offset for k in reversed(range(num_steps))]


def gaussian_log_prob(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """``log N(x; mean, std² I)`` summed over all but the batch axis -> ``[N]`` (``std [N]`` > 0)."""
    dims = x[0].numel()
    std = std.view(-1, *([1] * (x.dim() - 1)))
    quad = ((x - mean) / std).pow(2).flatten(1).sum(1)
    return -0.5 * quad - dims * (torch.log(std.flatten()) + 0.5 * math.log(2 * math.pi))


class GaussianDDIM:
    """Stochastic DDIM around ``network`` (a diffusers ``UNet2DModel`` or ``UNet2DConditionModel``).

    ``alphas_cumprod [num_train]`` is the scheduler's ᾱ; ``final_alpha`` the ᾱ of the clean end
    (1 when the scheduler sets ``set_alpha_to_one``). ``latent_shape`` is ``(C, H, W)``.
    ``context`` rows are prompt embeddings ``[N, L, D]`` (conditional UNet); with ``uncond [1, L, D]``
    and ``guidance_scale`` ≠ 1, classifier-free guidance ε̂ = ε̂_u + w (ε̂_c − ε̂_u) in one batched call.
    ``decoder`` maps clean latents to images ``[N, 3|1, H', W']`` in [0, 1] (a VAE decode, or
    ``(x + 1)/2`` for a pixel-space model). ``max_batch`` caps the rows of one network or decoder
    call (a batch of N·M children is then split into chunks; results are concatenated).
    """

    def __init__(
        self,
        network: Callable,
        alphas_cumprod: torch.Tensor,
        latent_shape: tuple[int, int, int],
        decoder: Callable[[torch.Tensor], torch.Tensor] | None = None,
        *,
        eta: float = 1.0,
        final_alpha: float = 1.0,
        prediction_type: PredictionType = "epsilon",
        clip_sample: float | None = None,
        guidance_scale: float = 1.0,
        uncond: torch.Tensor | None = None,
        timestep_offset: int = 0,
        max_batch: int | None = None,
        device: torch.device | str | None = None,
    ):
        if not eta > 0:
            raise ValueError(f"eta must be > 0 (a stochastic step has a density); got {eta}")
        if prediction_type not in ("epsilon", "v_prediction"):
            raise ValueError(f"prediction_type must be epsilon or v_prediction; got {prediction_type!r}")
        self.network = network
        self.alphas_cumprod = alphas_cumprod.double()
        self.latent_shape = tuple(latent_shape)
        self.decoder = decoder or (lambda x: (x / 2 + 0.5).clamp(0, 1))
        self.eta = eta
        self.final_alpha = final_alpha
        self.prediction_type = prediction_type
        self.clip_sample = clip_sample
        self.guidance_scale = guidance_scale
        self.uncond = uncond
        self.timestep_offset = timestep_offset
        self.max_batch = max_batch
        self._device = None if device is None else torch.device(device)

    @property
    def device(self) -> torch.device:
        if self._device is not None:
            return self._device
        parameter = next(self.network.parameters(), None) if isinstance(self.network, torch.nn.Module) else None
        return parameter.device if parameter is not None else torch.device("cpu")

    # -- schedule -------------------------------------------------------------------------------
    def alpha(self, t: torch.Tensor) -> torch.Tensor:
        """ᾱ at grid times ``t [N]`` (float32 on t's device); ``t < 0`` is the clean end."""
        table = self.alphas_cumprod.to(t.device)
        picked = table[t.clamp(min=0).round().long()]
        return torch.where(t < 0, torch.full_like(picked, self.final_alpha), picked).float()

    def step_std(self, t: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """σ of the step ``t -> s`` per row ``[N]``."""
        a_t, a_s = self.alpha(t).double(), self.alpha(s).double()
        var = (1 - a_s) / (1 - a_t) * (1 - a_t / a_s)
        return (self.eta * var.clamp(min=0).sqrt()).float()

    def step_variance(self, t: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """σ² of the step ``t -> s`` per row ``[N]``: the M-step's per-step weight with
        ``step_weighting="variance"``."""
        return self.step_std(t, s).pow(2)

    def step_mean(self, prediction: torch.Tensor, t: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """μ of the step ``t -> s`` for ``prediction [N, 2, ...]`` -> ``[N, ...]``."""
        a_s = self.alpha(s).double()
        std = self.step_std(t, s).double()
        direction = (1 - a_s - std**2).clamp(min=0).sqrt()
        shape = (-1, *([1] * (prediction.dim() - 2)))
        return a_s.sqrt().float().view(shape) * prediction[:, 1] + direction.float().view(shape) * prediction[:, 0]

    # -- protocol -------------------------------------------------------------------------------
    def time_grid(self, num_steps: int) -> torch.Tensor:
        steps = ddim_timesteps(num_steps, len(self.alphas_cumprod), self.timestep_offset)
        return torch.tensor([*steps, -1], dtype=torch.float32, device=self.device)

    def initial_state(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn((num, *self.latent_shape), generator=generator, device=self.device)

    def _chunked(self, function: Callable, *rows: torch.Tensor | None) -> torch.Tensor:
        """``function(*rows)`` on chunks of at most ``max_batch`` rows (None passes through)."""
        n = rows[0].shape[0]
        if self.max_batch is None or n <= self.max_batch:
            return function(*rows)
        parts = [
            function(*(None if r is None else r[i : i + self.max_batch] for r in rows)) for i in range(0, n, self.max_batch)
        ]  # a loop over memory-sized chunks, not over particles
        return torch.cat(parts)

    def _network_output(self, network: Callable, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
        return self._chunked(lambda xc, tc, cc: self._network_chunk(network, xc, tc, cc), x, t, context)

    def _network_chunk(self, network: Callable, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
        timesteps = t.clamp(min=0).round().long()
        if context is None:
            if self.uncond is not None:
                raise ValueError("this UNet is conditional: pass prompt embeddings as context")
            return network(x, timesteps).sample
        if self.uncond is None or self.guidance_scale == 1.0:
            return network(x, timesteps, encoder_hidden_states=context).sample
        n = x.shape[0]
        both = torch.cat([self.uncond.to(context).expand(n, *context.shape[1:]), context])
        out = network(torch.cat([x, x]), torch.cat([timesteps, timesteps]), encoder_hidden_states=both).sample
        uncond, cond = out[:n], out[n:]
        return uncond + self.guidance_scale * (cond - uncond)

    def predict(
        self, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor | None = None, network: Callable | None = None
    ) -> torch.Tensor:
        """(ε̂, x̂0) stacked ``[N, 2, C, H, W]``; rows at the clean end (t < 0) are (0, x) with no call."""
        if bool((t < 0).all()):
            return torch.stack([torch.zeros_like(x), x], dim=1)
        out = self._network_output(network or self.network, x, t, context).float()
        a = self.alpha(t).view(-1, 1, 1, 1)
        if self.prediction_type == "epsilon":
            eps = out
            x0 = (x - (1 - a).sqrt() * eps) / a.sqrt()
        else:
            x0 = a.sqrt() * x - (1 - a).sqrt() * out
            eps = a.sqrt() * out + (1 - a).sqrt() * x
        if self.clip_sample is not None:
            x0 = x0.clamp(-self.clip_sample, self.clip_sample)
        clean = (t < 0).view(-1, 1, 1, 1)
        eps, x0 = torch.where(clean, torch.zeros_like(eps), eps), torch.where(clean, x, x0)
        return torch.stack([eps, x0], dim=1)

    def propose(
        self,
        prediction: torch.Tensor,
        x: torch.Tensor,
        t: float,
        s: float,
        num_children: int,
        generator: torch.Generator | None,
        guidance: Guidance | None = None,
    ) -> Proposal:
        if guidance is not None:
            raise ValueError("gradient-guided proposals are not implemented for the Gaussian (image) process")
        n = x.shape[0]
        t_rows, s_rows = torch.full((n,), float(t), device=x.device), torch.full((n,), float(s), device=x.device)
        mean = self.step_mean(prediction, t_rows, s_rows).repeat_interleave(num_children, dim=0)
        std = self.step_std(t_rows, s_rows).repeat_interleave(num_children).view(-1, 1, 1, 1)
        noise = torch.randn(mean.shape, generator=generator, device=mean.device)
        return Proposal(mean + std * noise)

    def clean_estimate(
        self, prediction: torch.Tensor, x: torch.Tensor, num_samples: int | None, generator: torch.Generator | None
    ) -> torch.Tensor:
        if num_samples is not None:
            raise ValueError("value='sample' is not defined for the Gaussian process; use value='argmax' (plug-in x̂0)")
        return self._chunked(self.decoder, prediction[:, 1])

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        return self._chunked(self.decoder, x)

    def transition_log_prob(
        self, prediction: torch.Tensor, x_t: torch.Tensor, x_s: torch.Tensor, t: torch.Tensor, s: torch.Tensor
    ) -> torch.Tensor:
        """``log N(x_s; μ_θ, σ²)`` summed over latent dimensions ``[N]`` (0 for deterministic steps)."""
        std = self.step_std(t, s)
        stochastic = std > 0
        log_p = gaussian_log_prob(x_s, self.step_mean(prediction, t, s), torch.where(stochastic, std, torch.ones_like(std)))
        return torch.where(stochastic, log_p, torch.zeros_like(log_p))

    def divergence(
        self, prediction: torch.Tensor, reference: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor, s: torch.Tensor
    ) -> torch.Tensor:
        """Exact ``KL(N(μ_θ, σ²) ‖ N(μ_ref, σ²)) = ‖μ_θ − μ_ref‖² / 2σ²`` per row ``[N]`` (0 where σ = 0)."""
        std = self.step_std(t, s)
        stochastic = std > 0
        gap = (self.step_mean(prediction, t, s) - self.step_mean(reference, t, s)).pow(2).flatten(1).sum(1)
        return torch.where(stochastic, gap / (2 * torch.where(stochastic, std, torch.ones_like(std)) ** 2), torch.zeros_like(gap))

    def sample_loss(
        self, network: Callable, x0: torch.Tensor, context: torch.Tensor | None, generator: torch.Generator | None
    ) -> torch.Tensor:
        """DDPM noise-prediction loss ``‖ε_θ(x_t, t) − ε‖²`` averaged over dimensions ``[N]``, t uniform."""
        n = x0.shape[0]
        t = torch.randint(0, len(self.alphas_cumprod), (n,), generator=generator, device=x0.device)
        noise = torch.randn(x0.shape, generator=generator, device=x0.device)
        a = self.alpha(t.float()).view(-1, 1, 1, 1)
        x_t = a.sqrt() * x0 + (1 - a).sqrt() * noise
        if context is None:
            out = network(x_t, t).sample
        else:
            out = network(x_t, t, encoder_hidden_states=context).sample
        target = noise if self.prediction_type == "epsilon" else a.sqrt() * noise - (1 - a).sqrt() * x0
        return (out.float() - target).pow(2).flatten(1).mean(1)
