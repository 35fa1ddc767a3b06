"""Offline image rewards: images ``[B, C, H, W]`` float in [0, 1] -> ``[B]``.

* ``jpeg_compressibility`` / ``jpeg_incompressibility``: minus / plus the size in kB of the image
  saved as JPEG (quality 95), as in DDPO (Black et al. 2023).
* ``aesthetic``: a linear head on L2-normalised CLIP image embeddings, from local weights only:
  ``DIR/clip/`` (a transformers ``CLIPModel`` folder) and ``DIR/head.safetensors`` (``weight [1, D]``,
  ``bias [1]``).
* ``digit=K``: ``log p(K | image)`` of the shipped digits reward classifier (``oracles/digits_reward``).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import torch

from dnadav.errors import InputError
from dnadav.image.digits import DigitClassifier

__all__ = ["jpeg_kilobytes", "jpeg_compressibility", "jpeg_incompressibility", "load_digit_classifier",
           "load_digit_ensemble", "target_digit",
           "DigitReward", "AestheticReward", "chunked", "make_reward", "REWARD_NAMES"]  # fmt: skip

REWARD_NAMES = ("jpeg_compressibility", "jpeg_incompressibility", "aesthetic", "digit=K")


def _to_uint8(images: torch.Tensor):
    import numpy as np

    array = (images.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
    return np.moveaxis(array, 1, -1)  # [B, H, W, C]


def jpeg_kilobytes(images: torch.Tensor, quality: int = 95) -> torch.Tensor:
    """Size of each image as a JPEG (kB = 1000 bytes) -> ``[B]`` float32 on the images' device."""
    from PIL import Image

    sizes = []
    for array in _to_uint8(images):  # one PIL encode per image: there is no batched JPEG encoder
        buffer = io.BytesIO()
        Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array).save(buffer, format="JPEG", quality=quality)
        sizes.append(buffer.tell() / 1000)
    return torch.tensor(sizes, dtype=torch.float32, device=images.device)


def jpeg_compressibility(images: torch.Tensor) -> torch.Tensor:
    """``−kB`` of the JPEG: higher for simpler, smoother images."""
    return -jpeg_kilobytes(images)


def jpeg_incompressibility(images: torch.Tensor) -> torch.Tensor:
    """``+kB`` of the JPEG: higher for busier images."""
    return jpeg_kilobytes(images)


def _classifier_in(folder: Path) -> DigitClassifier:
    from safetensors.torch import load_file

    config = json.loads((folder / "config.json").read_text())
    model = DigitClassifier(channels=config["channels"])
    model.load_state_dict(load_file(str(folder / "model.safetensors")))
    return model.eval().requires_grad_(False)


def load_digit_classifier(role: str = "reward") -> DigitClassifier:
    """The shipped digits classifier ``oracles/digits_<role>`` (role: reward | eval), frozen, eval mode."""
    from dnadav.assets import asset_path

    return _classifier_in(asset_path("oracles", f"digits_{role}"))


def load_digit_ensemble(role: str = "eval") -> list[DigitClassifier]:
    """Classifiers trained the same way with other seeds, frozen, eval mode (``oracles/README.md``):

    * ``"eval"``: five trained on the eval half — ``digits_eval`` (seed 0) and ``digits_eval_seeds``
      (seeds 1–4). The judge's realism and share of a digit are their mean, so that no one network's
      quirks decide (one seed alone reads the same images 0.1–0.5 less often as confident).
    * ``"valid"``: four trained on the reward half with seeds 1–4 (``digits_valid``): what an align run
      may read to select (the reward half is the run's side of the data); never the reward itself."""
    from dnadav.assets import asset_path

    if role == "eval":
        folders = [asset_path("oracles", "digits_eval"), *sorted(asset_path("oracles", "digits_eval_seeds").glob("seed*"))]
    elif role == "valid":
        folders = sorted(asset_path("oracles", "digits_valid").glob("seed*"))
    else:
        raise ValueError(f"role must be 'eval' or 'valid'; got {role!r}")
    return [_classifier_in(folder) for folder in folders]


class DigitReward(torch.nn.Module):
    """``log p(digit | image)`` under a digits classifier; images ``[B, 1|3, 16, 16]`` in [0, 1]."""

    def __init__(self, classifier: DigitClassifier, digit: int):
        super().__init__()
        self.classifier, self.digit = classifier, digit

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[1] == 3:
            images = images.mean(dim=1, keepdim=True)
        if tuple(images.shape[1:]) != (1, 16, 16):
            raise InputError(f"the digit reward expects 16×16 grey images (the digits world); got {tuple(images.shape[1:])}")
        return torch.log_softmax(self.classifier(images.float()), dim=-1)[:, self.digit]


class AestheticReward(torch.nn.Module):
    """Linear aesthetic head on normalised CLIP image embeddings (LAION-aesthetic style), local weights."""

    def __init__(self, weights_dir: str | Path):
        super().__init__()
        from safetensors.torch import load_file
        from transformers import CLIPModel

        folder = Path(weights_dir)
        missing = [p for p in ("clip/config.json", "head.safetensors") if not (folder / p).is_file()]
        if missing:
            raise InputError(f"{folder}: aesthetic weights folder is missing {', '.join(missing)} (see docs/image.md)")
        self.clip = CLIPModel.from_pretrained(folder / "clip", local_files_only=True).eval().requires_grad_(False)
        head = load_file(str(folder / "head.safetensors"))
        self.head = torch.nn.Linear(head["weight"].shape[1], 1)
        self.head.load_state_dict(head)
        self.head.requires_grad_(False)
        vision = self.clip.config.vision_config
        self.size = vision.image_size
        self.register_buffer("mean", torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        pixels = torch.nn.functional.interpolate(images.float(), size=(self.size, self.size), mode="bicubic", align_corners=False)
        pixels = (pixels.clamp(0, 1) - self.mean) / self.std
        output = self.clip.vision_model(pixel_values=pixels)
        embedding = self.clip.visual_projection(output.pooler_output)
        embedding = embedding / embedding.norm(dim=-1, keepdim=True)
        return self.head(embedding).squeeze(-1)


def chunked(reward_fn: Callable[[torch.Tensor], torch.Tensor], max_batch: int | None) -> Callable[[torch.Tensor], torch.Tensor]:
    """``reward_fn`` applied to at most ``max_batch`` images per call (None: unchanged)."""
    if max_batch is None:
        return reward_fn
    return lambda images: torch.cat([reward_fn(part) for part in images.split(max_batch)])


def target_digit(name: str | None) -> int | None:
    """K of a ``digit=K`` reward name (the digits world), else None."""
    match = re.fullmatch(r"digit=(\d)", name or "")
    return int(match.group(1)) if match else None


def make_reward(name: str, weights: str | Path | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
    """The reward called ``name`` (one of ``REWARD_NAMES``; ``digit=3`` etc.)."""
    if name == "jpeg_compressibility":
        return jpeg_compressibility
    if name == "jpeg_incompressibility":
        return jpeg_incompressibility
    if name == "aesthetic":
        if weights is None:
            raise InputError("--reward aesthetic needs --reward-weights DIR (local CLIP + linear head; nothing is downloaded)")
        return AestheticReward(weights)
    digit = target_digit(name)
    if digit is not None:
        return DigitReward(load_digit_classifier("reward"), digit)
    raise InputError(f"unknown reward {name!r}; choose from {', '.join(REWARD_NAMES)}")
