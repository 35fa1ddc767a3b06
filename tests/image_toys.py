"""Tiny image-plugin fixtures built in the test: a random SD-style pipeline folder, exact Gaussian denoisers."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import torch


def write_tiny_tokenizer(folder: Path) -> None:
    """A CLIP BPE tokenizer over single letters (vocab + merges files), no download."""
    from transformers import CLIPTokenizer

    letters = "abcdefghijklmnopqrstuvwxyz"
    tokens = ["<|startoftext|>", "<|endoftext|>", *letters, *(c + "</w>" for c in letters)]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=8)
    tokenizer.save_pretrained(folder)


def write_tiny_sd_pipeline(root: Path, seed: int = 0) -> Path:
    """A random Stable-Diffusion-layout pipeline (latents 4×8×8, images 3×16×16) saved to ``root``."""
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(16, 32),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=16, norm_num_groups=8, attention_head_dim=4,
    )  # fmt: skip
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 16), layers_per_block=1, norm_num_groups=8,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"), up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
    )  # fmt: skip
    text = CLIPTextModel(CLIPTextConfig(vocab_size=54, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                        num_attention_heads=2, max_position_embeddings=8, bos_token_id=0, eos_token_id=1,
                                        pad_token_id=1))  # fmt: skip
    scheduler = DDIMScheduler(num_train_timesteps=100, beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                              clip_sample=False, set_alpha_to_one=False)  # fmt: skip
    unet.save_pretrained(root / "unet")
    vae.save_pretrained(root / "vae")
    text.save_pretrained(root / "text_encoder")
    scheduler.save_pretrained(root / "scheduler")
    write_tiny_tokenizer(root / "tokenizer")
    index = {"_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"],
             "vae": ["diffusers", "AutoencoderKL"], "text_encoder": ["transformers", "CLIPTextModel"],
             "tokenizer": ["transformers", "CLIPTokenizer"], "scheduler": ["diffusers", "DDIMScheduler"]}  # fmt: skip
    (root / "model_index.json").write_text(json.dumps(index))
    return root


class ExactGaussianDenoiser(torch.nn.Module):
    """ε̂ of x0 ~ N(mean, var) (every dimension independent) under ᾱ ``alphas``: the exact posterior.

    Called like a diffusers UNet: ``(x, timesteps) -> SimpleNamespace(sample=ε̂)``. ``shift`` is a
    trainable offset added to E[x0 | x_t] (0 at init), so an M-step has something to learn.
    """

    def __init__(self, alphas: torch.Tensor, mean: float, var: float):
        super().__init__()
        self.alphas, self.mean, self.var = alphas.float(), mean, var
        self.shift = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor, timesteps: torch.Tensor) -> SimpleNamespace:
        a = self.alphas.to(x.device)[timesteps].view(-1, *([1] * (x.dim() - 1)))
        x0 = self.mean + a.sqrt() * self.var / (a * self.var + 1 - a) * (x - a.sqrt() * self.mean) + self.shift
        return SimpleNamespace(sample=(x - a.sqrt() * x0) / (1 - a).sqrt())
