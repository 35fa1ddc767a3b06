"""DDPO and VMPO on an image pipeline: the reachable entry point of the two generic baselines
(``ddpo.train``, ``vmpo.train``) for a local diffusers folder, saved as a folder that
``dnadav image sample --pipeline FOLDER`` loads (the layout of a ``dnadav image align`` run:
``unet/`` + ``aligned.json`` naming the base pipeline).

    from dnadav.baselines.image_finetune import finetune_pipeline
    result = finetune_pipeline("digits", "digit=3", "ddpo", DdpoConfig(num_steps=32, iterations=16), "runs/ddpo3")

A copy of the pipeline's UNet is trained in full (no LoRA); the loaded UNet stays frozen as the
reference (VMPO's p_ref, the optional KL anchor of both). The folder holds ``unet/``,
``aligned.json``, ``history.json`` (one record per sampling round: mean reward, reward calls so
far, the loss parts) and ``manifest.json`` (config, the budget of ``config.budget()``, wall time).
Imports of diffusers happen inside the call, never at ``import dnadav``.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from dnadav.baselines.ddpo import DdpoConfig
from dnadav.baselines.rollouts import PolicyGradientConfig
from dnadav.baselines.vmpo import VmpoConfig
from dnadav.errors import InputError

__all__ = ["Method", "FinetuneResult", "finetune_pipeline"]

Method = Literal["ddpo", "vmpo"]
_CONFIGS: dict[str, type[PolicyGradientConfig]] = {"ddpo": DdpoConfig, "vmpo": VmpoConfig}


@dataclass(frozen=True)
class FinetuneResult:
    """What ``finetune_pipeline`` wrote to ``out``: its ``history`` (one dict per round), the run's
    ``budget`` (``config.budget()``: train_oracle_calls, train_network_sequences) and wall ``seconds``."""

    out: Path
    history: list[dict[str, float]]
    budget: dict[str, float]
    seconds: float


def finetune_pipeline(
    pipeline: str | Path,
    reward: str,
    method: Method = "ddpo",
    config: PolicyGradientConfig | None = None,
    out: str | Path = "runs/image_finetune",
    seed: int | None = None,
    *,
    eta: float = 1.0,
    guidance_scale: float = 7.5,
    device: str = "cpu",
    force: bool = False,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
) -> FinetuneResult:
    """Train a copy of ``pipeline``'s UNet with DDPO or VMPO on ``reward`` (a ``dnadav image`` reward
    name: ``digit=3``, ``jpeg_compressibility``, …) and save it under ``out``.

    ``config``: a ``DdpoConfig`` / ``VmpoConfig`` (default: that class's defaults; ``num_steps`` is the
    DDIM T of every path); ``seed`` overrides ``config.seed``. A conditional pipeline is trained on
    the built-in animal prompts, one fixed draw of ``config.batch_size``. InputError when ``out``
    already holds a finished run (``force`` overwrites) or the method/config do not match."""
    from dnadav.baselines import ddpo, vmpo
    from dnadav.image.pipeline import load_pipeline, recorded_base
    from dnadav.image.rewards import make_reward
    from dnadav.io import atomic_write_text, current_command, save_pretrained, write_manifest

    if method not in _CONFIGS:
        raise InputError(f"method must be one of {', '.join(_CONFIGS)}; got {method!r}")
    config = _CONFIGS[method]() if config is None else config
    if not isinstance(config, _CONFIGS[method]):
        raise InputError(f"method {method!r} takes a {_CONFIGS[method].__name__}; got {type(config).__name__}")
    if seed is not None:
        config = dataclasses.replace(config, seed=seed)
    out = Path(out)
    if (out / "aligned.json").exists() and not force:
        raise InputError(f"{out}: already holds a fine-tuned pipeline (aligned.json); pass force=True to overwrite")

    loaded = load_pipeline(pipeline, device)
    reward_fn = make_reward(reward)
    if isinstance(reward_fn, torch.nn.Module):
        reward_fn.to(device)
    model = copy.deepcopy(loaded.unet).requires_grad_(True)
    process = loaded.process(model, eta=eta, guidance_scale=guidance_scale)
    context = None
    if loaded.conditional:
        from dnadav.image.prompts import ANIMALS, draw_prompts

        prompts = draw_prompts(list(ANIMALS), config.batch_size, torch.Generator().manual_seed(config.seed))
        context = loaded.encode_prompts(prompts)

    started, cpu_started = time.time(), time.process_time()
    train = {"ddpo": ddpo.train, "vmpo": vmpo.train}[method]
    history = train(process, reward_fn, config, loaded.unet, context=context, on_step=on_step)
    seconds, cpu_seconds = time.time() - started, time.process_time() - cpu_started

    out.mkdir(parents=True, exist_ok=True)
    save_pretrained(model.cpu().eval().requires_grad_(False), out / "unet", safe_serialization=True)
    atomic_write_text(out / "history.json", json.dumps(history, indent=2) + "\n")
    budget = config.budget()
    call = f"dnadav.baselines.image_finetune.finetune_pipeline({str(pipeline)!r}, {reward!r}, {method!r}, {config!r})"
    write_manifest(
        out / "manifest.json",
        command=current_command(call),
        config={"method": method, "pipeline": str(pipeline), "reward": reward, "eta": eta, method: config.as_dict()},
        checkpoints=sorted((out / "unet").glob("*.safetensors")),
        extra={"budget": budget, "train_seconds": seconds, "train_cpu_seconds": cpu_seconds},
    )
    # written last: its presence marks a finished run (load_pipeline reads the base from it)
    aligned = {"base": recorded_base(pipeline, loaded.path), "lora_rank": 0, "method": method}
    atomic_write_text(out / "aligned.json", json.dumps(aligned, indent=2) + "\n")
    return FinetuneResult(out, history, budget, seconds)
