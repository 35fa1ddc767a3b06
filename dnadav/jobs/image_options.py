"""The options the two image jobs share (``dnadav image sample`` and ``dnadav image align``), declared
once: each job's options dataclass extends ``ImageOptions``. M is ``children`` in both (the same name
as ``dnadav design --children``); ``search`` is its deprecated spelling, kept one release."""

from __future__ import annotations

import math
import sys
from dataclasses import InitVar, dataclass
from pathlib import Path

from dnadav.errors import InputError
from dnadav.jobs.options import option

__all__ = ["ImageOptions", "SEARCH_DEPRECATED", "warn_search_alias"]

SEARCH_DEPRECATED = "--search is deprecated and will be removed in the next release; use --children (the same M)"


def warn_search_alias(given: int | None, children: int) -> int:
    """``children``, or the deprecated ``search`` value when given (with a one-line warning on stderr)."""
    if given is None:
        return children
    print(f"dnadav image: warning: {SEARCH_DEPRECATED}", file=sys.stderr)
    return given


@dataclass
class ImageOptions:
    """What both image jobs take (API keyword = field name; CLI flag = ``--field-name``)."""

    pipeline: str = option("digits", "local diffusers folder, or 'digits' (shipped); never downloaded")
    out: Path | None = option(None, cli=False)  # the output folder (the CLI's --out)
    seed: int = option(0, "random seed")
    steps: int = option(32, "DDIM steps T")
    eta: float = option(1.0, "DDIM η > 0 (1: DDPM-like noise)")
    guidance_scale: float = option(7.5, "classifier-free guidance w (conditional UNets)")
    prompts: Path | None = option(None, "prompts file, one per line (default: built-in animals)", type=Path)
    reward: str | None = option(None, "jpeg_compressibility, jpeg_incompressibility, aesthetic or digit=K")
    reward_weights: Path | None = option(None, "folder of local weights for --reward aesthetic", type=Path)
    temperature: float = option(0.1, "reward temperature α of the search")
    mode: str = option("per_sequence", "E-step variant", choices=["per_sequence", "smc"])
    device: str = option("auto", "cpu, cuda or auto")
    fp16: bool = option(False, "load the pipeline in float16 (GPU)")
    max_batch: int | None = option(None, "most rows per UNet/VAE/reward call (memory cap; default: all at once)", type=int)
    search: InitVar[int | None] = None  # deprecated spelling of ``children`` (each job's M field)

    def __post_init__(self, search: int | None) -> None:
        self.children = warn_search_alias(search, self.children)

    def check(self) -> None:
        """InputError (one line, naming the flag) for settings no image job can run."""
        if not self.eta > 0:
            raise InputError(f"--eta must be > 0 (the search and M-step need a stochastic step); got {self.eta}")
        if not (self.temperature > 0 or math.isinf(self.temperature)):
            raise InputError(f"--temperature must be > 0; got {self.temperature}")
        if self.max_batch is not None and self.max_batch < 1:
            raise InputError(f"--max-batch must be ≥ 1; got {self.max_batch}")
        if self.steps < 1 or self.steps > 1000:
            raise InputError(f"--steps must be in 1..1000; got {self.steps}")
