"""The image sample job: plain DDIM samples, or the DAV E-step at test time (``children`` M > 0), from a
diffusers pipeline; writes images/, contact_sheet.png, rewards.csv and manifest.json under ``out``."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from dnadav.errors import InputError
from dnadav.jobs.image_options import ImageOptions
from dnadav.jobs.options import option

__all__ = ["ImageSampleOptions", "check_out", "created_folder", "sample_images"]


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


def check_out(out: Path, force: bool, finished: str) -> None:
    """Refuse (InputError) an ``out`` that is a file, or a folder holding ``finished`` without ``force``.
    Nothing is created: the job makes ``out`` only after every input has been checked."""
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: is a file; --out names the folder the images are written to")
    if (out / finished).exists() and not force:
        raise InputError(f"{out}: already holds results ({finished}); pass --force to overwrite")
    if any(parent.exists() and not parent.is_dir() for parent in out.parents):
        raise InputError(f"{out}: a parent of it is a file, not a folder")


@contextmanager
def created_folder(out: Path) -> Iterator[Path]:
    """Create ``out`` for the duration; when the body fails, remove it again if this call created it
    (a failed run leaves no empty or half-written folder behind)."""
    fresh = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        yield out
    except BaseException:
        if fresh:
            shutil.rmtree(out, ignore_errors=True)
        raise


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
    values = rewards if rewards is not None else torch.full((len(files),), float("nan"))  # written as empty cells
    captions = [
        _caption(None if prompts is None else prompts[i], None if rewards is None else float(values[i]))
        for i in range(len(files))
    ]
    contact_sheet(images, captions, out / "contact_sheet.png")
    write_rewards_csv(out / "rewards.csv", files, values, prompts)
    return files


def _caption(prompt: str | None, reward: float | None) -> str:
    """A contact-sheet caption: the prompt's first 10 characters and the reward, each when there is one."""
    parts = (None if prompt is None else prompt[:10], None if reward is None else f"{reward:.2f}")
    return " ".join(part for part in parts if part)


def _check_rewards(rewards: torch.Tensor, reward: str) -> None:
    """InputError when the reward of some image is nan or ±inf (no such number is written)."""
    bad = torch.nonzero(~torch.isfinite(rewards)).flatten()
    if len(bad):
        raise InputError(f"--reward {reward}: image {int(bad[0])} scores {float(rewards[bad[0]])}; no nan or inf is written")


def sample_images(options: ImageSampleOptions) -> dict:
    """Run the job; returns the summary (``n``, ``reward_mean``) that the manifest also records."""
    from dnadav.image.pipeline import load_pipeline
    from dnadav.image.rewards import chunked, make_reward

    o = options
    o.check()
    out = Path(o.out)
    check_out(out, o.force, "manifest.json")
    device = device_of(o.device)
    pipeline = load_pipeline(o.pipeline, device, torch.float16 if o.fp16 else torch.float32)
    process = pipeline.process(eta=o.eta, guidance_scale=o.guidance_scale, max_batch=o.max_batch)
    reward_fn = make_reward(o.reward, o.reward_weights) if o.reward else None
    if isinstance(reward_fn, torch.nn.Module):
        reward_fn.to(device)
    reward_fn = None if reward_fn is None else chunked(reward_fn, o.max_batch)
    generator = torch.Generator(device).manual_seed(o.seed)
    prompts = _prompts_for(pipeline, o.prompts, o.n, torch.Generator().manual_seed(o.seed))
    with created_folder(out):
        return _run(o, out, pipeline, process, reward_fn, generator, prompts, device)


def _run(o: ImageSampleOptions, out: Path, pipeline, process, reward_fn, generator, prompts, device) -> dict:
    """Sample, score and write everything under ``out`` (which exists); returns the summary."""
    from dnadav.core.protocol import sample_process
    from dnadav.core.search import SearchConfig, search_process
    from dnadav.io import current_command, write_manifest

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
        _check_rewards(rewards, o.reward)
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
