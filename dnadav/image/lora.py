"""LoRA (peft) on a diffusers UNet: add adapters, a frozen-reference view with adapters off, and a
merged plain UNet for saving."""

from __future__ import annotations

import torch

__all__ = ["add_lora", "AdaptersOff", "merged_unet"]

TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]


def add_lora(unet: torch.nn.Module, rank: int, alpha: float | None = None) -> torch.nn.Module:
    """Freeze ``unet`` and add rank-``rank`` LoRA adapters on its attention projections (in place)."""
    from peft import LoraConfig

    unet.requires_grad_(False)
    unet.add_adapter(LoraConfig(r=rank, lora_alpha=alpha or rank, init_lora_weights="gaussian", target_modules=TARGETS))
    for parameter in unet.parameters():
        if parameter.requires_grad:  # adapters train in float32 even on a float16 UNet
            parameter.data = parameter.data.float()
    return unet


class AdaptersOff:
    """The frozen reference of a LoRA UNet without a second copy: calls it with adapters disabled.

    Deliberately not a ``torch.nn.Module`` (so trainers do not move or freeze the shared UNet)."""

    def __init__(self, unet: torch.nn.Module):
        self.unet = unet

    def __call__(self, *args, **kwargs):
        self.unet.disable_adapters()
        try:
            return self.unet(*args, **kwargs)
        finally:
            self.unet.enable_adapters()


def merged_unet(unet: torch.nn.Module) -> torch.nn.Module:
    """A plain UNet of the same class with every LoRA update merged into its base weights."""
    from peft.tuners.lora import LoraLayer

    state = {}
    for name, module in unet.named_modules():
        if isinstance(module, LoraLayer):
            module.merge()
    for key, value in unet.state_dict().items():
        if "lora_" in key:
            continue
        state[key.replace(".base_layer.", ".")] = value.clone()  # unmerge below edits in place
    for module in unet.modules():
        if isinstance(module, LoraLayer):
            module.unmerge()
    plain = type(unet).from_config(unet.config)
    plain.load_state_dict(state)
    return plain.to(next(unet.parameters()).dtype)
