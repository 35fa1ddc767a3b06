"""DRAKES's pretrained masked-diffusion prior for the Gosai table, rebuilt in dnadav.

The published ``pretrained.ckpt`` / ``last.ckpt`` (DRAKES ``drakes_dna``, config
``configs_gosai/model/dnaconv.yaml``: hidden 128, 4 stacks, dropout 0, one-hot input) is a Lightning
checkpoint of a dilated 1-D CNN (the Dirichlet flow-matching DNA backbone). Read from the reference
code, the network is, with ``h`` = 128 channels and tokens over A, C, G, T, MASK (= 0..4, as dnadav):

* input: one-hot over the 5 tokens -> ``Conv1d(5, h, 9, padding 4)`` -> ReLU  (``feat``);
* time: Gaussian Fourier features of the time input (fixed ``W [h/2]``, scale 30), ``[sin, cos]``
  -> ``Linear(h, h)`` -> ReLU  (``e``);
* 20 residual blocks ``i``: ``feat += ReLU(conv_i(LayerNorm_i(feat + Linear_i(e))))`` over channels;
  ``conv_i`` has kernel 9 and dilation 1 for blocks 0–7, 4 for 8–11, 16 for 12–15, 64 for 16–19
  (each of the five base convs is repeated 4 times *consecutively*, not cycled);
* head: ``Conv1d(h, h, 1)`` -> ReLU -> ``Conv1d(h, 5, 1)``: logits over the 5 tokens.

**Time input.** DRAKES trains and samples with ``time_conditioning: False``: its ``_process_sigma``
replaces σ by zeros before every backbone call, so the time path is a constant learned bias, the
same at every step. ``DrakesDenoiser`` therefore always feeds t = 0 to that path, whatever ``t`` it
is given — which is what dnadav's sampler, ELBO and M-step then all see, consistently.

**Subs parameterisation.** DRAKES adds −10⁶ to the MASK logit before the log-softmax (MASK is never
predicted) and carries unmasked tokens over; dnadav's ``x0_log_probs`` does the same on 4 logits,
so ``forward`` returns the 4 base logits (the MASK column dropped). The reverse step of DRAKES's
``_ddpm_update`` (stay masked with ``move_s / move_t``, unmask to v with ``(move_t − move_s)/move_t ·
x̂0_v``, ``move_t = (1 − 10⁻³) t``) is dnadav's ``reverse_log_probs`` with ``LogLinearSchedule(1e-3)``.

**Raw or EMA.** The checkpoint holds the raw weights in ``state_dict`` (``backbone.`` prefix) and an
``ema`` entry whose ``shadow_params`` list follows ``backbone.parameters()`` order, trainable only
(``W`` is not trainable). DRAKES's published sampling (``Diffusion.load_from_checkpoint`` then
``_sample``, in ``finetune_reward_bp.py`` and ``eval.ipynb``) uses the **raw** weights: Lightning's
``on_load_checkpoint`` only stores the EMA, which is copied in during validation epochs. So
``weights="raw"`` is the default; ``weights="ema"`` loads the shadow parameters instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from dnadav.checkpoint_format import MAX_BLOCKS, MAX_WIDTH, check_sizes
from dnadav.dna.tokens import NUM_BASES, VOCAB_SIZE
from dnadav.errors import InputError
from dnadav.published.safe_checkpoint import key_mismatch, load_checkpoint, plain

__all__ = [
    "DrakesConfig",
    "DrakesDenoiser",
    "Weights",
    "block_dilations",
    "drakes_state_dict",
    "from_drakes_state_dict",
    "load_drakes_mdlm",
]

Weights = Literal["raw", "ema"]
BASE_DILATIONS = (1, 1, 4, 16, 64)


@dataclass(frozen=True)
class DrakesConfig:
    """DRAKES ``model`` config entries that shape the network (defaults: the published Gosai model)."""

    hidden_dim: int = 128
    num_cnn_stacks: int = 4
    kernel_size: int = 9
    fourier_scale: float = 30.0


def block_dilations(num_stacks: int) -> list[int]:
    """Dilation of each of the ``5 · num_stacks`` blocks: every base dilation repeated consecutively."""
    return [d for d in BASE_DILATIONS for _ in range(num_stacks)]


class DrakesDenoiser(nn.Module):
    """``forward(x_t [B, L] tokens (MASK = 4) or soft one-hot [B, L, 5], t [B]) -> logits [B, L, 4]``."""

    def __init__(self, config: DrakesConfig | None = None):
        super().__init__()
        self.config = c = config or DrakesConfig()
        h, k = c.hidden_dim, c.kernel_size
        self.input_conv = nn.Conv1d(VOCAB_SIZE, h, k, padding=k // 2)
        self.fourier_weights = nn.Parameter(torch.randn(h // 2) * c.fourier_scale, requires_grad=False)
        self.time_linear = nn.Linear(h, h)
        dilations = block_dilations(c.num_cnn_stacks)
        self.convs = nn.ModuleList(nn.Conv1d(h, h, k, dilation=d, padding=d * (k // 2)) for d in dilations)
        self.time_shifts = nn.ModuleList(nn.Linear(h, h) for _ in dilations)
        self.norms = nn.ModuleList(nn.LayerNorm(h) for _ in dilations)
        self.head = nn.Sequential(nn.Conv1d(h, h, 1), nn.ReLU(), nn.Conv1d(h, VOCAB_SIZE, 1))

    def time_embedding(self, batch: int, device: torch.device) -> torch.Tensor:
        """The constant time embedding ``[B, h]`` (time input 0, as in DRAKES's training and sampling)."""
        angles = torch.zeros(batch, 1, device=device) * self.fourier_weights[None, :] * 2 * math.pi
        return torch.relu(self.time_linear(torch.cat([angles.sin(), angles.cos()], dim=-1)))

    def token_logits(self, x_t: torch.Tensor) -> torch.Tensor:
        """Logits over all 5 tokens ``[B, L, 5]`` (DRAKES's raw backbone output)."""
        onehot = x_t.float() if x_t.dim() == 3 else nn.functional.one_hot(x_t, VOCAB_SIZE).float()
        if onehot.shape[-1] != VOCAB_SIZE:
            raise ValueError(f"DrakesDenoiser expects tokens [B, L] or one-hot [B, L, 5]; got {tuple(x_t.shape)}")
        feat = torch.relu(self.input_conv(onehot.transpose(1, 2)))  # [B, h, L]
        embedding = self.time_embedding(len(feat), feat.device)
        for conv, shift, norm in zip(self.convs, self.time_shifts, self.norms):
            h = norm((feat + shift(embedding)[:, :, None]).transpose(1, 2)).transpose(1, 2)
            feat = feat + torch.relu(conv(h))
        return self.head(feat).transpose(1, 2)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor | None = None) -> torch.Tensor:
        """Base logits ``[B, L, 4]``; ``t`` is accepted and ignored (the published model is not time conditioned)."""
        return self.token_logits(x_t)[..., :NUM_BASES]


