"""What the image commands write: one PNG per image, a captioned contact sheet, per-image CSV."""

from __future__ import annotations

import io
import math
from pathlib import Path

import torch

from dnadav.io import atomic_write_bytes, atomic_write_text

__all__ = ["png_bytes", "write_pngs", "contact_sheet", "write_rewards_csv"]


def png_bytes(image: torch.Tensor, scale: int = 1) -> bytes:
    """One image ``[C, H, W]`` in [0, 1] as PNG bytes (nearest-neighbour upscaled by ``scale``)."""
    from PIL import Image

    array = (image.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    picture = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def write_pngs(images: torch.Tensor, folder: Path) -> list[Path]:
    """``images [N, C, H, W]`` -> ``folder/image_0000.png`` … (atomic writes)."""
    paths = []
    for i, image in enumerate(images):
        paths.append(atomic_write_bytes(folder / f"image_{i:04d}.png", png_bytes(image)))
    return paths


def contact_sheet(images: torch.Tensor, captions: list[str], path: Path, columns: int | None = None, cell: int = 96) -> Path:
    """A grid PNG of ``images [N, C, H, W]`` with one short caption under each (truncated to fit)."""
    from PIL import Image, ImageDraw

    n = images.shape[0]
    columns = columns or min(n, max(1, math.ceil(math.sqrt(n))))
    rows = math.ceil(n / columns)
    caption_height = 12
    sheet = Image.new("RGB", (columns * cell, rows * (cell + caption_height)), "white")
    draw = ImageDraw.Draw(sheet)
    for i in range(n):
        picture = Image.open(io.BytesIO(png_bytes(images[i]))).convert("RGB").resize((cell, cell), Image.NEAREST)
        x, y = (i % columns) * cell, (i // columns) * (cell + caption_height)
        sheet.paste(picture, (x, y))
        draw.text((x + 2, y + cell), captions[i][: max(1, cell // 6)], fill="black")
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG", optimize=True)
    return atomic_write_bytes(path, buffer.getvalue())


def _cell(value: object) -> str:
    """A CSV cell for a number: ``6g`` when finite, else empty."""
    number = float(value)
    return f"{number:.6g}" if math.isfinite(number) else ""


def write_rewards_csv(
    path: Path, files: list[Path], rewards: torch.Tensor, prompts: list[str] | None = None, extra: dict | None = None
) -> Path:
    """``file,prompt,reward[,extra columns…]`` one row per image; a value that is nan or ±inf (no
    reward was asked for) is an empty cell, never the text ``nan``."""
    import csv

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    extra = extra or {}
    writer.writerow(["file", "prompt", "reward", *extra])
    for i, file in enumerate(files):
        writer.writerow([file.name, "" if prompts is None else prompts[i], _cell(rewards[i]),
                         *(_cell(v[i]) for v in extra.values())])  # fmt: skip
    return atomic_write_text(path, buffer.getvalue())
