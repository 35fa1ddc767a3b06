"""DNA tokens and one-hot tensors.

Conventions used across dnadav:

* ``tokens [B, L]`` int64 with A, C, G, T = 0, 1, 2, 3 and ``MASK_INDEX`` = 4;
* ``onehot [B, 4, L]`` float in ACGT order (the tangermeme / gReLU convention); a masked position
  is an all-zero column.

This module is the one home of reverse complement (``reverse_complement`` for tokens,
``reverse_complement_onehot`` for one-hots) and of GC content (``gc_count`` / ``gc_content``);
metrics, oracles and their training call these.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from dnadav.errors import InputError

__all__ = [
    "ALPHABET",
    "NUM_BASES",
    "MASK_INDEX",
    "VOCAB_SIZE",
    "invalid_character",
    "strings_to_tokens",
    "tokens_to_strings",
    "tokens_to_onehot",
    "onehot_to_tokens",
    "strings_to_onehot",
    "reverse_complement",
    "reverse_complement_onehot",
    "gc_count",
    "gc_content",
]

ALPHABET = "ACGT"
NUM_BASES = 4
MASK_INDEX = 4
VOCAB_SIZE = 5

# Byte -> token lookup; every byte that is not A/C/G/T (either case) maps to -1.
_LOOKUP = np.full(256, -1, dtype=np.int64)
for _i, _base in enumerate(ALPHABET):
    _LOOKUP[ord(_base)] = _i
    _LOOKUP[ord(_base.lower())] = _i
_CHARS = np.frombuffer((ALPHABET + "N").encode(), dtype=np.uint8)


def invalid_character(sequence: str) -> tuple[int, str] | None:
    """Return ``(position, character)`` of the first non-A/C/G/T character, or None if valid."""
    codes = _LOOKUP[np.frombuffer(sequence.encode("latin-1", "replace"), dtype=np.uint8)]
    bad = np.flatnonzero(codes < 0)
    if bad.size == 0:
        return None
    return int(bad[0]), sequence[int(bad[0])]


def strings_to_tokens(sequences: Sequence[str]) -> torch.Tensor:
    """Encode equal-length A/C/G/T strings (any case) as ``tokens [B, L]`` (int64).

    Raises InputError naming the first bad sequence; nothing is silently replaced.
    """
    if len(sequences) == 0:
        return torch.zeros(0, 0, dtype=torch.long)
    length = len(sequences[0])
    for i, s in enumerate(sequences):
        if len(s) != length:
            raise InputError(f"sequence #{i} has length {len(s)}; expected {length} like sequence #0")
    joined = "".join(sequences).encode("latin-1", "replace")
    codes = _LOOKUP[np.frombuffer(joined, dtype=np.uint8)].reshape(len(sequences), length)
    if (codes < 0).any():
        row = int(np.flatnonzero((codes < 0).any(axis=1))[0])
        pos, char = invalid_character(sequences[row])  # type: ignore[misc]
        raise InputError(f"sequence #{row}: character {char!r} at position {pos} is not A/C/G/T")
    return torch.from_numpy(codes.copy())


def tokens_to_strings(tokens: torch.Tensor) -> list[str]:
    """Decode ``tokens [B, L]`` to strings; MASK (4) is written as 'N'."""
    array = tokens.detach().cpu().numpy().astype(np.int64)
    if array.size and (array.min() < 0 or array.max() > MASK_INDEX):
        raise ValueError(f"tokens must lie in 0..{MASK_INDEX}; got range {array.min()}..{array.max()}")
    chars = _CHARS[array]
    return [row.tobytes().decode() for row in chars]


def tokens_to_onehot(tokens: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``tokens [B, L]`` -> ``onehot [B, 4, L]``; MASK positions become all-zero columns."""
    if tokens.dim() != 2:
        raise ValueError(f"expected tokens [B, L]; got shape {tuple(tokens.shape)}")
    expanded = torch.nn.functional.one_hot(tokens.long(), VOCAB_SIZE)[..., :NUM_BASES]
    return expanded.to(dtype).transpose(1, 2)


def onehot_to_tokens(onehot: torch.Tensor) -> torch.Tensor:
    """``onehot [B, 4, L]`` -> ``tokens [B, L]``; all-zero columns become MASK."""
    if onehot.dim() != 3 or onehot.shape[1] != NUM_BASES:
        raise ValueError(
            f"expected one-hot [B, 4, L]; got shape {tuple(onehot.shape)}. "
            "Use dnadav.dna.tokens.tokens_to_onehot to convert tokens."
        )
    tokens = onehot.argmax(dim=1)
    return torch.where(onehot.sum(dim=1) > 0, tokens, torch.full_like(tokens, MASK_INDEX))


def strings_to_onehot(sequences: Sequence[str]) -> torch.Tensor:
    """Equal-length A/C/G/T strings -> ``onehot [B, 4, L]`` (float32)."""
    return tokens_to_onehot(strings_to_tokens(sequences))


def reverse_complement(tokens: torch.Tensor) -> torch.Tensor:
    """Reverse complement of ``tokens [B, L]`` (A<->T, C<->G; MASK stays MASK) -> ``tokens [B, L]``."""
    complement = torch.tensor([3, 2, 1, 0, MASK_INDEX], device=tokens.device)
    return complement[tokens.long()].flip(-1)


def reverse_complement_onehot(onehot: torch.Tensor) -> torch.Tensor:
    """Reverse complement of ``onehot [B, 4, L]`` in ACGT order -> ``[B, 4, L]``.

    In ACGT order the complement is the reversed channel order (A<->T, C<->G), so this flips both the
    channel and the position axis; a masked (all-zero) column stays all-zero. Differentiable.
    """
    if onehot.dim() != 3 or onehot.shape[1] != NUM_BASES:
        raise ValueError(f"expected one-hot [B, 4, L]; got shape {tuple(onehot.shape)}")
    return onehot.flip(1).flip(2)


def gc_count(tokens: torch.Tensor) -> torch.Tensor:
    """Number of G or C bases per sequence of ``tokens [B, L]`` -> ``[B]`` int64 (MASK counts as neither)."""
    return ((tokens == 1) | (tokens == 2)).sum(dim=-1)


def gc_content(tokens: torch.Tensor) -> torch.Tensor:
    """Fraction of G or C per sequence of ``tokens [B, L]`` -> ``[B]`` float32 in [0, 1].

    The denominator is L (a MASK position counts as not G/C); L = 0 gives NaN.
    """
    return gc_count(tokens).float() / tokens.shape[-1]