def _key_map(config: DrakesConfig) -> dict[str, str]:
    """dnadav parameter name -> DRAKES backbone key (without the Lightning ``backbone.`` prefix)."""
    mapping = {
        "input_conv.weight": "linear.weight",
        "input_conv.bias": "linear.bias",
        "fourier_weights": "time_embedder.0.W",
        "time_linear.weight": "time_embedder.1.weight",
        "time_linear.bias": "time_embedder.1.bias",
        "head.0.weight": "final_conv.0.weight",
        "head.0.bias": "final_conv.0.bias",
        "head.2.weight": "final_conv.2.weight",
        "head.2.bias": "final_conv.2.bias",
    }
    for i in range(5 * config.num_cnn_stacks):
        for p in ("weight", "bias"):
            mapping[f"convs.{i}.{p}"] = f"convs.{i}.{p}"
            mapping[f"time_shifts.{i}.{p}"] = f"time_layers.{i}.dense.{p}"
            mapping[f"norms.{i}.{p}"] = f"norms.{i}.{p}"
    return mapping


def drakes_state_dict(model: DrakesDenoiser, prefix: str = "backbone.") -> dict[str, torch.Tensor]:
    """The model's weights under DRAKES's Lightning key names (for tests and round trips)."""
    own = model.state_dict()
    return {prefix + theirs: own[ours].detach().clone() for ours, theirs in _key_map(model.config).items()}


def _trainable_order(config: DrakesConfig) -> list[str]:
    """DRAKES keys of ``backbone.parameters()`` that are trainable, in registration order (the EMA's order)."""
    order = ["linear.weight", "linear.bias", "time_embedder.1.weight", "time_embedder.1.bias"]
    n = 5 * config.num_cnn_stacks
    order += [f"convs.{i}.{p}" for i in range(n) for p in ("weight", "bias")]
    order += [f"time_layers.{i}.dense.{p}" for i in range(n) for p in ("weight", "bias")]
    order += [f"norms.{i}.{p}" for i in range(n) for p in ("weight", "bias")]
    return order + [f"final_conv.{j}.{p}" for j in (0, 2) for p in ("weight", "bias")]


