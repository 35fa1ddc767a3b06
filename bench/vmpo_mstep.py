"""Off-policy VMPO on the E-step's weighted particles as DAV's M-step, against the forward-KL children
M-step, from one and the same E-step (issue 25).

    python bench/vmpo_mstep.py                       # seeds 0 1 2, the cpu profile of bench_methods
    python bench/vmpo_mstep.py --n-seq 8 --steps 4 --eval 16 --seeds 0    # smoke run

Per seed: one per-sequence search from ``dhs_prior`` (B sequences, M children, T steps, α; children
recorded), then fresh copies of the prior fitted on that trajectory by

* ``children``: ``dnadav.core.distill`` with ``objective="children"`` (−Σ_j w̄_j log p_θ(c_j | x_t)),
  Adam, minibatches of ``--batch-size`` transition pairs, ``--epochs`` passes, gradient norm clipped;
* ``vmpo-selection`` / ``vmpo-uniform``: ``dnadav.baselines.vmpo_particles.particle_m_step`` (the
  siblings' u-weighted variance of log w = Φ + log p_ref − log p_θ), same passes, minibatches, order
  and Adam; the driver has no gradient clipping, so its rows run unclipped.

Both run in train mode (dropout on, as DAV's Lightning M-step does). Each model, and the prior, is
judged by ``--eval`` plain samples (``dnadav.jobs.align_metrics.plain_sample_metrics``; the same
sampling seed for every model of a seed). ``--vmpo-lrs`` with more than one value sweeps VMPO's lr on
the first seed, choosing by the reward-oracle median of ``--val-samples`` plain samples (never the
evaluation oracle or the test reference). Writes docs/runs/vmpo_mstep.csv (one row per seed and
model) and the section "VMPO off-policy as the M-step (issue 25)" of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import copy
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmarks_md import machine, write_section  # noqa: E402
from children_fit import children_pass  # noqa: E402
from methods_table import mean_sd  # noqa: E402

from dnadav.baselines.vmpo_particles import ParticleConfig, particle_batch, particle_loss, particle_m_step  # noqa: E402
from dnadav.core.distill import DistillConfig, distill_loss, transition_batch, transition_pairs  # noqa: E402
from dnadav.core.search import SearchConfig, search_process  # noqa: E402
from dnadav.dna.config import AlignConfig  # noqa: E402
from dnadav.dna.sampler import MaskedDiffusion, sample  # noqa: E402
from dnadav.dna.tokens import tokens_to_onehot  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LENGTH = 200
SECTION = "VMPO off-policy as the M-step (issue 25)"
# the per-seed columns the table shows, and their labels
METRICS = {
    "plain/eval_accessibility_accuracy": "ATAC-Acc (eval)",
    "plain/reward_median": "reward median",
    "plain/kmer3_correlation": "3-mer (test ref.)",
    "select/kmer3_validation": "3-mer (valid. ref.)",
    "plain/levenshtein_diversity": "Lev. div.",
    "plain/app_log_lik_median": "App-Log-Lik",
}
BASELINE = "children (forward KL)"
PRIOR = "prior (no M-step)"


@dataclass(frozen=True)
class Setup:
    """The E-step, the two M-steps and the judging draw of one seed."""

    n_seq: int = 64  # B sequences of the E-step
    children: int = 4  # M
    steps: int = 16  # T
    alpha: float = 0.5  # reward temperature α
    epochs: int = 4  # passes over the T·B transition pairs
    batch_size: int = 128  # transition pairs per gradient step
    lr: float = 1e-3
    clip: float = 1.0  # gradient-norm clip of the children M-step (particle_m_step has none)
    eval_samples: int = 256
    eval_steps: int = 50
    val_samples: int = 64  # the lr sweep's validation draw (reward oracle only)

    @property
    def gradient_steps(self) -> int:
        return self.epochs * math.ceil(self.steps * self.n_seq / self.batch_size)


def estep(prior, reward_fn, setup: Setup, schedule, seed: int):
    """One per-sequence search from a copy of the prior -> (trajectory, final rewards [B], seconds)."""
    process = MaskedDiffusion(copy.deepcopy(prior), LENGTH, schedule)
    config = SearchConfig(
        num_children=setup.children, reward_temperature=setup.alpha, num_steps=setup.steps, record_children=True
    )
    started = time.perf_counter()
    result = search_process(process, reward_fn, setup.n_seq, config, torch.Generator().manual_seed(seed))
    return result.trajectory, result.rewards, time.perf_counter() - started


def fit_children(prior, schedule, trajectory, setup: Setup, seed: int):
    """The forward-KL children M-step on a copy of the prior -> (model, log)."""
    torch.manual_seed(seed)  # dropout draws from the global generator: the same for every run of the script
    model = copy.deepcopy(prior).train()
    process = MaskedDiffusion(model, LENGTH, schedule)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=setup.lr)
    pairs, generator = transition_pairs(trajectory), torch.Generator().manual_seed(seed)
    losses, norms = [], []
    started = time.perf_counter()
    for _ in range(setup.epochs):  # the same orders as particle_m_step's
        pass_losses, pass_norms = children_pass(
            process, trajectory, pairs, optimizer, setup.alpha, setup.batch_size, generator, setup.clip
        )
        losses.extend(pass_losses)
        norms.extend(pass_norms)
    seconds = time.perf_counter() - started
    log = {
        "lr": setup.lr,
        "gradient_steps": len(losses),
        "mstep_seconds": seconds,
        "loss_first": losses[0],
        "loss_last": losses[-1],
    }
    log |= {
        "grad_norm_median": float(torch.tensor(norms).median()),
        "clipped_fraction": sum(n > setup.clip for n in norms) / len(norms),
    }
    return model.eval(), log


def fit_vmpo(prior, schedule, trajectory, setup: Setup, seed: int, weighting: str, lr: float):
    """``particle_m_step`` on a copy of the prior (reference: the prior itself) -> (model, log)."""
    torch.manual_seed(seed)  # dropout draws from the global generator: the same for every run of the script
    model = copy.deepcopy(prior).train()
    process = MaskedDiffusion(model, LENGTH, schedule)
    config = ParticleConfig(reward_temperature=setup.alpha, weighting=weighting)
    started = time.perf_counter()
    history = particle_m_step(
        process, trajectory, config, prior, setup.epochs, setup.batch_size, lr, torch.Generator().manual_seed(seed)
    )
    seconds = time.perf_counter() - started
    log = {"lr": lr, "gradient_steps": len(history), "mstep_seconds": seconds}
    return model.eval(), log | {"loss_first": history[0]["loss"], "loss_last": history[-1]["loss"]}


def gradient_scale(
    prior, schedule, trajectory, setup: Setup, seed: int, weightings: list[str], batches: int = 1
) -> dict[str, float]:
    """Gradient norms of each loss at the prior's weights (eval mode, no step) on the first
    ``batches`` minibatches of the shared order: are the two objectives on one scale?"""
    process = MaskedDiffusion(copy.deepcopy(prior).eval(), LENGTH, schedule)
    parameters = [p for p in process.network.parameters() if p.requires_grad]
    pairs = transition_pairs(trajectory)
    order = pairs[torch.randperm(len(pairs), generator=torch.Generator().manual_seed(seed))]
    losses = {
        "children": lambda rows: distill_loss(
            process, transition_batch(trajectory, rows, setup.alpha), DistillConfig("children")
        )[0],
        **{
            f"vmpo-{w}": (
                lambda rows, c=ParticleConfig(setup.alpha, w): particle_loss(
                    process, particle_batch(trajectory, rows, c), c, prior
                )[0]
            )
            for w in weightings
        },
    }
    out = {}
    for name, loss_of in losses.items():
        values, norms = [], []
        for first in range(0, min(batches * setup.batch_size, len(order)), setup.batch_size):
            process.network.zero_grad(set_to_none=True)
            with torch.enable_grad():
                loss = loss_of(order[first : first + setup.batch_size])
                loss.backward()
            values.append(float(loss))
            norms.append(float(torch.nn.utils.clip_grad_norm_(parameters, math.inf)))
        out[f"{name}/loss"], out[f"{name}/grad_norm"] = sum(values) / len(values), sum(norms) / len(norms)
    return out


def validation_reward(model, schedule, reward_fn, setup: Setup, seed: int) -> float:
    """Reward-oracle median of ``val_samples`` plain samples (the lr sweep's only criterion)."""
    tokens = sample(model, setup.val_samples, LENGTH, setup.eval_steps, schedule, torch.Generator().manual_seed(20_000 + seed))
    return float(reward_fn(tokens_to_onehot(tokens)).median())


def paired_differences(per_seed: pd.DataFrame, method: str, baseline: str = BASELINE) -> pd.DataFrame:
    """Per metric: mean and sd over seeds of ``method − baseline`` (paired by seed), and at how many
    seeds ``method`` is higher."""
    a = per_seed[per_seed["method"] == method].set_index("seed")
    b = per_seed[per_seed["method"] == baseline].set_index("seed")
    seeds = a.index.intersection(b.index)
    rows = {}
    for column in METRICS:
        diff = a.loc[seeds, column] - b.loc[seeds, column]
        rows[column] = {"mean": diff.mean(), "sd": diff.std(ddof=1), "higher": int((diff > 0).sum()), "seeds": len(seeds)}
    return pd.DataFrame(rows).T


def verdict(diff: pd.DataFrame) -> str:
    """The stated rule: VMPO beats the forward-KL M-step only if its evaluation-oracle accuracy is
    higher at every seed (≥ 2 seeds) with a mean gain above the paired sd, at no lower test-set 3-mer."""
    acc, kmer = diff.loc["plain/eval_accessibility_accuracy"], diff.loc["plain/kmer3_correlation"]
    n = int(acc["seeds"])
    if n >= 2 and acc["higher"] == n and acc["mean"] > acc["sd"] and kmer["mean"] >= 0:
        return "yes"
    if acc["higher"] == 0 or acc["mean"] <= 0:
        return f"no (at {n} seed{'s' * (n != 1)})"
    return f"not at {n} seed{'s' * (n != 1)}"


def shift_from_prior(per_seed: pd.DataFrame, method: str) -> str:
    """How far ``method`` moved the plain samples from the prior's, mean over seeds (paired by seed):
    evaluation accuracy, reward median and test 3-mer."""
    shown = ("plain/eval_accessibility_accuracy", "plain/reward_median", "plain/kmer3_correlation")
    a = per_seed[per_seed["method"] == method].set_index("seed")
    b = per_seed[per_seed["method"] == PRIOR].set_index("seed").loc[a.index]
    return ", ".join(f"{METRICS[c]} {(a[c] - b[c]).mean():+.3g}" for c in shown)


def table(per_seed: pd.DataFrame) -> str:
    """Markdown: mean ± sd over seeds per method (first-seen order), metrics then M-step cost."""
    columns = list(METRICS)
    lines = ["| M-step | lr | " + " | ".join(METRICS.values()) + " | grad steps | M-step s |", "|" + "---|" * (len(columns) + 4)]
    for method, rows in per_seed.groupby("method", sort=False):
        cells = [mean_sd(rows[c].mean(), rows[c].std(ddof=1) if len(rows) > 1 else math.nan) for c in columns]
        lr = "—" if rows["lr"].isna().all() else f"{rows['lr'].iloc[0]:g}"
        steps = "—" if rows["gradient_steps"].isna().all() else f"{rows['gradient_steps'].iloc[0]:.0f}"
        seconds = "—" if rows["mstep_seconds"].isna().all() else f"{rows['mstep_seconds'].mean():.0f}"
        lines.append(f"| {method} | {lr} | " + " | ".join(cells) + f" | {steps} | {seconds} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--n-seq", type=int, default=64, help="E-step sequences B")
    p.add_argument("--children", type=int, default=4, help="M")
    p.add_argument("--steps", type=int, default=16, help="E-step reverse steps T")
    p.add_argument("--alpha", type=float, default=0.5)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3, help="the children M-step's lr")
    p.add_argument("--vmpo-lrs", type=float, nargs="+", default=[1e-3], help="> 1 value: sweep on the first seed")
    p.add_argument("--eval", type=int, default=256, help="plain samples judging each model")
    p.add_argument("--eval-steps", type=int, default=50, help="reverse steps of those samples")
    p.add_argument("--val-samples", type=int, default=64)
    p.add_argument("--uniform", action="store_true", help="add the weighting='uniform' row")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "runs" / "vmpo_mstep.csv")
    p.add_argument("--no-write", action="store_true", help="print only (no csv, no docs section)")
    args = p.parse_args()
    setup = Setup(
        args.n_seq,
        args.children,
        args.steps,
        args.alpha,
        args.epochs,
        args.batch_size,
        args.lr,
        eval_samples=args.eval,
        eval_steps=args.eval_steps,
        val_samples=args.val_samples,
    )
    torch.set_grad_enabled(False)
    from dnadav.dna.checkpoint import load_denoiser, model_schedule
    from dnadav.evaluate.reference import reference_sequences, validation_reference
    from dnadav.jobs.align_metrics import plain_sample_metrics
    from dnadav.oracles import load_oracle

    prior, prior_config = load_denoiser("dhs_prior")
    schedule = model_schedule(prior_config)
    reward_oracle, eval_oracle = load_oracle("hepg2", role="reward"), load_oracle("hepg2", role="eval")
    reward_fn = reward_oracle.reward
    test_reference = reference_sequences("HepG2", "eval", 500, "hepg2")
    valid_reference = validation_reference(reward_oracle)
    judge_config = AlignConfig(length=LENGTH, eval_sequences=setup.eval_samples, eval_steps=setup.eval_steps)
    weightings = ["selection"] + (["uniform"] if args.uniform else [])

    def judge(model, seed: int) -> dict[str, float]:
        generator = torch.Generator().manual_seed(10_000 + seed)  # the same draw for every model of a seed
        return plain_sample_metrics(
            model, prior, reward_fn, eval_oracle, test_reference, judge_config, schedule, generator,
            validation_reference=valid_reference,
        )  # fmt: skip

    started, rows, sweep, scales = time.perf_counter(), [], [], []
    vmpo_lr = args.vmpo_lrs[0]
    for index, seed in enumerate(args.seeds):
        trajectory, rewards, estep_seconds = estep(prior, reward_fn, setup, schedule, seed)
        print(f"seed {seed}: E-step {estep_seconds:.0f} s, reward median {rewards.median():.3f}", flush=True)
        common = {"seed": seed, "estep_seconds": estep_seconds, "estep_reward_median": float(rewards.median())}
        if index == 0:  # one minibatch at the first seed: the scale, not a statistic
            scales.append({"seed": seed, **gradient_scale(prior, schedule, trajectory, setup, seed, weightings)})
            print("  gradient scale at the prior:", scales[-1], flush=True)
        if index == 0 and len(args.vmpo_lrs) > 1:
            for lr in args.vmpo_lrs:
                model, log = fit_vmpo(prior, schedule, trajectory, setup, seed, "selection", lr)
                sweep.append({"lr": lr, "val_reward_median": validation_reward(model, schedule, reward_fn, setup, seed), **log})
                print("  sweep", sweep[-1], flush=True)
            vmpo_lr = max(sweep, key=lambda r: r["val_reward_median"])["lr"]
        fitted = [(BASELINE, *fit_children(prior, schedule, trajectory, setup, seed))]
        fitted += [(f"VMPO particles ({w})", *fit_vmpo(prior, schedule, trajectory, setup, seed, w, vmpo_lr)) for w in weightings]
        if index == 0 and sweep:
            sweep.append(
                {
                    "lr": f"{setup.lr:g} (children, for reference)",
                    "val_reward_median": validation_reward(fitted[0][1], schedule, reward_fn, setup, seed),
                }
            )
        empty = {"lr": math.nan, "gradient_steps": math.nan, "mstep_seconds": math.nan}
        for name, model, log in [(PRIOR, prior, empty), *fitted]:
            rows.append({"method": name, **common, **log, **judge(model, seed)})
            print(f"  {name}: " + ", ".join(f"{METRICS[k]} {rows[-1][k]:.3f}" for k in METRICS), f"({log})", flush=True)
        # written after every seed: a run cut short still leaves the seeds it finished
        minutes = (time.perf_counter() - started) / 60
        per_seed = pd.DataFrame(rows)
        scale = pd.DataFrame(scales).drop(columns="seed").mean()
        diffs = {m: paired_differences(per_seed, m) for m in per_seed["method"].unique() if m.startswith("VMPO")}
        print(table(per_seed))
        for m, d in diffs.items():
            print(m, "−", BASELINE, "\n", d, "\nverdict:", verdict(d), flush=True)
        if not args.no_write:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            per_seed.to_csv(args.out, index=False)
            write_section(SECTION, body(args, setup, per_seed, scale, sweep, diffs, vmpo_lr, minutes))


