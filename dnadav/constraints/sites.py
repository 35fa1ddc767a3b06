"""Forbidden sites: a built-in table of restriction enzymes and IUPAC strings, on both strands.

``resolve_site("BsaI")`` -> ``Site("BsaI", "GGTCTC")``; ``resolve_site("gaattc")`` -> a raw site.
``site_words(sites)`` expands every site and its reverse complement into concrete A/C/G/T words.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch

from dnadav.dna.tokens import ALPHABET, NUM_BASES
from dnadav.errors import InputError, shown

__all__ = [
    "ENZYMES",
    "IUPAC",
    "MAX_WORDS_PER_SITE",
    "Site",
    "iupac_reverse_complement",
    "iupac_rows",
    "resolve_site",
    "site_words",
]

# Recognition sequences (5'→3', top strand) of enzymes used in cloning (Golden Gate, classic MCS).
ENZYMES: dict[str, str] = {
    "AarI": "CACCTGC",
    "BamHI": "GGATCC",
    "BbsI": "GAAGAC",
    "BglII": "AGATCT",
    "BsaI": "GGTCTC",
    "BsmBI": "CGTCTC",
    "EcoRI": "GAATTC",
    "EcoRV": "GATATC",
    "Esp3I": "CGTCTC",
    "HindIII": "AAGCTT",
    "KpnI": "GGTACC",
    "NcoI": "CCATGG",
    "NdeI": "CATATG",
    "NheI": "GCTAGC",
    "NotI": "GCGGCCGC",
    "PaqCI": "CACCTGC",
    "PstI": "CTGCAG",
    "SacI": "GAGCTC",
    "SalI": "GTCGAC",
    "SapI": "GCTCTTC",
    "SpeI": "ACTAGT",
    "XbaI": "TCTAGA",
    "XhoI": "CTCGAG",
}
IUPAC: dict[str, str] = {
    "A": "A", "C": "C", "G": "G", "T": "T", "R": "AG", "Y": "CT", "S": "CG", "W": "AT",
    "K": "GT", "M": "AC", "B": "CGT", "D": "AGT", "H": "ACT", "V": "ACG", "N": "ACGT",
}  # fmt: skip
_COMPLEMENT = {"A": "T", "C": "G", "G": "C", "T": "A", "R": "Y", "Y": "R", "S": "S", "W": "W",
               "K": "M", "M": "K", "B": "V", "V": "B", "D": "H", "H": "D", "N": "N"}  # fmt: skip
_BY_LOWER = {name.lower(): name for name in ENZYMES}
MAX_WORDS_PER_SITE = 4096  # an IUPAC site may expand to at most this many concrete words per strand
MAX_SITE_LENGTH = 32


@dataclass(frozen=True)
class Site:
    """A forbidden site: ``name`` (the enzyme, or the raw string) and its IUPAC ``pattern``."""

    name: str
    pattern: str


def iupac_reverse_complement(pattern: str) -> str:
    """Reverse complement of an upper-case IUPAC string."""
    return "".join(_COMPLEMENT[c] for c in reversed(pattern))


def resolve_site(text: str) -> Site:
    """An enzyme name from ``ENZYMES`` (any case) or a raw IUPAC string (any case); else InputError."""
    word = text.strip()
    if word.lower() in _BY_LOWER:
        name = _BY_LOWER[word.lower()]
        return Site(name, ENZYMES[name])
    pattern = word.upper()
    bad = [c for c in pattern if c not in IUPAC]
    if not pattern or bad:
        raise InputError(
            f"--forbid {shown(text)}: not a known enzyme ({', '.join(sorted(ENZYMES))}) nor an IUPAC string "
            f"(A C G T R Y S W K M B D H V N){'; bad character ' + repr(bad[0]) if bad and pattern else ''}"
        )
    if len(pattern) > MAX_SITE_LENGTH:
        raise InputError(f"--forbid {shown(text)}: sites longer than {MAX_SITE_LENGTH} bases are not supported")
    words = 1
    for c in pattern:
        words *= len(IUPAC[c])
    if words > MAX_WORDS_PER_SITE:
        raise InputError(
            f"--forbid {shown(text)}: expands to {words} concrete words (at most {MAX_WORDS_PER_SITE}); use fewer N/IUPAC codes"
        )
    if set(pattern) == {"N"}:
        raise InputError(f"--forbid {shown(text)}: a site of only N forbids every sequence")
    return Site(pattern, pattern)


def _expand(pattern: str) -> list[str]:
    return ["".join(p) for p in itertools.product(*(IUPAC[c] for c in pattern))]


def site_words(sites: list[Site] | tuple[Site, ...]) -> list[str]:
    """Every concrete A/C/G/T word matched by a site on either strand (sorted, no duplicates)."""
    words: set[str] = set()
    for site in sites:
        words.update(_expand(site.pattern))
        words.update(_expand(iupac_reverse_complement(site.pattern)))
    return sorted(words)


def iupac_rows(text: str) -> torch.Tensor:
    """``[len, 4]`` bool: the bases each IUPAC letter allows."""
    return torch.tensor([[base in IUPAC[c] for base in ALPHABET] for c in text], dtype=torch.bool).reshape(len(text), NUM_BASES)
