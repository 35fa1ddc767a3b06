"""``dnadav image sample`` and ``dnadav image align``: the image plugin's commands.

Register them with ``add_image_parser(subparsers)`` (it adds ``image`` with two subcommands, each
setting ``run``). Standalone: ``python -m dnadav.image.cli sample ...``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import torch

from dnadav.errors import InputError

__all__ = ["add_image_parser", "run_sample", "run_align", "main"]


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pipeline", default="digits", help="local diffusers folder, or 'digits' (shipped); never downloaded")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=32, help="DDIM steps T (default 32)")
    parser.add_argument("--eta", type=float, default=1.0, help="DDIM η > 0 (default 1: DDPM-like noise)")
    parser.add_argument("--guidance-scale", type=float, default=7.5, help="classifier-free guidance w (conditional UNets)")
    parser.add_argument("--prompts", type=Path, help="prompts file, one per line (default: built-in animals)")
    parser.add_argument("--reward", help="jpeg_compressibility, jpeg_incompressibility, aesthetic or digit=K")
    parser.add_argument("--reward-weights", type=Path, help="folder of local weights for --reward aesthetic")
    parser.add_argument("--temperature", type=float, default=0.1, help="reward temperature α of the search (default 0.1)")
    parser.add_argument("--mode", choices=["per_sequence", "smc"], default="per_sequence", help="E-step variant")
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto")
    parser.add_argument("--fp16", action="store_true", help="load the pipeline in float16 (GPU)")
    parser.add_argument("--max-batch", type=int, help="most rows per UNet/VAE/reward call (memory cap; default: all at once)")
    parser.add_argument("--force", action="store_true", help="overwrite --out")


def add_image_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add ``image`` with ``sample`` and ``align`` to a CLI's subparsers."""
    image = subparsers.add_parser("image", help="the image plugin: DDIM sampling, search and DAV over diffusers pipelines")
    sub = image.add_subparsers(dest="image_command", metavar="IMAGE_COMMAND", required=True)
    sample = sub.add_parser("sample", help="plain DDIM samples, or the E-step at test time with --search M")
    _common(sample)
    sample.add_argument("--n", type=int, default=16, help="number of images (default 16)")
    sample.add_argument("--search", type=int, default=0, help="M children per image per step (0 = plain sampling)")
    sample.add_argument("--batch-size", type=int, default=64, help="images per batched call (default 64)")
    sample.set_defaults(run=run_sample)
    align = sub.add_parser("align", help="DAV over the image model (resumable)")
    _common(align)
    align.add_argument("--iterations", type=int, default=8, help="EM iterations (default 8)")
    align.add_argument("--images", type=int, default=48, help="E-step images per iteration (default 48)")
    align.add_argument("--search", type=int, default=8, help="M children per image per step (default 8)")
    align.add_argument("--kl-weight", type=float, default=1.0, help="λ: KL of each step to the frozen reference (default 1)")
    align.add_argument("--objective", choices=["transitions", "nelbo"], default="transitions", help="M-step loss")
    align.add_argument("--inner-epochs", type=int, default=3, help="M-step passes per iteration (default 3)")
    align.add_argument("--batch-size", type=int, default=128, help="transitions per M-step batch")
    align.add_argument("--lr", type=float, default=1e-3)
    align.add_argument("--lora-rank", type=int, default=0, help="LoRA rank on the attention projections (0 = full fine-tuning)")
    align.add_argument("--eval-images", type=int, default=64, help="plain samples scored after every iteration")
    align.add_argument("--gradient-checkpointing", choices=["auto", "on", "off"], default="auto", help="auto = on for GPU")
    align.add_argument("--accelerator", default="auto", help="cpu, gpu or auto")
    align.add_argument("--devices", default="1")
    align.add_argument("--quiet", action="store_true")
    align.set_defaults(run=run_align)


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"--device {name}: CUDA is not available here")
    return torch.device(name)


def _check_args(args: argparse.Namespace) -> None:
    if not args.eta > 0:
        raise InputError(f"--eta must be > 0 (the search and M-step need a stochastic step); got {args.eta}")
    if not (args.temperature > 0 or math.isinf(args.temperature)):
        raise InputError(f"--temperature must be > 0; got {args.temperature}")
    if args.max_batch is not None and args.max_batch < 1:
        raise InputError(f"--max-batch must be ≥ 1; got {args.max_batch}")
    if args.steps < 1 or args.steps > 1000:
        raise InputError(f"--steps must be in 1..1000; got {args.steps}")
    if args.search < 0:
        raise InputError(f"--search must be ≥ 0; got {args.search}")
    if args.search > 0 and not args.reward:
        raise InputError("--search M needs --reward NAME")


