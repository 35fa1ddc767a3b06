"""One table, one oracle, every method, at several seeds and grouped by reward-oracle budget.

    python bench/bench_methods.py --quick    # CPU profile: n = 64, 1 seed, tiny training budgets (≤ 15 min)
    python bench/bench_methods.py --cpu      # the quick profile at seeds 0 1 2 (about 30 min on 2 cores)
    python bench/bench_methods.py --full     # GPU profile (default): n = 640, seeds 0 1 2

Methods: pretrained sampling, best-of-N, reward-gradient guidance, SVDD-style search, SMC, DAV (a
model aligned here with ``dnadav.jobs.align.align``), DAV-KL (the same run with λ > 0), DRAKES-style
reverse-KL fine-tuning (``dnadav.baselines.drakes``), DDPO (``dnadav.baselines.ddpo``), VMPO
(``dnadav.baselines.vmpo``), the DAV posterior (aligned model + search) and the shipped ``hepg2_aligned``.
Every row is run at every seed (sampling seed; trained rows are trained once per seed) and reported as
mean ± sd. Budgets are counted, not estimated: reward-oracle calls
(sequences scored) and rows through the denoiser, at sampling time and in training.

Two equal-budget groups: at sampling time SVDD (M children), SMC (M particles per design, one kept)
and the DAV posterior (M children) all score n·M·T sequences; in training DAV, DAV-KL, DRAKES, DDPO and
VMPO all make the same number of reward calls (DRAKES's and DDPO's iterations are set so that
iterations · batch equals DAV's E-step calls; VMPO's so that iterations · batch · (T + 1) does, its value
potential scoring every state). Trained models are cached under ``--runs`` (default runs/bench_methods),
so a rerun reuses them; ``--dav-kl-model DIR`` / ``--drakes-model DIR`` / ``--ddpo-model DIR`` /
``--vmpo-model DIR`` use given models instead.
Writes the section "methods (HepG2, one table, <profile> profile)" of docs/benchmarks.md, docs/runs/methods.csv (mean,
sd) and docs/runs/methods_seeds.csv (one row per method and seed).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmarks_md import machine, write_section  # noqa: E402
from methods_table import (  # noqa: E402, F401  (re-exported for tradeoff_curves and the test)
    BUDGET,
    METRICS,
    NO_ORACLE,
    REAL,
    Method,
    best_of_n,
    dav_training_budget,
    drakes_budget,
    estep_oracle_calls,
    generate,
    markdown_table,
    mean_sd,
    model_budget,
    plain,
    policy_budget,
    run_table,
    searched,
    summarise,
)

from dnadav.baselines import ddpo, vmpo  # noqa: E402
from dnadav.baselines.ddpo import DdpoConfig  # noqa: E402
from dnadav.baselines.drakes import DrakesConfig, finetune  # noqa: E402
from dnadav.baselines.rollouts import PolicyGradientConfig  # noqa: E402
from dnadav.baselines.vmpo import VmpoConfig  # noqa: E402
from dnadav.core.search import SearchConfig  # noqa: E402
from dnadav.dna.config import AlignConfig  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LENGTH = 200


@dataclass(frozen=True)
class Profile:
    """What one run of the table fixes: designs, seeds, sampling knobs and the training budgets."""

    n: int
    seeds: tuple[int, ...]
    steps: int  # T reverse steps of every sampler
    children: int  # M of SVDD / DAV posterior; N of best-of-N; particles per design of SMC
    temperature: float  # α of every search
    batch: int  # designs per call
    align: AlignConfig  # DAV's training run (DAV-KL: the same with kl_weight)
    kl_weight: float  # λ of the DAV-KL row
    drakes: DrakesConfig  # iterations are overwritten to match DAV's training reward calls
    guidance_scale: float = 2.0
    cache: str = ""  # folder under --runs for the trained rows ("" = the profile's name); same training, same cache
    # DDPO and VMPO: iterations are overwritten to match DAV's training reward calls
    ddpo: DdpoConfig = field(default_factory=lambda: DdpoConfig(num_steps=16, batch_size=16, lr=5e-4))
    vmpo: VmpoConfig = field(
        default_factory=lambda: VmpoConfig(num_steps=16, batch_size=16, inner_epochs=4, reward_temperature=0.5, lr=5e-4)
    )


QUICK = Profile(
    n=64,
    seeds=(0,),
    steps=16,
    children=4,
    temperature=0.5,
    batch=64,
    align=AlignConfig(  # 64 × 4 × 16 = 4,096 reward calls: the n·M·T of the sampling-budget group
        iterations=1,
        sequences_per_iteration=64,
        search=SearchConfig(num_children=4, reward_temperature=0.5, num_steps=16),
        eval_sequences=8,
        eval_steps=16,
    ),
    kl_weight=0.1,
    drakes=DrakesConfig(num_steps=16, truncate_steps=4, kl_weight=0.1, batch_size=16, lr=5e-4),
    # DDPO as published (no KL; one full-batch step per sampled batch, so the ratio is 1 and the clip idle)
    ddpo=DdpoConfig(num_steps=16, batch_size=16, kl_weight=0.0, lr=5e-4),
    # VMPO as published (per-step log weights, value potential, learned M_φ(t)); T + 1 = 17 reward calls
    # per path leave it 4,096 / (16 · 17) ≈ 15 sampled batches, each used for 4 gradient steps
    vmpo=VmpoConfig(num_steps=16, batch_size=16, inner_epochs=4, reward_temperature=0.5, lr=5e-4),
)

PROFILES = {
    "full": Profile(
        n=640,
        seeds=(0, 1, 2),
        steps=50,
        children=16,
        temperature=0.5,
        batch=128,
        align=AlignConfig(),  # the shipped hepg2_aligned recipe: 3 iterations × 64 × 16 × 25 = 76,800 calls
        kl_weight=0.1,
        drakes=DrakesConfig(num_steps=32, truncate_steps=8, kl_weight=0.1, batch_size=32, lr=1e-4),
        ddpo=DdpoConfig(num_steps=32, batch_size=32, kl_weight=0.0, lr=1e-4),
        vmpo=VmpoConfig(num_steps=32, batch_size=32, inner_epochs=4, reward_temperature=0.5, lr=1e-4),
    ),
    "quick": QUICK,
    "cpu": dataclasses.replace(QUICK, seeds=(0, 1, 2), cache="quick"),
}


# ---- trained rows: DAV / DAV-KL (align) and DRAKES, cached in a run folder ---------------------


def _same(saved: dict, wanted: dict) -> bool:
    return json.loads(json.dumps(saved)) == json.loads(json.dumps(wanted))


def train_dav(config: AlignConfig, folder: Path, keep_iterations: bool = False) -> Path:
    """``align(config)`` into ``folder`` unless a finished run with the same config is there
    (``keep_iterations``: each iteration's model too, in ``folder/iterations/iteration-k``)."""
    from dnadav.jobs.align import align

    if (folder / "model.pt").is_file():
        saved = json.loads((folder / "config.json").read_text()).get("align_config", {})
        # read through from_dict, so a field added since (at its "off" default) is no other config
        if not _same(AlignConfig.from_dict(saved).as_dict(), config.as_dict()):
            raise SystemExit(f"{folder} holds a run with another config; delete it or pass another --runs")
        return folder
    print(f"training DAV (λ = {config.distill.kl_weight}) into {folder}", flush=True)
    align(config, folder, progress=False, max_batch=None, keep_iterations=keep_iterations)
    return folder


def drakes_config(profile: Profile, seed: int, beta: float | None = None) -> DrakesConfig:
    """The profile's DRAKES run at ``seed`` with as many reward calls as DAV's training."""
    calls = estep_oracle_calls(profile.align)
    batch = profile.drakes.batch_size
    kl = profile.drakes.kl_weight if beta is None else beta
    return dataclasses.replace(profile.drakes, iterations=max(1, round(calls / batch)), seed=seed, kl_weight=kl)


POLICY_METHODS = {"ddpo": ddpo, "vmpo": vmpo}  # name -> module with finetune(prior, reward_fn, length, config, ...)


def policy_config(profile: Profile, name: str, seed: int, **changes) -> PolicyGradientConfig:
    """The profile's DDPO / VMPO run at ``seed`` (``changes``: e.g. kl_weight, reward_temperature) with
    as many reward calls as DAV's training: iterations · batch · (reward calls per path)."""
    base = dataclasses.replace(getattr(profile, name), seed=seed, **changes)
    per_round = base.batch_size * base.oracle_calls_per_path()
    return dataclasses.replace(base, iterations=max(1, round(estep_oracle_calls(profile.align) / per_round)))


def train_policy(name: str, config: PolicyGradientConfig, folder: Path, prior, prior_config: dict, reward_fn, device) -> Path:
    """``POLICY_METHODS[name].finetune`` the prior into ``folder`` (model.pt, config.json with the
    method's config under ``<name>_config`` and its budget, history.json) unless the same run is there."""
    from dnadav.dna.checkpoint import model_schedule, save_denoiser

    key = f"{name}_config"
    if (folder / "model.pt").is_file():
        saved = json.loads((folder / "config.json").read_text()).get(key, {})
        if not _same(saved, config.as_dict()):
            raise SystemExit(f"{folder} holds a {name} run with another config; delete it or pass another --runs")
        return folder
    print(f"training {name} (β = {config.kl_weight}, {config.iterations} rounds) into {folder}", flush=True)
    started = time.perf_counter()
    with torch.enable_grad():
        model, history = POLICY_METHODS[name].finetune(prior, reward_fn, LENGTH, config, model_schedule(prior_config), device)
    metadata = {
        "schedule": prior_config.get("schedule", "loglinear"),
        "length": LENGTH,
        "aligned_from": "dhs_prior",
        key: config.as_dict(),
        "budget": {**policy_budget(config), "wall_seconds": time.perf_counter() - started},
    }
    save_denoiser(folder, model.cpu(), metadata)
    (folder / "history.json").write_text(json.dumps(history, indent=1) + "\n")
    return folder


def train_drakes(config: DrakesConfig, folder: Path, prior, prior_config: dict, reward_fn, device) -> Path:
    """``finetune`` the prior into ``folder`` (model.pt, config.json with the DRAKES config and its
    budget, history.json) unless the same run is there."""
    from dnadav.dna.checkpoint import model_schedule, save_denoiser

    if (folder / "model.pt").is_file():
        saved = json.loads((folder / "config.json").read_text()).get("drakes_config", {})
        if not _same(saved, config.as_dict()):
            raise SystemExit(f"{folder} holds a DRAKES run with another config; delete it or pass another --runs")
        return folder
    print(f"training DRAKES (β = {config.kl_weight}, {config.iterations} steps) into {folder}", flush=True)
    started = time.perf_counter()
    with torch.enable_grad():
        model, history = finetune(prior, reward_fn, LENGTH, config, model_schedule(prior_config), device)
    metadata = {
        "schedule": prior_config.get("schedule", "loglinear"),
        "length": LENGTH,
        "aligned_from": "dhs_prior",
        "drakes_config": config.as_dict(),
        "budget": {**drakes_budget(config), "wall_seconds": time.perf_counter() - started},
    }
    save_denoiser(folder, model.cpu(), metadata)
    (folder / "history.json").write_text(json.dumps(history, indent=1) + "\n")
    return folder


# ---- the real world ------------------------------------------------------------------------------


class World:
    """The shipped prior, aligned model and HepG2 oracles on one device, and the profile's trained rows."""

    def __init__(
        self, profile: Profile, runs: Path, device, dav_kl_model=None, drakes_model=None, ddpo_model=None, vmpo_model=None
    ):
        from dnadav.dna.checkpoint import load_denoiser, model_schedule
        from dnadav.oracles import load_oracle

        self.profile, self.runs, self.device = profile, runs, torch.device(device)
        self.prior, self.prior_config = load_denoiser("dhs_prior", self.device)
        self.schedule = model_schedule(self.prior_config)
        self.shipped = load_denoiser("hepg2_aligned", self.device)[0]
        self.reward_oracle = load_oracle("hepg2", "reward").to(self.device).eval()
        self.dav_kl_model, self.drakes_model = dav_kl_model, drakes_model
        self.policy_models = {"ddpo": ddpo_model, "vmpo": vmpo_model}

    def load(self, folder: Path):
        from dnadav.dna.checkpoint import load_denoiser

        return load_denoiser(folder, self.device)[0]

    def dav(self, seed: int, kl_weight: float = 0.0) -> Path:
        align = self.profile.align
        config = dataclasses.replace(align, seed=seed, distill=dataclasses.replace(align.distill, kl_weight=kl_weight))
        return train_dav(config, self.runs / f"dav_kl{kl_weight:g}_seed{seed}")

    def shipped_recipe(self, seed: int) -> Path:
        """The shipped ``hepg2_aligned``'s own align config (read from its checkpoint) run again at
        ``seed``, keeping every iteration's model."""
        from dnadav.checkpoint_format import read_config

        recipe = AlignConfig.from_dict(read_config(Path(self.shipped.checkpoint_file).parent)["align_config"])
        return train_dav(dataclasses.replace(recipe, seed=seed), self.runs / f"dav_shipped_recipe_seed{seed}", True)

    def drakes(self, seed: int, beta: float | None = None) -> Path:
        config = drakes_config(self.profile, seed, beta)
        folder = self.runs / f"drakes_b{config.kl_weight:g}_seed{seed}"
        return train_drakes(config, folder, self.prior, self.prior_config, self.reward_oracle.reward, self.device)

    def policy(self, name: str, seed: int, **changes) -> Path:
        """The profile's DDPO / VMPO model at ``seed`` (``changes``: kl_weight, reward_temperature)."""
        config = policy_config(self.profile, name, seed, **changes)
        tag = f"b{config.kl_weight:g}" + (f"_a{config.reward_temperature:g}" if name == "vmpo" else "")
        folder = self.runs / f"{name}_{tag}_seed{seed}"
        return train_policy(name, config, folder, self.prior, self.prior_config, self.reward_oracle.reward, self.device)

    def policy_row(self, name: str, label: str, seed: int, group: str) -> Method:
        """DDPO's / VMPO's row: a given model (``--ddpo-model`` / ``--vmpo-model``) or one trained here."""
        given = self.policy_models[name]
        folder = Path(given) if given else self.policy(name, seed)
        saved = json.loads((folder / "config.json").read_text()).get(f"{name}_config", {})
        knobs = f"β={saved.get('kl_weight', '?')}" + (f", α={saved.get('reward_temperature', '?')}" if name == "vmpo" else "")
        run = plain(self.load(folder), LENGTH, self.profile.steps, self.device, self.schedule)
        return Method(f"{label} ({knobs}, plain)", group, run, model_budget(folder))

    def methods(self, seed: int) -> list[Method]:
        p, reward, d, sch = self.profile, self.reward_oracle.reward, self.device, self.schedule
        m, t, alpha = p.children, p.steps, p.temperature
        dav_dir = self.dav(seed)
        kl_dir = Path(self.dav_kl_model) if self.dav_kl_model else self.dav(seed, p.kl_weight)
        drakes_dir = Path(self.drakes_model) if self.drakes_model else self.drakes(seed)
        dav, dav_kl, drakes = self.load(dav_dir), self.load(kl_dir), self.load(drakes_dir)
        svdd = SearchConfig(num_children=m, reward_temperature=alpha, num_steps=t)
        smc = SearchConfig(reward_temperature=alpha, num_steps=t, mode="smc")
        guided = SearchConfig(num_children=1, num_steps=t, guidance_scale=p.guidance_scale)
        train_calls = estep_oracle_calls(p.align)
        lam = json.loads((kl_dir / "config.json").read_text()).get("align_config", {}).get("distill", {}).get("kl_weight", "?")
        beta = json.loads((drakes_dir / "config.json").read_text()).get("drakes_config", {}).get("kl_weight", "?")
        g_none = NO_ORACLE
        g_search = f"equal sampling budget: M·T = {m}·{t} = {m * t} reward calls per design"
        same = " (= the sampling group's n·M·T)" if train_calls == p.n * m * t else ""
        g_train = f"equal training budget: {train_calls:,} reward calls in training{same}, none at sampling"
        rows = [
            Method("pretrained", g_none, plain(self.prior, LENGTH, t, d, sch)),
            Method(f"best-of-{m}", f"{m} reward calls per design", best_of_n(self.prior, reward, LENGTH, t, m, d, sch)),
            Method(
                f"guidance (scale {p.guidance_scale:g})",
                f"T = {t} reward gradients per design",
                searched(self.prior, reward, LENGTH, guided, d, sch),
            ),
            Method(f"SVDD search (M={m})", g_search, searched(self.prior, reward, LENGTH, svdd, d, sch)),
            Method(f"SMC / TDS ({m} particles per design)", g_search, searched(self.prior, reward, LENGTH, smc, d, sch, m)),
            Method(
                f"DAV posterior (DAV + M={m})",
                g_search,
                searched(dav, reward, LENGTH, svdd, d, sch),
                model_budget(dav_dir),
            ),
            Method(
                f"DAV-KL posterior (λ={lam} + M={m})",
                g_search,
                searched(dav_kl, reward, LENGTH, svdd, d, sch),
                model_budget(kl_dir),
            ),
            Method("DAV (aligned here, plain)", g_train, plain(dav, LENGTH, t, d, sch), model_budget(dav_dir)),
            Method(f"DAV-KL (λ={lam}, plain)", g_train, plain(dav_kl, LENGTH, t, d, sch), model_budget(kl_dir)),
            Method(f"DRAKES-style (β={beta}, plain)", g_train, plain(drakes, LENGTH, t, d, sch), model_budget(drakes_dir)),
            self.policy_row("ddpo", "DDPO", seed, g_train),
            self.policy_row("vmpo", "VMPO", seed, g_train),
        ]
        shipped = dav_training_budget(Path(self.shipped.checkpoint_file).parent)
        rows.append(
            Method(
                "DAV (shipped hepg2_aligned, plain)",
                f"shipped model: {shipped['train_oracle_calls']:,.0f} reward calls in training",
                plain(self.shipped, LENGTH, t, d, sch),
                shipped,
            )
        )
        return rows


def real_dhs(n: int) -> Callable[[int], list[str]]:
    from dnadav.data import load_dhs

    table = load_dhs("test", "HepG2")
    return lambda seed: table["sequence"].sample(min(n, len(table)), random_state=seed).tolist()


def hepg2_evaluator(prior, log_likelihood="prior", training=True) -> Callable[[dict[str, list[str]]], pd.DataFrame]:
    """The shipped evaluator (held-out evaluation oracle, top-500 held-out reference) on CPU."""
    from dnadav.evaluate.evaluator import evaluate_sets
    from dnadav.evaluate.reference import reference_sequences, training_sequences
    from dnadav.oracles import load_oracle

    eval_oracle, reward_oracle = load_oracle("hepg2", "eval"), load_oracle("hepg2", "reward")
    reference = reference_sequences()
    pool = training_sequences() if training else []
    # a CPU copy: moving the sampling prior itself would pull it off the GPU
    cpu_prior = copy.deepcopy(prior).cpu() if log_likelihood == "prior" else None

    def evaluate(designs):
        return evaluate_sets(
            designs,
            reward_oracle=reward_oracle,
            eval_oracle=eval_oracle,
            reference=reference,
            training=pool,
            prior=cpu_prior,
            log_likelihood=log_likelihood,
        ).summary

    return evaluate


def profile_from(args) -> tuple[str, Profile]:
    name = "quick" if args.quick else "cpu" if args.cpu else "full"
    profile = PROFILES[name]
    changes = {k: v for k, v in (("n", args.n), ("seeds", tuple(args.seeds) if args.seeds else None)) if v is not None}
    return name, dataclasses.replace(profile, **changes)


def parser(description: str = __doc__, trained_models: bool = True) -> argparse.ArgumentParser:
    """The options bench_methods and tradeoff_curves share (``trained_models``: the two model overrides)."""
    p = argparse.ArgumentParser(description=description.split("\n\n")[0])
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="CPU profile: n = 64, 1 seed, tiny training budgets")
    mode.add_argument("--cpu", action="store_true", help="the quick profile at seeds 0 1 2 (about 30 min on 2 cores)")
    mode.add_argument("--full", action="store_true", help="GPU profile (the default): n = 640, seeds 0 1 2")
    p.add_argument("--n", type=int, help="designs per method and seed (default: the profile's)")
    p.add_argument("--seeds", type=int, nargs="+", help="seeds (default: the profile's)")
    p.add_argument("--runs", type=Path, default=ROOT / "runs" / "bench_methods", help="cache of trained models")
    if trained_models:
        p.add_argument("--dav-kl-model", type=Path, help="a DAV-KL model folder to use instead of training one")
        p.add_argument("--drakes-model", type=Path, help="a DRAKES-style model folder to use instead of training one")
        p.add_argument("--ddpo-model", type=Path, help="a DDPO model folder to use instead of training one")
        p.add_argument("--vmpo-model", type=Path, help="a VMPO model folder to use instead of training one")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    return p