def command(args) -> str:
    """The command line that reproduces this run (every knob spelled out)."""
    knobs = [f"--seeds {' '.join(map(str, args.seeds))}", f"--n-seq {args.n_seq}", f"--children {args.children}"]
    knobs += [f"--steps {args.steps}", f"--alpha {args.alpha:g}", f"--epochs {args.epochs}", f"--batch-size {args.batch_size}"]
    knobs += [f"--lr {args.lr:g}", f"--vmpo-lrs {' '.join(format(lr, 'g') for lr in args.vmpo_lrs)}"]
    knobs += [f"--eval {args.eval}", f"--eval-steps {args.eval_steps}"] + (["--uniform"] if args.uniform else [])
    return "python bench/vmpo_mstep.py " + " ".join(knobs)


def body(args, setup: Setup, per_seed, scale, sweep, diffs, vmpo_lr, minutes) -> str:
    done = sorted(per_seed["seed"].unique())
    seeds = " ".join(map(str, done))
    estep = per_seed.drop_duplicates("seed")
    children = per_seed[per_seed["method"] == BASELINE]
    scales = [f"children loss {scale['children/loss']:.3g} nats, gradient norm {scale['children/grad_norm']:.3g}"]
    scales += [
        f"VMPO ({w}) loss {scale[f'vmpo-{w}/loss']:.3g}, gradient norm {scale[f'vmpo-{w}/grad_norm']:.3g}"
        for w in ("selection", "uniform")
        if f"vmpo-{w}/loss" in scale
    ]
    lines = [
        "Does off-policy VMPO (`dnadav.baselines.vmpo_particles.particle_m_step`) fitted on the E-step's weighted "
        'particles beat DAV\'s forward-KL children M-step (`objective="children"`) fitted on the same particles? '
        f"Per seed ({seeds}; {len(done)} of the {len(args.seeds)} asked for): one per-sequence search from `dhs_prior` "
        f"with the `hepg2` reward oracle, B = {setup.n_seq} sequences, M = {setup.children} children, T = {setup.steps}, "
        f"α = {setup.alpha:g} (the E-step of bench_methods' cpu-profile DAV row), children recorded; then fresh copies "
        f"of the prior fitted on that one trajectory: **children** — Adam lr {setup.lr:g}, {setup.epochs} passes over "
        f"the T·B = {setup.steps * setup.n_seq} transition pairs in minibatches of {setup.batch_size} "
        f"({setup.gradient_steps} gradient steps), gradient norm clipped at {setup.clip:g}; **VMPO particles** — the "
        f"same passes, minibatches, minibatch order and Adam at lr {vmpo_lr:g}, "
        f"`ParticleConfig(reward_temperature={setup.alpha:g}, weighting=…)` with the prior as reference and no KL "
        "term; `particle_m_step` has no gradient clipping, so these rows are unclipped. All M-steps run in train mode "
        f"(dropout on, as DAV's Lightning M-step). Judged by {setup.eval_samples} plain samples per model "
        f"({setup.eval_steps} reverse steps, the same sampling seed for every model of a seed; "
        "`dnadav.jobs.align_metrics.plain_sample_metrics`): evaluation-oracle accessibility accuracy (probability "
        "> 0.5), reward-oracle median, 3-mer correlation to the top-500 held-out test reference and to the validation "
        "(chr2) reference, mean pairwise Levenshtein, App-Log-Lik median (prior ELBO, 4 time samples). "
        "Mean ± sd over seeds (ddof = 1; none shown at one seed).",
        "",
        table(per_seed),
        "",
        f"E-step wall time {estep['estep_seconds'].mean():.0f} s per seed (mean; the E-step's own final reward median "
        f"{estep['estep_reward_median'].mean():.3f}); M-step wall times (s, mean per seed) in the table; all on one "
        "thread at low priority of a machine shared with other jobs. Gradient scale at the prior (the first minibatch "
        f"of seed {done[0]}, eval mode): " + "; ".join(scales) + ". During the fit the children M-step's median "
        f"pre-clip gradient norm was {children['grad_norm_median'].mean():.3g} (clipped in "
        f"{children['clipped_fraction'].mean():.0%} of its steps).",
        "",
        "Loss over the fit (first → last minibatch, mean over seeds): "
        + "; ".join(
            f"{m} {r['loss_first'].mean():.3g} → {r['loss_last'].mean():.3g}"
            for m, r in per_seed[per_seed["method"] != PRIOR].groupby("method", sort=False)
        )
        + "."
        + ("" if args.uniform else ' The `weighting="uniform"` row was not run (`--uniform` adds it).'),
    ]
    if not sweep:
        lines += [
            "",
            f"No lr sweep: VMPO ran at the children M-step's lr {vmpo_lr:g}, so whether another lr changes the comparison "
            "is not measured here (`--vmpo-lrs` with several values sweeps it on the first seed).",
        ]
    if sweep:
        cells = "; ".join(
            f"lr {r['lr'] if isinstance(r['lr'], str) else format(r['lr'], 'g')}: {r['val_reward_median']:.3f}" for r in sweep
        )
        lines += [
            "",
            f"VMPO lr sweep on seed {args.seeds[0]} (selection weighting), chosen by the reward-oracle median of "
            f"{setup.val_samples} plain samples (a separate draw; never the evaluation oracle or the test reference): "
            f"{cells}. Chosen: {vmpo_lr:g}, used at every seed.",
        ]
    for method, d in diffs.items():
        parts = [
            f"{METRICS[c]} {mean_sd(r['mean'], r['sd'])} (higher at {int(r['higher'])}/{int(r['seeds'])} seeds)"
            for c, r in d.iterrows()
        ]
        rule = "higher evaluation-oracle accuracy at every seed, mean gain above its paired sd, no lower test 3-mer"
        paired = f"Paired by seed, {method} − children: " + "; ".join(parts)
        lines += ["", paired + f". Beats the children M-step: **{verdict(d)}** (rule: {rule})."]
    moved = [f"{m}: {shift_from_prior(per_seed, m)}" for m in per_seed["method"].unique() if m != PRIOR]
    lines += ["", "Change from the prior's plain samples (mean over seeds, paired): " + "; ".join(moved) + "."]
    lines += [
        "",
        f"Reproduce: `{command(args)}` ({minutes:.0f} min wall on {machine()}, shared). "
        "Per-seed rows: `docs/runs/vmpo_mstep.csv`.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