def _prepare_out(out: Path, force: bool, finished: str) -> None:
    if (out / finished).exists() and not force:
        raise InputError(f"{out}: already holds results ({finished}); pass --force to overwrite")
    out.mkdir(parents=True, exist_ok=True)


def _prompts_for(pipeline, args, num: int, generator: torch.Generator) -> list[str] | None:
    from dnadav.image.prompts import ANIMALS, draw_prompts, read_prompts

    if not pipeline.conditional:
        if args.prompts is not None:
            raise InputError(f"{pipeline.path}: an unconditional pipeline takes no --prompts")
        return None
    return draw_prompts(read_prompts(args.prompts) if args.prompts else ANIMALS, num, generator)


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


def run_sample(args: argparse.Namespace) -> int:
    """Plain DDIM samples, or the E-step (``--search M``); writes images/, contact_sheet.png,
    rewards.csv and manifest.json under ``--out``."""
    from dnadav.core.protocol import sample_process
    from dnadav.core.search import SearchConfig, search_process
    from dnadav.image.pipeline import load_pipeline
    from dnadav.image.rewards import chunked, make_reward
    from dnadav.io import current_command, write_manifest

    _check_args(args)
    if args.n < 1 or args.batch_size < 1:
        raise InputError("--n and --batch-size must be ≥ 1")
    _prepare_out(args.out, args.force, "manifest.json")
    device = _device(args.device)
    pipeline = load_pipeline(args.pipeline, device, torch.float16 if args.fp16 else torch.float32)
    process = pipeline.process(eta=args.eta, guidance_scale=args.guidance_scale, max_batch=args.max_batch)
    reward_fn = make_reward(args.reward, args.reward_weights) if args.reward else None
    if isinstance(reward_fn, torch.nn.Module):
        reward_fn.to(device)
    reward_fn = None if reward_fn is None else chunked(reward_fn, args.max_batch)
    generator = torch.Generator(device).manual_seed(args.seed)
    prompts = _prompts_for(pipeline, args, args.n, torch.Generator().manual_seed(args.seed))
    images, stats = [], []
    for start in range(0, args.n, args.batch_size):
        count = min(args.batch_size, args.n - start)
        context = None if prompts is None else pipeline.encode_prompts(prompts[start : start + count])
        if args.search > 0:
            config = SearchConfig(
                num_children=args.search, reward_temperature=args.temperature, num_steps=args.steps, mode=args.mode
            )
            result = search_process(process, reward_fn, count, config, generator, context)
            final, _ = result.sequences, stats.append(result.stats.as_dict())
        else:
            final = sample_process(process, count, args.steps, generator, context)
        with torch.no_grad():
            images.append(process.decode(final).float().cpu())
    images = torch.cat(images)
    rewards = None
    if reward_fn is not None:
        with torch.no_grad():
            rewards = torch.cat([reward_fn(chunk.to(device)).float().cpu() for chunk in images.split(args.batch_size)])
    _write_images(args.out, images, rewards, prompts)
    summary = {"n": args.n, "reward_mean": None if rewards is None else float(rewards.mean())}
    write_manifest(
        args.out / "manifest.json",
        command=current_command("python -m dnadav.image.cli " + " ".join(sys.argv[1:])),
        config={k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "run"},
        checkpoints=_weights(pipeline.path),
        extra={"image_versions": _versions(), "search_stats": stats, "summary": summary},
    )
    print(json.dumps(summary))
    return 0


def run_align(args: argparse.Namespace) -> int:
    """DAV over the image model into ``--out`` (resumed from ``checkpoints/last.ckpt``)."""
    from dnadav.jobs.image_align import ImageAlignOptions, align_images

    _check_args(args)
    if args.search < 1:
        raise InputError("--search M must be ≥ 1 for align")
    if not args.reward:
        raise InputError("align needs --reward NAME")
    if (args.out / "aligned.json").exists() and not args.force:
        raise InputError(f"{args.out}: already holds a finished run (aligned.json); pass --force to start again")
    options = ImageAlignOptions(**{k: getattr(args, k) for k in ImageAlignOptions.__dataclass_fields__})
    summary = align_images(options, resume=not args.force)
    print(json.dumps(summary, indent=2, default=str))
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m dnadav.image.cli sample|align ...`` (same as ``dnadav image ...``)."""
    parser = argparse.ArgumentParser(prog="dnadav")
    subparsers = parser.add_subparsers(dest="command")
    add_image_parser(subparsers)
    args = parser.parse_args(["image", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.run(args) or 0)
    except (InputError, FileNotFoundError) as error:
        print(f"dnadav image {args.image_command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