def main() -> None:
    args = parser().parse_args()
    name, profile = profile_from(args)
    torch.set_grad_enabled(False)
    models = (args.dav_kl_model, args.drakes_model, args.ddpo_model, args.vmpo_model)
    world = World(profile, args.runs / (profile.cache or name), args.device, *models)
    started = time.perf_counter()
    per_seed = run_table(
        world.methods, profile.seeds, profile.n, profile.batch, world.device, hepg2_evaluator(world.prior), real_dhs(profile.n)
    )
    minutes = (time.perf_counter() - started) / 60
    summary = summarise(per_seed)
    out = ROOT / "docs" / "runs"
    suffix = "" if name == "full" else f"_{name}"
    per_seed.to_csv(out / f"methods_seeds{suffix}.csv", index=False)
    summary.to_csv(out / f"methods{suffix}.csv")
    p, a, dr = profile, profile.align, drakes_config(profile, profile.seeds[0])
    dd, vm = policy_config(profile, "ddpo", profile.seeds[0]), policy_config(profile, "vmpo", profile.seeds[0])
    seeds = " ".join(map(str, p.seeds))
    body = f"""Profile `{name}`: n = {p.n} designs per method and seed, seeds {seeds} (mean ± sd over seeds; sd with
ddof = 1, none shown at one seed), 200 bp, T = {p.steps} reverse steps for every sampler, α = {p.temperature}, M = {p.children}.
Judged by the evaluation oracle (trained on other chromosomes than the reward oracle); naturalness vs the
top-500 held-out HepG2 reference (docs/metrics.md). Budget columns count reward-oracle calls (sequences
scored; a guidance gradient or a DRAKES step's reward counts once per sequence) and rows through the
denoiser, for all n designs at sampling time and, separately, in training (E-step + M-step rows).

Rows are grouped by budget. **Equal sampling budget**: SVDD (M children per step), SMC (a population of
M particles per design, resampled at ESS < 0.5, one final particle kept per design) and the DAV posterior
(M children per step on a DAV model) all score n·M·T sequences. **Equal training budget**: DAV and
DAV-KL (`dnadav.jobs.align.align`: {a.iterations} iteration(s) × {a.sequences_per_iteration} sequences ×
M = {a.search.num_children} × T = {a.search.num_steps}, α = {a.search.reward_temperature}) and DRAKES-style
(`dnadav.baselines.drakes.finetune`: {dr.iterations} steps × batch {dr.batch_size}, T = {dr.num_steps}, gradient
through the last {dr.truncate_steps}, β = {dr.kl_weight}, lr {dr.lr:g}), DDPO (`dnadav.baselines.ddpo.finetune`:
{dd.iterations} rounds × batch {dd.batch_size}, T = {dd.num_steps}, {dd.inner_epochs} step(s) per round, clip {dd.clip_range:g},
β = {dd.kl_weight}, lr {dd.lr:g}) and VMPO (`dnadav.baselines.vmpo.finetune`: {vm.iterations} rounds × batch {vm.batch_size},
T = {vm.num_steps}, {vm.granularity} log weights, {vm.potential} potential ({vm.oracle_calls_per_path()} reward calls per path),
{vm.inner_epochs} steps per round, α = {vm.reward_temperature}, β = {vm.kl_weight}, lr {vm.lr:g}) make the same number of
reward calls (docs/baselines.md); all start from `dhs_prior` and use the `hepg2` reward oracle, and each is
trained once per seed (a model given with `--dav-kl-model` / `--drakes-model` / `--ddpo-model` / `--vmpo-model`,
and the shipped `hepg2_aligned`, are the same model at every seed: their sd is sampling noise only).
DRAKES pays for its calls with far more network rows (every call needs a whole trajectory). Where the
training group's reward calls equal the sampling group's n·M·T (the quick and cpu profiles), DAV,
SVDD, SMC and DRAKES-style are compared at one total reward-oracle budget for the n designs.
Machine: {machine()}, device {world.device}; {minutes:.1f} min wall-clock.

Reproduce: `python bench/bench_methods.py --quick` (CPU, one seed, ≤ 15 min on 2 cores),
`python bench/bench_methods.py --cpu` (the same at seeds 0 1 2, about 30 min) or
`python bench/bench_methods.py --full` (GPU). Trained models are cached in `runs/bench_methods/<profile>/`
(the cpu profile shares the quick one's).
Raw tables: `docs/runs/methods{suffix}.csv` (mean, sd), `docs/runs/methods_seeds{suffix}.csv` (per seed).
Trade-off curves (`python bench/tradeoff_curves.py --quick` / `--full`, points in `docs/runs/tradeoff.csv`):
![reward vs 3-mer](tradeoff_reward_vs_3mer.png) ![reward vs diversity](tradeoff_reward_vs_diversity.png)

{markdown_table(summary)}

The real HepG2 row samples the same 958 held-out chr1 sequences whose top 500 are the reference, so its
3-mer and motif correlations are high partly by construction.
"""
    write_section(f"methods (HepG2, one table, {name} profile)", body)
    print(body)


if __name__ == "__main__":
    main()
