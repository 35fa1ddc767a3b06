"""DRAKES's Gosai oracles: gReLU ``EnformerPretrainedModel(n_tasks=3)`` regressors, rebuilt offline.

DRAKES (``drakes_dna/train_oracle.py``) fine-tuned gReLU's Enformer-trunk model with MSE on hepg2,
k562, sknsh activity, one oracle on chr1–11 and one on chr12–22 (``reward_oracle_ft.ckpt``,
``reward_oracle_eval.ckpt``). gReLU builds that model by downloading the human Enformer weights
and then replacing the head; here the same architecture is constructed empty (no download) and
the checkpoint's ``state_dict`` (``model.`` prefix) is loaded into it.

Architecture (``channels`` C = 1536, defaults of gReLU 1.0.x):

* conv tower, 7 blocks, each halving the length by attention pooling: block 0 =
  ``Conv1d(4, C/2, 15)`` + residual ConvBlock(k 1, pool); blocks 1–6 = ConvBlock(k 5) to channels
  ``[C/2] + exponential_channels(C/2, C, 6, 128)`` + residual ConvBlock(k 1, pool);
* 11 transformer blocks (pre-LayerNorm relative attention, 8 heads, key 64, value C/8,
  C/8 position features; then a LayerNorm -> Linear(C, 2C) -> ReLU -> Linear(2C, C) feed-forward),
  each with a residual connection;
* pointwise ConvBlock(C -> 2C, k 1), GELU; head: ``Conv1d(2C, 3, 1)`` and a mean over length.

``forward(onehot [B, 4, L]) -> [B, 3, 1]`` as gReLU returns it; ``SqueezedRegressor`` squeezes to
``[B, 3]`` for dnadav's ``RegressionOracle``. 200 bp -> length 2 after the tower.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from dnadav.checkpoint_format import MAX_BLOCKS, MAX_WIDTH, check_sizes
from dnadav.errors import InputError, shown
from dnadav.published.enformer_layers import (
    ConvBlock,
    Layer,
    RelativeAttention,
    enformer_gelu,
    exponential_channels,
)
from dnadav.published.safe_checkpoint import key_mismatch, load_checkpoint, plain

__all__ = ["EnformerConfig", "EnformerRegressor", "GOSAI_TASKS", "enformer_config_from_hyper_parameters", "load_grelu_oracle"]

GOSAI_TASKS = ("hepg2", "k562", "sknsh")


@dataclass(frozen=True)
class EnformerConfig:
    """Sizes of the Enformer-trunk regressor (defaults: gReLU ``EnformerPretrainedModel``)."""

    n_tasks: int = 3
    channels: int = 1536
    n_conv: int = 7
    n_transformers: int = 11
    n_heads: int = 8
    key_len: int = 64


class FeedForward(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.dense1 = nn.Module()
        self.dense1.norm = Layer(nn.LayerNorm(channels))
        self.dense1.linear = nn.Linear(channels, 2 * channels)
        self.dense2 = nn.Module()
        self.dense2.linear = nn.Linear(2 * channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dense2.linear(torch.relu(self.dense1.linear(self.dense1.norm(x))))


class TransformerBlock(nn.Module):
    """``x + Attention(LayerNorm(x))``, then ``+ FeedForward(.)``; ``[B, L, C]``."""

    def __init__(self, channels: int, heads: int, key_len: int):
        super().__init__()
        self.norm = Layer(nn.LayerNorm(channels))
        self.mha = RelativeAttention(channels, heads, key_len, channels // heads)
        self.ffn = FeedForward(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.mha(self.norm(x))
        return x + self.ffn(x)


class ConvTower(nn.Module):
    def __init__(self, n_blocks: int, channels: int):
        super().__init__()
        half = channels // 2
        filters = [half] + exponential_channels(half, channels, n_blocks - 1, 128)
        self.blocks = nn.ModuleList([nn.Sequential(nn.Conv1d(4, half, 15, padding="same"), ConvBlock(half, half, 1, True, True))])
        for i in range(1, n_blocks):
            self.blocks.append(
                nn.Sequential(ConvBlock(filters[i - 1], filters[i], 5), ConvBlock(filters[i], filters[i], 1, True, True))
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x


class TransformerTower(nn.Module):
    def __init__(self, n_blocks: int, channels: int, heads: int, key_len: int):
        super().__init__()
        self.blocks = nn.ModuleList(TransformerBlock(channels, heads, key_len) for _ in range(n_blocks))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        return x.transpose(1, 2)


class EnformerTrunk(nn.Module):
    def __init__(self, config: EnformerConfig):
        super().__init__()
        c = config.channels
        self.conv_tower = ConvTower(config.n_conv, c)
        self.transformer_tower = TransformerTower(config.n_transformers, c, config.n_heads, config.key_len)
        self.pointwise_conv = ConvBlock(c, 2 * c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return enformer_gelu(self.pointwise_conv(self.transformer_tower(self.conv_tower(x))))


class EnformerRegressor(nn.Module):
    """``onehot [B, 4, L] -> predictions [B, n_tasks, 1]`` (gReLU's output layout)."""

    def __init__(self, config: EnformerConfig | None = None):
        super().__init__()
        self.config = config = config or EnformerConfig()
        self.embedding = EnformerTrunk(config)
        self.head = nn.Module()
        self.head.channel_transform = nn.Module()
        self.head.channel_transform.conv = Layer(nn.Conv1d(2 * config.channels, config.n_tasks, 1))

    def forward(self, onehot: torch.Tensor) -> torch.Tensor:
        return self.head.channel_transform.conv(self.embedding(onehot)).mean(dim=-1, keepdim=True)


class SqueezedRegressor(nn.Module):
    """``[B, 4, L] -> [B, n_tasks]``: the regressor's output without the length axis."""

    def __init__(self, regressor: EnformerRegressor):
        super().__init__()
        self.regressor = regressor

    def forward(self, onehot: torch.Tensor) -> torch.Tensor:
        return self.regressor(onehot)[..., 0]


def enformer_config_from_hyper_parameters(hyper: dict) -> EnformerConfig:
    """Sizes from gReLU's ``hyper_parameters["model_params"]`` (only EnformerPretrainedModel is accepted)."""
    params = plain(hyper).get("model_params", {}) if isinstance(hyper, dict) else {}
    params = params if isinstance(params, dict) else {}
    model_type = params.get("model_type", "EnformerPretrainedModel")
    if model_type != "EnformerPretrainedModel":
        raise InputError(f"gReLU model_type {shown(model_type)} is not supported; only EnformerPretrainedModel (DRAKES oracles)")
    # The published checkpoints name only n_tasks; the size keys let reduced test checkpoints say theirs.
    limits = {"n_tasks": MAX_WIDTH, "channels": MAX_WIDTH, "n_conv": MAX_BLOCKS, "n_transformers": MAX_BLOCKS}
    limits.update(n_heads=MAX_BLOCKS, key_len=MAX_WIDTH)
    sizes = {k: params[k] for k in limits if k in params}
    check_sizes(sizes, limits, "checkpoint: hyper_parameters model_params")
    return EnformerConfig(**sizes)


def _task_names(hyper: dict, n_tasks: int) -> tuple[str, ...]:
    """Task names from gReLU's ``data_params["tasks"]["name"]`` when readable, else Gosai's three."""
    tasks = plain(hyper).get("data_params", {}).get("tasks", {}) if isinstance(hyper, dict) else {}
    names = tasks.get("name") if isinstance(tasks, dict) else None
    if isinstance(names, (list, tuple)) and len(names) == n_tasks and all(isinstance(n, str) for n in names):
        return tuple(names)
    return GOSAI_TASKS[:n_tasks] if n_tasks <= 3 else tuple(f"task{i}" for i in range(n_tasks))


def load_grelu_oracle(path: str | Path, config: EnformerConfig | None = None) -> tuple[SqueezedRegressor, tuple[str, ...]]:
    """Load a DRAKES/gReLU oracle checkpoint -> (network ``[B, 4, L] -> [B, n_tasks]`` in eval mode, task names).

    ``config`` overrides the sizes read from ``hyper_parameters`` (tests use small ones). Missing or
    unexpected ``model.*`` keys, or wrong shapes, raise one InputError naming them.
    """
    checkpoint = load_checkpoint(path)
    state = checkpoint.get("state_dict")
    if not isinstance(state, dict):
        raise InputError(f"{path}: no 'state_dict' entry; keys found: {', '.join(map(str, checkpoint)) or 'none'}")
    hyper = checkpoint.get("hyper_parameters") or {}
    config = config or enformer_config_from_hyper_parameters(hyper)
    with torch.device("meta"):  # shapes checked before anything is allocated
        own = EnformerRegressor(config).state_dict()
    theirs = {k[len("model.") :]: v for k, v in state.items() if k.startswith("model.")}
    if not theirs:
        raise InputError(f"{path}: no 'model.*' keys in state_dict; not a gReLU LightningModel checkpoint")
    missing, extra = sorted(set(own) - set(theirs)), sorted(set(theirs) - set(own))
    if missing or extra:
        raise InputError(
            f"{path}: state_dict does not match the Enformer regressor (channels {config.channels}, "
            f"{config.n_transformers} transformers, {config.n_tasks} tasks): {key_mismatch(missing, extra, 'model.')}"
        )
    bad = [
        f"model.{k} {tuple(theirs[k].shape)} (expected {tuple(v.shape)})" for k, v in own.items() if theirs[k].shape != v.shape
    ]
    if bad:
        raise InputError(f"{path}: wrong shape(s): {', '.join(bad[:4])}")
    network = EnformerRegressor(config)
    own = network.state_dict()
    network.load_state_dict({k: theirs[k].to(v.dtype) for k, v in own.items()})
    return SqueezedRegressor(network).eval(), _task_names(hyper, config.n_tasks)
