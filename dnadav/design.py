"""The main job: sample designs from the aligned model for an oracle (optionally with the E-step
search at test time, "DAV posterior") and score them with the reward and evaluation oracles."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from dnadav.align.search import SearchConfig, search
from dnadav.diffusion.checkpoint import SHIPPED_MODELS, load_denoiser, resolve_model_dir
from dnadav.diffusion.sampler import sample
from dnadav.diffusion.schedule import make_schedule
from dnadav.seq import tokens_to_onehot, tokens_to_strings

__all__ = ["DesignResult", "default_model_for", "design"]


@dataclass(frozen=True)
class DesignResult:
    ids: list[str]
    sequences: list[str]
    reward: torch.Tensor  # [N] reward-oracle score (what the model was tuned on)
    eval_reward: torch.Tensor  # [N] held-out evaluation-oracle score
    eval_probability: torch.Tensor  # [N] evaluation-oracle probability of the target cell type
    model_dir: Path
    used_aligned_model: bool
    timings: dict[str, float]
    search_stats: dict | None


def default_model_for(oracle: str) -> tuple[str, bool]:
    """The shipped aligned model for ``oracle`` when there is one, else the prior: (name, aligned?)."""
    key = f"{oracle.lower()}_aligned"
    if key in SHIPPED_MODELS and (resolve_model_dir(key) / "model.pt").is_file():
        return key, True
    return "dhs_prior", False


@torch.no_grad()
def design(
    oracle: str = "hepg2",
    num_sequences: int = 128,
    length: int = 200,
    model: str | None = None,
    num_steps: int = 50,
    search_children: int = 0,
    reward_temperature: float = 0.5,
    seed: int = 0,
    batch_size: int = 128,
    on_step: Callable[[int], None] | None = None,
    oracles: tuple[torch.nn.Module, torch.nn.Module] | None = None,
) -> DesignResult:
    """Design ``num_sequences`` sequences for ``oracle``.

    ``model`` None picks the shipped aligned model for the oracle (else the prior). With
    ``search_children`` M > 0 every reverse step also runs the DAV E-step (M candidates per sequence,
    reward temperature α), which costs M× the network calls. Sequences are made in batches of
    ``batch_size``; each batch has its own seeded stream so results do not depend on the batch size
    only through the seed. ``on_step`` is called after each reverse step of each batch. ``oracles``
    (reward, eval) may be passed already loaded; by default both are loaded by ``oracle`` name.
    """
    from dnadav.oracles import load_oracle

    timings: dict[str, float] = {}
    started = time.perf_counter()
    if model is None:
        model, aligned = default_model_for(oracle)
    else:
        aligned = True
    denoiser, _ = load_denoiser(model)
    reward_oracle, eval_oracle = oracles or (load_oracle(oracle, role="reward"), load_oracle(oracle, role="eval"))
    reward_oracle, eval_oracle = reward_oracle.eval(), eval_oracle.eval()
    timings["load_seconds"] = time.perf_counter() - started
    schedule = make_schedule("loglinear")
    generator = torch.Generator().manual_seed(seed)
    batches, stats = [], []
    started = time.perf_counter()
    for first in range(0, num_sequences, batch_size):
        count = min(batch_size, num_sequences - first)
        if search_children > 0:
            config = SearchConfig(num_children=search_children, reward_temperature=reward_temperature, num_steps=num_steps)
            result = search(denoiser, reward_oracle.reward, count, length, config, schedule, generator, on_step=on_step)
            batches.append(result.sequences)
            stats.append(result.stats.as_dict())
        else:
            batches.append(sample(denoiser, count, length, num_steps, schedule, generator, on_step=on_step))
    tokens = torch.cat(batches)
    timings["sampling_seconds"] = time.perf_counter() - started
    started = time.perf_counter()
    onehot = tokens_to_onehot(tokens)
    reward = reward_oracle.reward(onehot)
    eval_reward = eval_oracle.reward(onehot)
    eval_probability = eval_oracle.probability(onehot)
    timings["scoring_seconds"] = time.perf_counter() - started
    search_stats = None
    if stats:
        search_stats = {k: sum(s[k] for s in stats) for k in stats[0]}
    width = len(str(num_sequences))
    return DesignResult(
        ids=[f"design_{i + 1:0{width}d}" for i in range(num_sequences)],
        sequences=tokens_to_strings(tokens),
        reward=reward,
        eval_reward=eval_reward,
        eval_probability=eval_probability,
        model_dir=resolve_model_dir(model),
        used_aligned_model=aligned,
        timings=timings,
        search_stats=search_stats,
    )
