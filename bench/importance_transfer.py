"""How much of one importance E-step the M-step carries into the model (HepG2, the DHS prior).

One E-step of ``bench/dav_budget.py``'s ``is_k4_b256_m4_p3`` from the prior: N plain paths (T = 16),
each scored once by the reward oracle's class log-probability ``softmin(hepg2, 0)``, resampled with
weights exp(r/α). Judged as an align run's log judges plain samples (evaluation-oracle accessibility,
3-mer correlation to the held-out chr1 HepG2 reference):

* the tilted targets: the N paths resampled at several α (ESS of their weights): the law K iterations
  at α = 0.2 aim at is the one at α = 0.2/K;
* the kept set at α = 0.2 itself, and the model fitted to its paths by each M-step loss (``nelbo``: the
  clean ends with the model's training loss; ``transitions``: every step of the kept paths), through the
  core's ``distill_loss`` as ``dnadav align`` fits them (one pass = every (path, step) pair once, batch 64,
  AdamW, gradient norm clipped at ``--clip``, DAV-KL ``--kl-weight`` towards the prior): how much of the
  set's accessibility each carries, pass by pass;
* each last fitted model sampled at T = 16 and T = 64: whether parallel unmasking loses any of it.
* with ``--ema``, exponential moving averages of the fit's weights (one update per optimiser step) judged
  on the same sampling stream as the fitted weights, pass by pass: whether the optimiser's noise costs any of it.
* ``--m-steps ratio``: every one of the N paths fitted whole, each with ``−N·w_i·log p_θ(τ_i) + p_θ(τ_i)/p_0(τ_i)``
  (÷ T; p_0 the model the paths were drawn from, read in eval mode, and the fit runs in eval mode too): the forward KL
  between unnormalised measures, its normaliser ∫p_θ estimated on the proposal's own paths, stationary where
  p_θ(τ_i)/p_0(τ_i) = N·w_i, the tilt's own ratio (``ratio_pass``), ``--ratio-paths`` whole paths per optimiser step.
* where the fit carries it: ``--fit-steps a:b`` fits only grid steps a..b−1 of each path, ``--late-kl-weight``
  gives the second half of the steps its own DAV-KL λ, ``--train-only`` fits only the parameters whose names
  match (the rest stay the prior's).

    python bench/importance_transfer.py [--paths 1024] [--kept 256] [--passes 6] [--lr 1e-3] [--kl-weight 0] [--clip 1]
        [--m-steps nelbo transitions] [--fit-seed S] [--ema DECAY ...] [--fit-steps A:B] [--late-kl-weight W]
        [--train-only REGEX] [--ratio-paths 4] [--no-write]
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import re
import sys
from pathlib import Path

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmarks_md import machine, write_section  # noqa: E402
from dav_budget import ALLOCATIONS  # noqa: E402

from dnadav.core.distill import (  # noqa: E402
    DistillConfig,
    TransitionBatch,
    distill_loss,
    transition_batch,
    transition_pairs,
)
from dnadav.core.importance import effective_sample_size, resample_counts  # noqa: E402
from dnadav.core.protocol import sample_process  # noqa: E402
from dnadav.core.trajectory import Trajectory  # noqa: E402
from dnadav.dna.sampler import MaskedDiffusion  # noqa: E402
from dnadav.jobs.align_judge import run_judge  # noqa: E402
from dnadav.jobs.align_metrics import metrics_of_tokens  # noqa: E402

STEPS = 16


def judged(record: dict[str, float]) -> dict[str, float]:
    return {"atac_acc": record["plain/eval_accessibility_accuracy"], "kmer3": record["plain/kmer3_correlation"]}


def step_range(text: str) -> tuple[int, int]:
    """``"a:b"`` -> ``(a, b)``, grid steps a..b−1 of a T-step path (0 ≤ a < b ≤ T)."""
    try:
        first, last = (int(value) for value in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a:b (two integers), got {text!r}") from None
    if not 0 <= first < last <= STEPS:
        raise argparse.ArgumentTypeError(f"expected 0 ≤ a < b ≤ {STEPS}, got {text!r}")
    return first, last


def path_log_probs(
    process, trajectory: Trajectory, sequences: torch.Tensor
) -> tuple[torch.Tensor, TransitionBatch, torch.Tensor]:
    """``Σ_k log p_θ(x_{k+1} | x_k)`` (the θ-dependent part) of the whole paths ``sequences [P]`` of ``trajectory``
    -> (``[P]`` nats, their T·P transitions (row k·P + j: step k of path j), the network's prediction at them), from
    one batched network call."""
    steps = torch.arange(trajectory.num_steps)
    pairs = torch.stack([steps.repeat_interleave(len(sequences)), sequences.repeat(trajectory.num_steps)], dim=1)
    batch = transition_batch(trajectory, pairs)
    prediction = process.predict(batch.x_t, batch.t)
    per_step = process.transition_log_prob(prediction, batch.x_t, batch.x_s, batch.t, batch.s)
    return per_step.view(trajectory.num_steps, len(sequences)).sum(dim=0), batch, prediction


def ratio_pass(process, trajectory, weights, start_log_probs, prior, optimiser, args, fit) -> dict[str, float]:
    """One pass over all N paths of ``trajectory``, ``args.ratio_paths`` whole paths per optimiser step, on
    ``mean_i [−N·w_i·log p_θ(τ_i) + exp(log p_θ(τ_i) − log p_0(τ_i))] / T`` plus DAV-KL ``args.kl_weight`` on every
    transition of the batch; ``weights [N]`` sum to 1, ``start_log_probs [N]`` are log p_0. -> the log-ratios seen."""
    population, steps = len(weights), trajectory.num_steps
    seen = []
    for chunk in torch.randperm(population, generator=fit).split(args.ratio_paths):
        log_probs, batch, prediction = path_log_probs(process, trajectory, chunk)
        log_ratio = log_probs - start_log_probs[chunk]
        loss = (-(population * weights[chunk]) * log_probs + log_ratio.exp()).sum() / (len(chunk) * steps)
        if args.kl_weight > 0:
            with torch.no_grad():
                reference = process.predict(batch.x_t, batch.t, network=prior)
            loss = loss + args.kl_weight * process.divergence(prediction, reference, batch.x_t, batch.t, batch.s).mean()
        optimiser.zero_grad()
        loss.backward()
        if args.clip > 0:
            torch.nn.utils.clip_grad_norm_(process.network.parameters(), args.clip)
        optimiser.step()
        seen.append(log_ratio.detach())
    seen = torch.cat(seen)
    return {"log_ratio_min": float(seen.min()), "log_ratio_median": float(seen.median()), "log_ratio_max": float(seen.max())}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--paths", type=int, default=1024)
    parser.add_argument("--kept", type=int, default=256)
    parser.add_argument("--alpha", type=float, default=0.2)
    parser.add_argument("--passes", type=int, default=6)
    parser.add_argument("--m-steps", nargs="+", default=["nelbo", "transitions"], choices=["nelbo", "transitions", "ratio"])
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--kl-weight", type=float, default=0.0, help="DAV-KL's λ towards the prior in every fit")
    parser.add_argument("--clip", type=float, default=1.0, help="gradient norm clip; 0: none (as the transitions allocations)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fit-seed", type=int, default=None, help="the fit's batch order and dropout; default: --seed")
    parser.add_argument("--ema", type=float, nargs="*", default=[], help="also judge EMAs of the fit's weights at these decays")
    parser.add_argument("--late-kl-weight", type=float, default=None, help="DAV-KL's λ on the paths' second half of steps")
    parser.add_argument("--fit-steps", type=step_range, default=None, help="fit only the grid steps a:b of each path (e.g. 0:8)")
    parser.add_argument("--train-only", default=None, help="fit only the parameters whose names match this regex")
    parser.add_argument("--ratio-paths", type=int, default=4, help="--m-steps ratio: whole paths per optimiser step")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if "ratio" in args.m_steps and (args.ema or args.fit_steps or args.late_kl_weight is not None):
        parser.error("--m-steps ratio fits every step of every path with one λ: no --ema, --fit-steps or --late-kl-weight")
    torch.manual_seed(args.seed)  # dropout in the fit
    config = dataclasses.replace(ALLOCATIONS["is_k4_b256_m4_p3"].config(), seed=args.seed, eval_sequences=args.kept)
    judge = run_judge(config)
    reference = judge.reference_set

    def of_tokens(tokens: torch.Tensor) -> dict[str, float]:
        return judged(metrics_of_tokens(tokens, judge.prior, judge.reward_fn, judge.eval_oracle, reference, judge.schedule))

    generator = torch.Generator().manual_seed(args.seed + 1)
    prior_process = MaskedDiffusion(judge.prior, config.length, judge.schedule)  # sample_process puts it in eval mode
    states: list[torch.Tensor] = []
    population = sample_process(prior_process, args.paths, STEPS, generator, path=states)
    rewards = judge.reward_fn(prior_process.decode(population)).float()
    rows = []
    for alpha in (1.0, args.alpha, args.alpha / 2, args.alpha / 4):
        kept = resample_counts(rewards / alpha, args.kept, generator)
        row = {"what": f"target at α = {alpha:g}", "ess": effective_sample_size(rewards / alpha), **of_tokens(population[kept])}
        rows.append(row)
        print(json.dumps(row), flush=True)
        if alpha == args.alpha:
            trajectory = Trajectory(torch.stack([state[kept] for state in states]), prior_process.time_grid(STEPS), None)
            every_path = Trajectory(torch.stack(states), prior_process.time_grid(STEPS), None)  # the ratio M-step's
            path_weights = torch.softmax(rewards.detach() / alpha, dim=0)
    pairs = transition_pairs(trajectory)
    if args.fit_steps is not None:  # where along the paths the fit carries the E-step's choice
        first, last = args.fit_steps
        pairs = pairs[(pairs[:, 0] >= first) & (pairs[:, 0] < last)]
    metrics_at = {STEPS: judge.metrics_of, 64: run_judge(dataclasses.replace(config, eval_steps=64)).metrics_of}  # built once
    m_step = lambda objective, weight: DistillConfig(objective=objective, kl_weight=weight)  # noqa: E731
    late_kl_weight = args.kl_weight if args.late_kl_weight is None else args.late_kl_weight
    late_from = STEPS if args.late_kl_weight is None else STEPS // 2  # first grid step of the "late" half (none: one λ)
    for objective in args.m_steps:
        model = copy.deepcopy(judge.prior).train()
        process = MaskedDiffusion(model, config.length, judge.schedule)
        for name, parameter in model.named_parameters():  # the others stay the prior's
            parameter.requires_grad_(args.train_only is None or re.search(args.train_only, name) is not None)
        fitted = [parameter for parameter in model.parameters() if parameter.requires_grad]
        optimiser = torch.optim.AdamW(fitted, lr=args.lr, weight_decay=0.0)
        fit_seed = args.seed if args.fit_seed is None else args.fit_seed
        fit = torch.Generator().manual_seed(fit_seed + 2)
        if args.fit_seed is not None:
            torch.manual_seed(fit_seed)  # dropout
        averages = {decay: AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay)) for decay in args.ema}
        if objective == "ratio":  # p_0 = the prior the paths were drawn from, read in eval mode (no dropout)
            model.eval()
            with torch.no_grad():
                start_log_probs = torch.cat(
                    [path_log_probs(process, every_path, c)[0] for c in torch.arange(args.paths).split(64)]
                )
        for done in range(1, args.passes + 1):
            if objective == "ratio":  # eval mode throughout: the ratio is read against the eval-mode p_0
                seen = ratio_pass(process, every_path, path_weights, start_log_probs, judge.prior, optimiser, args, fit)
                print(json.dumps({"what": f"ratio, pass {done}", **seen}), flush=True)
            else:
                model.train()
                order = pairs[torch.randperm(len(pairs), generator=fit)]
                for start in range(0, len(order), 64):
                    chunk = order[start : start + 64]
                    late = chunk[:, 0] >= late_from  # the batch's loss: both halves' means weighed by their counts
                    parts = [(chunk[~late], args.kl_weight), (chunk[late], late_kl_weight)]
                    loss = sum(
                        len(part)
                        / len(chunk)
                        * distill_loss(
                            process, transition_batch(trajectory, part), m_step(objective, weight), judge.prior, generator=fit
                        )[0]
                        for part, weight in parts
                        if len(part)
                    )
                    optimiser.zero_grad()
                    loss.backward()
                    if args.clip > 0:
                        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
                    optimiser.step()
                    for average in averages.values():
                        average.update_parameters(model)
            model.eval()
            for decay, average in averages.items():
                record = judged(metrics_at[STEPS](average.module.eval(), torch.Generator().manual_seed(3)))
                row = {"what": f"{objective}, {done} passes, EMA {decay:g}, sampled at T = {STEPS}", **record}
                rows.append(row)
                print(json.dumps(row), flush=True)
            for eval_steps in (STEPS, 64) if done == args.passes else (STEPS,):
                record = judged(metrics_at[eval_steps](model, torch.Generator().manual_seed(3)))
                row = {"what": f"{objective}, {done} passes, sampled at T = {eval_steps}", **record}
                rows.append(row)
                print(json.dumps(row), flush=True)
    lines = ["| what | ESS | ATAC-Acc | 3-mer |", "|---|---|---|---|"]
    for row in rows:
        ess = f"{row['ess']:.0f}" if "ess" in row else ""
        lines.append(f"| {row['what']} | {ess} | {row['atac_acc']:.3f} | {row['kmer3']:.3f} |")
    table = "\n".join(lines)
    print(table)
    if not args.no_write:
        command = (f"python bench/importance_transfer.py --paths {args.paths} --kept {args.kept} --alpha {args.alpha:g} "
                   f"--passes {args.passes} --lr {args.lr:g} --kl-weight {args.kl_weight:g} --clip {args.clip:g} "
                   f"--m-steps {' '.join(args.m_steps)} --seed {args.seed}"
                   + ("" if args.fit_seed is None else f" --fit-seed {args.fit_seed}")
                   + ("" if args.fit_steps is None else f" --fit-steps {args.fit_steps[0]}:{args.fit_steps[1]}")
                   + ("" if args.late_kl_weight is None else f" --late-kl-weight {args.late_kl_weight:g}")
                   + ("" if args.train_only is None else f" --train-only '{args.train_only}'")
                   + (f" --ratio-paths {args.ratio_paths}" if "ratio" in args.m_steps else "")
                   + (f" --ema {' '.join(f'{d:g}' for d in args.ema)}" if args.ema else ""))  # fmt: skip
        about = __doc__.split("\n\n")[1]
        body = f"Command: `{command}`. Machine: {machine()}.\n{about}\n\nOne seed; {args.kept} sequences per row.\n\n{table}\n"
        write_section("How much of one importance E-step the M-step carries (issue 20)", body)


if __name__ == "__main__":
    main()
