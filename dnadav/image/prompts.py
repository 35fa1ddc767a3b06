"""Prompts for conditional pipelines: one per line from a file, or a built-in list of simple
animals in the style of the DDPO / DAV image experiments (not guaranteed verbatim to theirs)."""

from __future__ import annotations

from pathlib import Path

import torch

from dnadav.errors import InputError
from dnadav.io import read_text_file

__all__ = ["ANIMALS", "read_prompts", "draw_prompts"]

ANIMALS = (
    "cat", "dog", "horse", "monkey", "rabbit", "zebra", "spider", "bird", "sheep", "deer", "cow", "goat", "lion",
    "tiger", "bear", "raccoon", "fox", "wolf", "lizard", "beetle", "ant", "butterfly", "fish", "shark", "whale",
    "dolphin", "squirrel", "mouse", "rat", "snake", "turtle", "frog", "chicken", "duck", "goose", "bee", "pig",
    "turkey", "fly", "llama", "camel", "bat", "gorilla", "hedgehog", "kangaroo",
)  # fmt: skip


def read_prompts(path: str | Path) -> list[str]:
    """Non-empty, stripped lines of a UTF-8 text file (``#`` lines are comments)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such prompts file")
    prompts = [line.strip() for line in read_text_file(path, "prompts file").splitlines()]
    prompts = [p for p in prompts if p and not p.startswith("#")]
    if not prompts:
        raise InputError(f"{path}: no prompts (one per line expected)")
    return prompts


def draw_prompts(prompts: list[str] | tuple[str, ...], num: int, generator: torch.Generator) -> list[str]:
    """``num`` prompts drawn uniformly with replacement (seeded)."""
    index = torch.randint(0, len(prompts), (num,), generator=generator)
    return [prompts[i] for i in index.tolist()]
