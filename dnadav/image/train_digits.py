"""Train the embedded digits world (seeded, CPU-sized):

    python -m dnadav.image.train_digits ddpm --out models/digits --steps 1500 --seed 0
    python -m dnadav.image.train_digits classifier --half reward --out oracles/digits_reward --seed 0
    python -m dnadav.image.train_digits classifier --half eval --out oracles/digits_eval --seed 0
    python -m dnadav.image.train_digits evaluate --pipeline models/digits --n 256 --steps 32 --seed 0

The DDPM is a pixel-space diffusers ``UNet2DModel`` (1 channel, 16×16, ε-prediction, 1,000-step
cosine schedule) trained on all 1,797 digits, saved in diffusers layout (``unet/`` in float16,
``scheduler/`` a ``DDIMScheduler``) with ``model_index.json``. The classifiers
(``dnadav.image.digits.DigitClassifier``) are trained on the two disjoint halves of
``digit_halves()`` and validated on the other half.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import time
from pathlib import Path

import torch

from dnadav.image.digits import DigitClassifier, digit_halves, load_digit_images
from dnadav.io import atomic_write_text, save_pretrained

UNET_CONFIG = dict(
    sample_size=16,
    in_channels=1,
    out_channels=1,
    layers_per_block=1,
    block_out_channels=(32, 48, 64),
    down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
    norm_num_groups=16,
)
SCHEDULER_CONFIG = dict(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", clip_sample=True, prediction_type="epsilon")


def _shift(images: torch.Tensor, generator: torch.Generator, max_shift: int = 1) -> torch.Tensor:
    """Random integer translations by up to ``max_shift`` pixels (zero padding), one per image."""
    n, _, h, w = images.shape
    padded = torch.nn.functional.pad(images, (max_shift,) * 4)
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(h)[None])[:, :, None].expand(n, h, w)
    cols = (dx[:, None] + torch.arange(w)[None])[:, None, :].expand(n, h, w)
    return padded[torch.arange(n)[:, None, None], 0, rows, cols][:, None]


def train_ddpm(out: Path, steps: int, batch_size: int, lr: float, seed: int) -> dict:
    from diffusers import DDIMScheduler, UNet2DModel

    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    images, _ = load_digit_images()
    data = images * 2 - 1
    unet = UNet2DModel(**UNET_CONFIG)
    scheduler = DDIMScheduler(**SCHEDULER_CONFIG)
    ema = copy.deepcopy(unet).requires_grad_(False)
    optimizer = torch.optim.AdamW(unet.parameters(), lr=lr, weight_decay=0.0)
    warmup = max(1, min(100, steps // 10))
    lr_at = lambda k: lr * min(1.0, (k + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * k / steps))  # noqa: E731
    alphas = scheduler.alphas_cumprod
    started, log = time.time(), []
    for k in range(steps):
        index = torch.randint(0, len(data), (batch_size,), generator=generator)
        x0 = _shift(data[index] * 0.5 + 0.5, generator) * 2 - 1
        t = torch.randint(0, scheduler.config.num_train_timesteps, (batch_size,), generator=generator)
        noise = torch.randn(x0.shape, generator=generator)
        a = alphas[t][:, None, None, None]
        x_t = a.sqrt() * x0 + (1 - a).sqrt() * noise
        loss = (unet(x_t, t).sample - noise).pow(2).mean()
        for group in optimizer.param_groups:
            group["lr"] = lr_at(k)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        optimizer.step()
        decay = min(0.995, (1 + k) / (10 + k))
        with torch.no_grad():
            for e, p in zip(ema.parameters(), unet.parameters()):
                e.lerp_(p, 1 - decay)
        if k % 50 == 0 or k == steps - 1:
            log.append({"step": k, "loss": float(loss), "minutes": (time.time() - started) / 60})
            print(json.dumps(log[-1]), flush=True)
    out.mkdir(parents=True, exist_ok=True)
    save_pretrained(ema.to(torch.float16), out / "unet", safe_serialization=True)
    save_pretrained(scheduler, out / "scheduler")
    index = {"_class_name": "DDPMPipeline", "_diffusers_version": "0.27.0", "scheduler": ["diffusers", "DDIMScheduler"],
             "unet": ["diffusers", "UNet2DModel"]}  # fmt: skip
    atomic_write_text(out / "model_index.json", json.dumps(index, indent=2) + "\n")
    summary = {"steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed, "final_loss": log[-1]["loss"],
               "train_minutes": (time.time() - started) / 60, "parameters": sum(p.numel() for p in unet.parameters())}  # fmt: skip
    atomic_write_text(out / "train_log.json", json.dumps({"summary": summary, "log": log}, indent=2) + "\n")
    return summary


def train_classifier(out: Path, half: str, epochs: int, seed: int) -> dict:
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    images, labels = load_digit_images()
    reward_half, eval_half = digit_halves()
    train_index, valid_index = (reward_half, eval_half) if half == "reward" else (eval_half, reward_half)
    model = DigitClassifier()
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    x, y = images[train_index], labels[train_index]
    for epoch in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        for batch in order.split(64):
            # shifts and a little noise so that the smooth x̂0 of noisy states is still read sensibly
            xb = _shift(x[batch], generator) + 0.05 * torch.randn(x[batch].shape, generator=generator)
            loss = torch.nn.functional.cross_entropy(model(xb.clamp(0, 1)), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        logits = model(images[valid_index])
    accuracy = float((logits.argmax(-1) == labels[valid_index]).float().mean())
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out / "model.safetensors"))
    config = {"architecture": "DigitClassifier", **model.config, "half": half, "epochs": epochs, "seed": seed,
              "train_rows": len(train_index), "valid_rows": len(valid_index)}  # fmt: skip
    atomic_write_text(out / "config.json", json.dumps(config, indent=2) + "\n")
    metrics = {"valid_accuracy_other_half": accuracy}
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return metrics


@torch.no_grad()
def evaluate_ddpm(folder: Path, num: int, steps: int, seed: int) -> dict:
    """Plain DDIM (η = 1) samples of a digits pipeline, read by the eval classifier (trained on half
    the data): share read with confidence > 0.9, class histogram, diversity, nearest training digit."""
    from dnadav.core.protocol import sample_process
    from dnadav.image.metrics import confident_share, mean_nearest_l2, mean_pairwise_l2
    from dnadav.image.pipeline import load_pipeline
    from dnadav.image.rewards import load_digit_classifier

    process = load_pipeline(folder).process(eta=1.0)
    images = process.decode(sample_process(process, num, steps, torch.Generator().manual_seed(seed)))
    classifier = load_digit_classifier("eval")
    probabilities = torch.softmax(classifier(images), dim=-1)
    train, _ = load_digit_images()
    held_out = train[digit_halves()[0]][:num]  # real digits the eval classifier never saw
    return {
        "num_samples": num, "ddim_steps": steps, "eta": 1.0, "seed": seed,
        "eval_confident_share": confident_share(images, classifier),
        "eval_class_histogram": torch.bincount(probabilities.argmax(-1), minlength=10).tolist(),
        "diversity_l2": mean_pairwise_l2(images),
        "nearest_train_l2": mean_nearest_l2(images, train),
        "reference_real_digits_diversity_l2": mean_pairwise_l2(held_out),
        "reference_real_digits_confident_share": confident_share(held_out, classifier),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dnadav.image.train_digits")
    sub = parser.add_subparsers(dest="what", required=True)
    ddpm = sub.add_parser("ddpm")
    ddpm.add_argument("--out", type=Path, required=True)
    ddpm.add_argument("--steps", type=int, default=1500)
    ddpm.add_argument("--batch-size", type=int, default=64)
    ddpm.add_argument("--lr", type=float, default=2e-3)
    ddpm.add_argument("--seed", type=int, default=0)
    classifier = sub.add_parser("classifier")
    classifier.add_argument("--half", choices=("reward", "eval"), required=True)
    classifier.add_argument("--out", type=Path, required=True)
    classifier.add_argument("--epochs", type=int, default=20)
    classifier.add_argument("--seed", type=int, default=0)
    evaluate = sub.add_parser("evaluate")
    evaluate.add_argument("--pipeline", type=Path, required=True)
    evaluate.add_argument("--n", type=int, default=256)
    evaluate.add_argument("--steps", type=int, default=32)
    evaluate.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.what == "evaluate":
        metrics = evaluate_ddpm(args.pipeline, args.n, args.steps, args.seed)
        atomic_write_text(args.pipeline / "metrics.json", json.dumps(metrics, indent=2) + "\n")
        print(json.dumps(metrics))
    elif args.what == "ddpm":
        print(json.dumps(train_ddpm(args.out, args.steps, args.batch_size, args.lr, args.seed)))
    else:
        print(json.dumps(train_classifier(args.out, args.half, args.epochs, args.seed)))


if __name__ == "__main__":
    main()
