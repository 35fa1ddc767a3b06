"""The image sample job: plain DDIM samples, or the DAV E-step at test time (``children`` M > 0), from a
diffusers pipeline; writes images/, contact_sheet.png, rewards.csv and manifest.json under ``out``."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from dnadav.errors import InputError
from dnadav.jobs.image_options import ImageOptions
from dnadav.jobs.options import option

__all__ = ["ImageSampleOptions", "sample_images"]


@dataclass
class ImageSampleOptions(ImageOptions):
    n: int = option(16, "number of images")
    children: int = option(0, "M children per image per step (0 = plain sampling)", metavar="M")
    batch_size: int = option(64, "images per batched call")
    force: bool = option(False, cli=False)  # overwrite ``out`` (the CLI's --force)

    def check(self) -> None:
        super().check()
        if self.children < 0:
            raise InputError(f"--children must be ≥ 0; got {self.children}")
        if self.children > 0 and not self.reward:
            raise InputError("--children M needs --reward NAME")
        if self.n < 1 or self.batch_size < 1:
            raise InputError("--n and --batch-size must be ≥ 1")
        if self.out is None:
            raise InputError("an output folder (--out) is needed")


def device_of(name: str) -> torch.device:
    """``auto`` -> cuda when available, else cpu; InputError for cuda without CUDA."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"--device {name}: CUDA is not available here")
    return torch.device(name)


def prepare_out(out: Path, force: bool, finished: str) -> None:
    """Create ``out``; refuse (InputError) when it holds ``finished`` already and not ``force``."""
    if (out / finished).exists() and not force:
        raise InputError(f"{out}: already holds results ({finished}); pass --force to overwrite")
    out.mkdir(parents=True, exist_ok=True)


def _prompts_for(pipeline, prompts: Path | None, num: int, generator: torch.Generator) -> list[str] | None:
    from dnadav.image.prompts import ANIMALS, draw_prompts, read_prompts

    if not pipeline.conditional:
        if prompts is not None:
            raise InputError(f"{pipeline.path}: an unconditional pipeline takes no --prompts")
        return None
    return draw_prompts(read_prompts(prompts) if prompts else ANIMALS, num, generator)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("diffusers", "transformers", "peft"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def _weights(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.suffix in (".safetensors", ".bin") and p.is_file())


def _write_images(out: Path, images: torch.Tensor, rewards: torch.Tensor | None, prompts: list[str] | None) -> list[Path]:
    from dnadav.image.outputs import contact_sheet, write_pngs, write_rewards_csv

    files = write_pngs(images, out / "images")
    values = rewards if rewards is not None else torch.full((len(files),), float("nan"))
    captions = [f"{'' if prompts is None else prompts[i][:10] + ' '}{float(values[i]):.2f}" for i in range(len(files))]
    contact_sheet(images, captions, out / "contact_sheet.png")
    write_rewards_csv(out / "rewards.csv", files, values, prompts)
    return files


def sample_images(options: ImageSampleOptions) -> dict:
    """Run the job; returns the summary (``n``, ``reward_mean``) that the manifest also records."""
    from dnadav.core.protocol import sample_process
    from dnadav.core.search import SearchConfig, search_process
    from dnadav.image.pipeline import load_pipeline
    from dnadav.image.rewards import chunked, make_reward
    from dnadav.io import current_command, write_manifest

    o = options
    o.check()
    out = Path(o.out)
    prepare_out(out, o.force, "manifest.json")
    device = device_of(o.device)
    pipeline = load_pipeline(o.pipeline, device, torch.float16 if o.fp16 else torch.float32)
    process = pipeline.process(eta=o.eta, guidance_scale=o.guidance_scale, max_batch=o.max_batch)
    reward_fn = make_reward(o.reward, o.reward_weights) if o.reward else None
    if isinstance(reward_fn, torch.nn.Module):
        reward_fn.to(device)
    reward_fn = None if reward_fn is None else chunked(reward_fn, o.max_batch)
    generator = torch.Generator(device).manual_seed(o.seed)
    prompts = _prompts_for(pipeline, o.prompts, o.n, torch.Generator().manual_seed(o.seed))
    images, stats = [], []
    for start in range(0, o.n, o.batch_size):
        count = min(o.batch_size, o.n - start)
        context = None if prompts is None else pipeline.encode_prompts(prompts[start : start + count])
        if o.children > 0:
            config = SearchConfig(num_children=o.children, reward_temperature=o.temperature, num_steps=o.steps, mode=o.mode)
            result = search_process(process, reward_fn, count, config, generator, context)
            final, _ = result.sequences, stats.append(result.stats.as_dict())
        else:
            final = sample_process(process, count, o.steps, generator, context)
        with torch.no_grad():
            images.append(process.decode(final).float().cpu())
    images = torch.cat(images)
    rewards = None
    if reward_fn is not None:
        with torch.no_grad():
            rewards = torch.cat([reward_fn(chunk.to(device)).float().cpu() for chunk in images.split(o.batch_size)])
    _write_images(out, images, rewards, prompts)
    summary = {"n": o.n, "reward_mean": None if rewards is None else float(rewards.mean())}
    config = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(o).items()}
    write_manifest(
        out / "manifest.json",
        command=current_command(f"dnadav.jobs.image_sample.sample_images({config!r})"),
        config=config,
        checkpoints=_weights(pipeline.path),
        extra={"image_versions": _versions(), "search_stats": stats, "summary": summary},
    )
    return summary
