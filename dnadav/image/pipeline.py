"""Load a diffusers pipeline from a LOCAL folder (never the hub) into a ``GaussianDDIM`` process.

Two layouts are understood, told apart by ``model_index.json``:

* pixel space: ``unet/`` (``UNet2DModel``) + ``scheduler/`` — e.g. the shipped ``digits`` world;
* Stable Diffusion style: ``unet/`` (``UNet2DConditionModel``) + ``vae/`` (``AutoencoderKL``) +
  ``text_encoder/`` (``CLIPTextModel``) + ``tokenizer/`` (``CLIPTokenizer``) + ``scheduler/``.

``--pipeline NAME`` without a slash names a folder under the shipped ``models/`` (``digits``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from dnadav.errors import InputError
from dnadav.image.ddim import GaussianDDIM
from dnadav.io import read_json_object

__all__ = ["ImagePipeline", "recorded_base", "resolve_pipeline_dir", "load_pipeline"]

_NEEDS = {"unet": "config.json", "scheduler": "scheduler_config.json"}
_SD_NEEDS = {"vae": "config.json", "text_encoder": "config.json", "tokenizer": None}
# The weight files diffusers / transformers load by default (no variant): a folder holding only
# ``*.fp16.safetensors`` would pass a glob and then fail inside from_pretrained.
_WEIGHTS = {
    "unet": ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin"),
    "vae": ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin"),
    "text_encoder": ("model.safetensors", "pytorch_model.bin"),
}


def resolve_pipeline_dir(name: str | Path) -> Path:
    """A folder path as given, or a shipped model name (``digits``) under ``models/``."""
    path = Path(name)
    if not path.exists() and "/" not in str(name):
        from dnadav.assets import asset_root

        shipped = asset_root("models") / str(name)
        if shipped.is_dir():
            return shipped
    if not path.is_dir():
        raise InputError(f"{name}: no such pipeline folder (give a local diffusers folder, or 'digits'); nothing is downloaded")
    return path


def recorded_base(given: str | Path, path: Path) -> str:
    """What a fine-tuned folder's ``aligned.json`` records as its base pipeline: a shipped name as given
    (``digits``), so the folder loads on any machine; otherwise the resolved folder ``path``."""
    given = str(given)
    return given if "/" not in given and "\\" not in given and not Path(given).exists() else str(path)


def _has_weights(folder: Path, names: tuple[str, ...]) -> bool:
    """Whether ``folder`` holds one of the default weight files ``names`` (or its sharded index)."""
    return any((folder / n).is_file() or (folder / f"{n}.index.json").is_file() for n in names)


def _check_part(path: Path, sub: str, config: str | None) -> str | None:
    """What is missing from ``path/sub`` (None: nothing); InputError when its config is not JSON."""
    folder = path / sub
    if not folder.is_dir():
        return f"{sub}/"
    if config is not None:
        if not (folder / config).is_file():
            return f"{sub}/{config}"
        read_json_object(folder / config, f"{sub}/{config}")
    if sub in _WEIGHTS and not _has_weights(folder, _WEIGHTS[sub]):
        variants = sorted(p.name for p in folder.glob("*.*.safetensors"))
        found = f"; found only {', '.join(variants[:3])} (variant weights are not loaded)" if variants else ""
        return f"{sub}/{' or '.join(_WEIGHTS[sub])}{found}"
    return None


def _check_folder(path: Path) -> dict:
    """``model_index.json`` of a pipeline folder, after checking that every part diffusers will read
    is there and its configs are JSON objects (InputError naming what is missing or broken)."""
    index_file = path / "model_index.json"
    if not index_file.is_file():
        raise InputError(f"{path}: not a diffusers pipeline folder (model_index.json is missing)")
    index = read_json_object(index_file, "model_index.json")
    needs = dict(_NEEDS)
    if "vae" in index or "text_encoder" in index:
        needs.update(_SD_NEEDS)
    missing = [m for sub, config in needs.items() if (m := _check_part(path, sub, config)) is not None]
    if missing:
        raise InputError(f"{path}: incomplete diffusers pipeline folder, missing {', '.join(missing)}")
    return index


def _from_pretrained(cls: type, path: Path, subfolder: str, **kwargs):
    """``cls.from_pretrained(path, subfolder=...)`` offline; a corrupt config or weights file is an
    InputError naming the part (diffusers and transformers raise OSError, ValueError and others)."""
    try:
        return cls.from_pretrained(path, subfolder=subfolder, local_files_only=True, **kwargs)
    except (OSError, ValueError, RuntimeError, KeyError, TypeError, AttributeError, ImportError) as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise InputError(f"{path}/{subfolder}: cannot be loaded ({first[:200]})") from None


@dataclass
class ImagePipeline:
    """The pieces of a loaded pipeline; ``vae``/``text_encoder``/``tokenizer`` are None in pixel space."""

    path: Path
    unet: torch.nn.Module
    scheduler_config: dict
    alphas_cumprod: torch.Tensor
    vae: torch.nn.Module | None = None
    text_encoder: torch.nn.Module | None = None
    tokenizer: object | None = None

    @property
    def conditional(self) -> bool:
        return self.text_encoder is not None

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        size = self.unet.config.sample_size
        size = (size, size) if isinstance(size, int) else tuple(size)
        return (self.unet.config.in_channels, *size)

    @torch.no_grad()
    def encode_prompts(self, prompts: list[str]) -> torch.Tensor:
        """CLIP text embeddings ``[N, L, D]`` (padded to the tokenizer's max length)."""
        tokens = self.tokenizer(
            prompts, padding="max_length", max_length=self.tokenizer.model_max_length, truncation=True, return_tensors="pt"
        )
        device = next(self.text_encoder.parameters()).device
        return self.text_encoder(tokens.input_ids.to(device))[0]

    def decoder(self):
        """Latents -> images in [0, 1]: the VAE decode, or ``(x + 1)/2`` in pixel space."""
        if self.vae is None:
            return lambda x: (x / 2 + 0.5).clamp(0, 1)
        vae, scale = self.vae, self.vae.config.scaling_factor

        def decode(latents: torch.Tensor) -> torch.Tensor:
            return (vae.decode(latents.to(next(vae.parameters()).dtype) / scale).sample.float() / 2 + 0.5).clamp(0, 1)

        return decode

    def process(
        self,
        network: torch.nn.Module | None = None,
        *,
        eta: float = 1.0,
        guidance_scale: float = 7.5,
        max_batch: int | None = None,
    ) -> GaussianDDIM:
        """A ``GaussianDDIM`` over ``network`` (default: this pipeline's UNet)."""
        config = self.scheduler_config
        final_alpha = 1.0 if config.get("set_alpha_to_one", True) else float(self.alphas_cumprod[0])
        uncond = self.encode_prompts([""]) if self.conditional else None
        clip = config.get("clip_sample_range", 1.0) if config.get("clip_sample", False) and self.vae is None else None
        return GaussianDDIM(
            network or self.unet,
            self.alphas_cumprod,
            self.latent_shape,
            self.decoder(),
            eta=eta,
            final_alpha=final_alpha,
            prediction_type=config.get("prediction_type", "epsilon"),
            clip_sample=clip,
            guidance_scale=guidance_scale if self.conditional else 1.0,
            uncond=uncond,
            timestep_offset=int(config.get("steps_offset", 0)),
            max_batch=max_batch,
        )

    def to(self, device: torch.device | str) -> "ImagePipeline":
        for module in (self.unet, self.vae, self.text_encoder):
            if module is not None:
                module.to(device)
        return self


def load_pipeline(name: str | Path, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> ImagePipeline:
    """Load ``name`` (a local folder or ``digits``) with ``local_files_only=True``; frozen, eval mode."""
    from diffusers import DDIMScheduler

    path = resolve_pipeline_dir(name)
    if (path / "aligned.json").is_file():  # a finished `dnadav image align` run: its base with the aligned UNet
        base_name = read_json_object(path / "aligned.json", "aligned.json").get("base")
        if not isinstance(base_name, str):
            raise InputError(f"{path}/aligned.json: no base pipeline named (expected a 'base' folder name)")
        base = load_pipeline(base_name, device, dtype)
        if _check_part(path, "unet", "config.json") is not None:
            raise InputError(f"{path}: aligned run is missing unet/config.json or its weights")
        unet = _from_pretrained(type(base.unet), path, "unet", torch_dtype=dtype)
        base.unet = unet.to(device).eval().requires_grad_(False)
        base.path = path
        return base
    index = _check_folder(path)
    scheduler = _from_pretrained(DDIMScheduler, path, "scheduler")
    conditional = "text_encoder" in index or (path / "text_encoder").is_dir()
    if conditional:
        from diffusers import AutoencoderKL, UNet2DConditionModel
        from transformers import CLIPTextModel, CLIPTokenizer

        unet = _from_pretrained(UNet2DConditionModel, path, "unet", torch_dtype=dtype)
        vae = _from_pretrained(AutoencoderKL, path, "vae", torch_dtype=dtype)
        text_encoder = _from_pretrained(CLIPTextModel, path, "text_encoder", torch_dtype=dtype)
        tokenizer = _from_pretrained(CLIPTokenizer, path, "tokenizer")
    else:
        from diffusers import UNet2DModel

        unet = _from_pretrained(UNet2DModel, path, "unet", torch_dtype=dtype)
        vae = text_encoder = tokenizer = None
    for module in (unet, vae, text_encoder):
        if module is not None:
            module.to(device).eval().requires_grad_(False)
    return ImagePipeline(path, unet, dict(scheduler.config), scheduler.alphas_cumprod.clone(), vae, text_encoder, tokenizer)
