"""Digits-world numbers for a `dnadav image sample` output folder (its PNGs), read by the held-out
classifier: share and confidence of digit K, the share read as any digit with confidence > 0.9 — by the
shipped evaluation classifier and, the docs' measures, averaged over the five evaluation classifiers
(``eval_ensemble_share_digit``, ``eval_realism``) — diversity, nearest training digit.

    python bench/image_digits_report.py OUT_DIR --digit 3 [--searched OTHER_OUT_DIR]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from dnadav.image.digits import load_digit_images
from dnadav.image.metrics import digit_report
from dnadav.image.rewards import load_digit_ensemble


def read_pngs(folder: Path) -> torch.Tensor:
    files = sorted((folder / "images").glob("image_*.png"))
    return torch.stack([torch.tensor(np.asarray(Image.open(f)), dtype=torch.float32)[None] / 255 for f in files])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--digit", type=int, default=3)
    parser.add_argument("--searched", type=Path)
    args = parser.parse_args()
    images = read_pngs(args.out)
    searched = read_pngs(args.searched) if args.searched else None
    train, _ = load_digit_images()
    ensemble = load_digit_ensemble("eval")  # its first member is digits_eval, the seed-0 classifier
    report = digit_report(images, args.digit, ensemble[0], train, searched, ensemble)
    print(json.dumps({"folder": str(args.out), "n": len(images), **{k: round(v, 3) for k, v in report.items()}}))


if __name__ == "__main__":
    main()