def from_drakes_state_dict(
    state: dict[str, torch.Tensor], config: DrakesConfig | None = None, source: str = "checkpoint"
) -> DrakesDenoiser:
    """Build a ``DrakesDenoiser`` from a DRAKES ``state_dict`` (``backbone.`` keys; others ignored).

    Missing or unexpected backbone keys, or wrong shapes, raise one InputError naming them.
    """
    config = config or DrakesConfig()
    with torch.device("meta"):  # shapes checked before anything is allocated
        model = DrakesDenoiser(config)
    mapping = _key_map(config)
    backbone = {k[len("backbone.") :]: v for k, v in state.items() if k.startswith("backbone.")}
    if not backbone:
        raise InputError(f"{source}: no 'backbone.*' keys in state_dict; not a DRAKES MDLM checkpoint")
    missing = sorted(set(mapping.values()) - set(backbone))
    extra = sorted(set(backbone) - set(mapping.values()))
    if missing or extra:
        raise InputError(
            f"{source}: state_dict does not match the DRAKES CNN (hidden {config.hidden_dim}, "
            f"{config.num_cnn_stacks} stacks): {key_mismatch(missing, extra, 'backbone.')}"
        )
    own = model.state_dict()
    bad = [
        f"backbone.{mapping[k]} {tuple(backbone[mapping[k]].shape)} (expected {tuple(v.shape)})"
        for k, v in own.items()
        if backbone[mapping[k]].shape != v.shape
    ]
    if bad:
        raise InputError(f"{source}: wrong shape(s): {', '.join(bad[:4])}")
    model = DrakesDenoiser(config)
    model.load_state_dict({k: backbone[mapping[k]].float() for k in own})
    return model


def _config_from_hyper_parameters(checkpoint: dict[str, Any]) -> DrakesConfig:
    """Read hidden_dim / num_cnn_stacks from the pickled config when there, else the published defaults."""
    hyper = plain(checkpoint.get("hyper_parameters") or {})
    model_config = hyper.get("config", {}).get("model", {}) if isinstance(hyper.get("config"), dict) else {}
    values = {k: model_config[k] for k in ("hidden_dim", "num_cnn_stacks") if isinstance(model_config.get(k), int)}
    check_sizes(values, {"hidden_dim": MAX_WIDTH, "num_cnn_stacks": MAX_BLOCKS}, "checkpoint: hyper_parameters config.model")
    if model_config.get("clean_data") is True:
        raise InputError("checkpoint: model.clean_data is true (embedding input); only the published one-hot model is supported")
    return DrakesConfig(**values)


def load_drakes_mdlm(path: str | Path, weights: Weights = "raw", device: torch.device | str = "cpu") -> DrakesDenoiser:
    """Load DRAKES's ``pretrained.ckpt`` / ``last.ckpt`` into a ``DrakesDenoiser`` in eval mode.

    ``weights="raw"`` (default, what DRAKES's published sampling used) or ``"ema"`` (the shadow
    parameters of the ``ema`` entry). Nothing is downloaded; nothing in the pickle is executed.
    """
    if weights not in ("raw", "ema"):
        raise InputError(f"weights must be 'raw' or 'ema'; got {weights!r}")
    checkpoint = load_checkpoint(path)
    state = checkpoint.get("state_dict")
    if not isinstance(state, dict):
        raise InputError(f"{path}: no 'state_dict' entry; keys found: {', '.join(map(str, checkpoint)) or 'none'}")
    config = _config_from_hyper_parameters(checkpoint)
    model = from_drakes_state_dict(state, config, source=str(path))
    if weights == "ema":
        ema = checkpoint.get("ema")
        shadow = ema.get("shadow_params") if isinstance(ema, dict) else None
        order = _trainable_order(config)
        if not isinstance(shadow, (list, tuple)) or len(shadow) != len(order):
            count = len(shadow) if isinstance(shadow, (list, tuple)) else 0
            raise InputError(
                f"{path}: 'ema.shadow_params' holds {count} tensors; expected {len(order)} (one per trainable parameter)"
            )
        inverse = {theirs: ours for ours, theirs in _key_map(config).items()}
        own = model.state_dict()
        update = {}
        for key, tensor in zip(order, shadow):
            expected = tuple(own[inverse[key]].shape)
            if tuple(tensor.shape) != expected:
                raise InputError(f"{path}: ema shadow for backbone.{key} has shape {tuple(tensor.shape)}; expected {expected}")
            update[inverse[key]] = tensor.float()
        model.load_state_dict({**own, **update})
    return model.to(device).eval()
