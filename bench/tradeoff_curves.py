"""Reward against naturalness and diversity, one curve per method traced over its knob.

    python bench/tradeoff_curves.py --quick   # CPU: n = 64, seed 0, a few points per curve
    python bench/tradeoff_curves.py --cpu     # the quick profile at seeds 0 1 2: mean ± sd
    python bench/tradeoff_curves.py --full    # GPU (default): n = 640, seeds 0 1 2

Knobs: best-of-N (N), SVDD search (M children), SMC (α, M particles per design), the DAV posterior
(α of the search on the shipped ``hepg2_aligned``; α = ∞ is plain sampling), DAV over its EM
iterations (the shipped model's own recipe, read from its config.json, run again here with every
iteration's model kept; plain sampling), DAV-KL (λ; λ = 0 is DAV trained here), DRAKES-style
(β), DDPO (β of its optional KL; β = 0 is the paper's DDPO) and VMPO (α of its target p_ref·exp(r/α)),
each trained at DAV's training reward budget, and the shipped DAV model backed off toward the prior
(s: the weights prior + s·(shipped − prior), ``dnadav design --strength s``; plain sampling). The trained rows share the cache of
bench/bench_methods.py (``--runs``, same profile), so DAV-KL, DRAKES, DDPO and VMPO at the table's
λ, β and α are not trained twice. Every
point is judged by the evaluation oracle: median Pred-Activity against the 3-mer correlation to the
top-500 held-out HepG2 reference and against the mean pairwise Levenshtein distance. Real held-out
HepG2 DHS are the reference point. Each seed's points are written to
docs/runs/tradeoff_<cache>_seed<s>.csv and reused on the next call (``--recompute`` redoes them), so
seeds can run as separate processes; the curves are the mean over the chosen seeds, with ± 1 sd bars
(ddof = 1) where there are several, in docs/tradeoff_reward_vs_3mer.png,
docs/tradeoff_reward_vs_diversity.png and docs/runs/tradeoff.csv.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_methods as bm  # noqa: E402

from dnadav.core.search import SearchConfig  # noqa: E402
from dnadav.jobs.align import kept_iterations  # noqa: E402
from dnadav.jobs.strength import with_strength  # noqa: E402


@dataclass(frozen=True)
class Knobs:
    best_of: tuple[int, ...]  # N
    svdd: tuple[int, ...]  # M
    smc: tuple[float, ...]  # α
    dav: tuple[float, ...]  # α of the posterior search (math.inf: plain sampling)
    dav_kl: tuple[float, ...]  # λ
    drakes: tuple[float, ...]  # β
    ddpo: tuple[float, ...]  # β of DDPO's KL to the prior
    vmpo: tuple[float, ...]  # α of VMPO's target
    dav_line: tuple[float, ...] = (0.5, 0.7, 0.85)  # s of prior + s·(shipped − prior)


KNOBS = {
    "quick": Knobs(
        (1, 2, 4, 8), (2, 4, 8), (2.0, 0.5, 0.125), (math.inf, 2.0, 0.5), (0.0, 0.1, 1.0), (0.1, 1.0), (0.0, 0.1), (2.0, 0.5)
    ),
    "full": Knobs(
        (1, 4, 16, 64),
        (2, 4, 8, 16, 32),
        (2.0, 1.0, 0.5, 0.25, 0.1),
        (math.inf, 2.0, 1.0, 0.5, 0.25),
        (0.0, 0.03, 0.1, 0.3, 1.0),
        (0.01, 0.1, 1.0),
        (0.0, 0.01, 0.1),
        (2.0, 0.5, 0.125),
    ),
}
KNOBS["cpu"] = KNOBS["quick"]  # the cpu profile is the quick one at more seeds; curves use its first seed


DAV_LINE = "DAV (hepg2_aligned backed off to the prior, plain)"
RECIPE = "DAV (shipped recipe, plain)"
BEST_OF = "best-of-N"
SVDD = "SVDD search"
DAV_KL = "DAV-KL (aligned here)"
DRAKES = "DRAKES-style"
DDPO = "DDPO"
VMPO = "VMPO"


def posterior_curve(profile: bm.Profile) -> str:
    return f"DAV posterior (hepg2_aligned, M={profile.children})"


def smc_curve(profile: bm.Profile) -> str:
    return f"SMC ({profile.children} particles/design)"


def shipped_curves(profile: bm.Profile) -> set[str]:
    """The curves whose points depend on the shipped ``hepg2_aligned`` (recomputed when it changes)."""
    return {posterior_curve(profile), DAV_LINE, RECIPE}


def curve_names(profile: bm.Profile) -> set[str]:
    """Every curve ``points`` traces."""
    others = {BEST_OF, SVDD, smc_curve(profile), DAV_KL, DRAKES, DDPO, VMPO}
    return others | shipped_curves(profile)


def points(
    world: bm.World, knobs: Knobs, seed: int, recipe_run: Path | None = None, only: set[str] | None = None
) -> list[tuple[str, str, float, bm.Method]]:
    """``(curve, knob name, knob value, method)`` for every point of every curve, or of the curves ``only``
    (``recipe_run``: an align run made with --keep-iterations to trace DAV's iterations from, instead of
    training one). Another curve's models are then neither trained nor loaded."""
    p, reward, d, sch, length = world.profile, world.reward_oracle.reward, world.device, world.schedule, bm.LENGTH
    m, t, alpha = p.children, p.steps, p.temperature
    out = []

    def wanted(curve: str) -> bool:
        return only is None or curve in only

    def add(curve, knob, value, run, training=None):
        if not wanted(curve):
            return
        out.append(
            (
                curve,
                knob,
                value,
                bm.Method(
                    f"{curve} {knob}={value:g}", curve, run, training or {"train_oracle_calls": 0, "train_network_sequences": 0}
                ),
            )
        )

    for n_draws in knobs.best_of:
        add(BEST_OF, "N", n_draws, bm.best_of_n(world.prior, reward, length, t, n_draws, d, sch))
    for children in knobs.svdd:
        config = SearchConfig(num_children=children, reward_temperature=alpha, num_steps=t)
        add(SVDD, "M", children, bm.searched(world.prior, reward, length, config, d, sch))
    for a in knobs.smc:
        config = SearchConfig(reward_temperature=a, num_steps=t, mode="smc")
        add(smc_curve(p), "α", a, bm.searched(world.prior, reward, length, config, d, sch, m))
    shipped = bm.dav_training_budget(Path(world.shipped.checkpoint_file).parent)
    for a in knobs.dav:
        config = SearchConfig(num_children=m, reward_temperature=a, num_steps=t)
        run = (
            bm.plain(world.shipped, length, t, d, sch)
            if math.isinf(a)
            else bm.searched(world.shipped, reward, length, config, d, sch)
        )
        add(posterior_curve(p), "α", a, run, shipped)
    for scale in knobs.dav_line if wanted(DAV_LINE) else ():  # `dnadav design --strength s`
        model = with_strength(world.shipped, scale, "dhs_prior")
        add(DAV_LINE, "s", scale, bm.plain(model, length, t, d, sch), shipped)
    recipe = (recipe_run or world.shipped_recipe(seed)) if wanted(RECIPE) else None
    for k, folder in kept_iterations(recipe) if recipe else []:  # the run may stop before its configured count
        model = world.load(folder)
        add(RECIPE, "K", k, bm.plain(model, length, t, d, sch), bm.dav_training_budget(recipe, k))
    for lam in knobs.dav_kl if wanted(DAV_KL) else ():
        folder = world.dav(seed, lam)
        add(DAV_KL, "λ", lam, bm.plain(world.load(folder), length, t, d, sch), bm.model_budget(folder))
    for beta in knobs.drakes if wanted(DRAKES) else ():
        folder = world.drakes(seed, beta)
        add(DRAKES, "β", beta, bm.plain(world.load(folder), length, t, d, sch), bm.model_budget(folder))
    for beta in knobs.ddpo if wanted(DDPO) else ():
        folder = world.policy("ddpo", seed, kl_weight=beta)
        add(DDPO, "β", beta, bm.plain(world.load(folder), length, t, d, sch), bm.model_budget(folder))
    for a in knobs.vmpo if wanted(VMPO) else ():
        folder = world.policy("vmpo", seed, reward_temperature=a)
        add(VMPO, "α", a, bm.plain(world.load(folder), length, t, d, sch), bm.model_budget(folder))
    return out


COLUMNS = ["pred_activity_median", "accessibility_accuracy", "kmer3_correlation", "levenshtein_diversity", "reward_eval_gap"]
POINT = ["curve", "knob", "value", "name"]


def seed_table(world: bm.World, knobs: Knobs, seed: int, recipe_run: Path | None, only: set[str] | None = None) -> pd.DataFrame:
    """One row per point at ``seed`` (of the curves ``only``, if given): budget, knob, the evaluation
    oracle's figures (``COLUMNS``) and the sha256 of the shipped ``hepg2_aligned`` the table was made with."""
    profile = world.profile
    designs, records = {}, []
    for curve, knob, value, method in points(world, knobs, seed, recipe_run, only):
        designs[method.name], budget = bm.generate(method, profile.n, profile.batch, seed, world.device)
        records.append({"curve": curve, "knob": knob, "value": value, "name": method.name, **budget})
        print(method.name, budget, flush=True)
    designs[bm.REAL] = bm.real_dhs(profile.n)(seed)
    records.append({"curve": bm.REAL, "knob": "", "value": math.nan, "name": bm.REAL})
    summary = bm.hepg2_evaluator(world.prior, log_likelihood="skip", training=False)(designs)
    table = pd.DataFrame(records)
    for column in COLUMNS:
        table[column] = [summary.loc[n, column] for n in table["name"]]
    table.insert(0, "seed", seed)
    table.insert(0, "n", profile.n)
    table["shipped_sha256"] = shipped_sha(world)
    return table


def shipped_sha(world: bm.World) -> str:
    from dnadav.io import sha256_file

    return sha256_file(Path(world.shipped.checkpoint_file))


def refreshed(
    table: pd.DataFrame, world: bm.World, knobs: Knobs, seed: int, recipe_run: Path | None, without_recipe: bool = False
) -> pd.DataFrame | None:
    """A reused seed table with the points that are out of date recomputed: every curve added since it was
    written, and the ``shipped_curves`` when it was made with another ``hepg2_aligned`` (its sha256). None:
    nothing to redo. ``without_recipe``: the recipe's curve is not recomputed; its out-of-date points are
    dropped, never kept beside another model's (a later call without the flag adds the curve)."""
    redo = curve_names(world.profile) - set(table["curve"])
    sha = shipped_sha(world)
    if "shipped_sha256" not in table or (table["shipped_sha256"] != sha).any():
        redo |= shipped_curves(world.profile)
    stale = set(redo)
    if without_recipe:
        redo.discard(RECIPE)
    if not redo and not stale & set(table["curve"]):  # nothing to compute, nothing out of date to drop
        return None
    added = seed_table(world, knobs, seed, recipe_run, only=redo) if redo else table.iloc[0:0]
    kept = table[~table["curve"].isin(stale)].drop(columns=["shipped_sha256"], errors="ignore")
    return pd.concat([kept, added[added["curve"] != bm.REAL]], ignore_index=True).assign(shipped_sha256=sha)


def over_seeds(per_seed: pd.DataFrame) -> pd.DataFrame:
    """Mean of every numeric column per point, ``<metric>_sd`` (ddof = 1; NaN at one seed) and the
    seeds that have the point (the shipped recipe's rerun may stop at a different iteration per seed)."""
    grouped = per_seed.fillna({"knob": ""}).groupby(POINT, sort=False, dropna=False)
    numeric = [c for c in per_seed.columns if c not in POINT + ["seed", "profile", "shipped_sha256"]]
    table = grouped[numeric].mean().reset_index()
    for column in COLUMNS:
        table[f"{column}_sd"] = grouped[column].std(ddof=1).to_numpy()
    table["seeds"] = grouped["seed"].apply(lambda s: " ".join(map(str, sorted(s)))).to_numpy()
    return table


def plot(table: pd.DataFrame, x: str, xlabel: str, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    y = "pred_activity_median"
    fig, ax = plt.subplots(figsize=(7.5, 5.2))
    for curve, rows in table[table["curve"] != bm.REAL].groupby("curve", sort=False):
        ax.errorbar(rows[x], rows[y], xerr=rows[f"{x}_sd"], yerr=rows[f"{y}_sd"], marker="o", capsize=2, label=curve)
        for _, r in rows.iterrows():
            label = "∞" if math.isinf(r["value"]) else f"{r['value']:g}"
            ax.annotate(f"{r['knob']}={label}", (r[x], r[y]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    real = table[table["curve"] == bm.REAL]
    ax.scatter(real[x], real[y], marker="*", s=200, color="black", label=bm.REAL, zorder=5)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Pred-Activity (median evaluation-oracle HepG2 log-odds)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    cli = bm.parser(__doc__, trained_models=False)
    cli.add_argument(
        "--recipe-run",
        type=Path,
        help="an align run made with --keep-iterations (the shipped model's own run) to trace DAV's iterations from (one seed)",
    )
    cli.add_argument("--recompute", action="store_true", help="redo the chosen seeds' points instead of reusing their CSVs")
    cli.add_argument(
        "--without-recipe",
        action="store_true",
        help="leave out the curve of the shipped recipe's rerun (about 40 min per seed on one thread); "
        "its out-of-date points are dropped; a later call without the flag adds it",
    )
    args = cli.parse_args()
    name, profile = bm.profile_from(args)
    if args.recipe_run and len(profile.seeds) > 1:
        cli.error("--recipe-run is one run at one seed: give one --seeds value with it")
    torch.set_grad_enabled(False)
    cache = profile.cache or name
    world = bm.World(profile, args.runs / cache, args.device)
    docs = bm.ROOT / "docs"
    started = time.perf_counter()
    tables = []
    for seed in profile.seeds:
        path = docs / "runs" / f"tradeoff_{cache}_seed{seed}.csv"
        if path.exists() and not args.recompute:
            print(f"seed {seed}: reusing {path.relative_to(bm.ROOT)}", flush=True)
            table = pd.read_csv(path)
            redone = refreshed(table, world, KNOBS[name], seed, args.recipe_run, args.without_recipe)
            if redone is not None:  # curves added since, or made with another shipped model: those points only
                table = redone
                table.to_csv(path, index=False)
        else:
            only = curve_names(profile) - {RECIPE} if args.without_recipe else None
            table = seed_table(world, KNOBS[name], seed, args.recipe_run, only)
            table.to_csv(path, index=False)
        tables.append(table[table["n"] == profile.n])
    table = over_seeds(pd.concat(tables, ignore_index=True))
    table.insert(0, "profile", name)
    table.to_csv(docs / "runs" / "tradeoff.csv", index=False)
    minutes = (time.perf_counter() - started) / 60
    seeds = " ".join(map(str, profile.seeds))
    bars = ", ± 1 sd over seeds" if len(profile.seeds) > 1 else ""
    title = f"profile {name}: n = {profile.n}, seeds {seeds}{bars}, T = {profile.steps}; {bm.machine()}; {minutes:.1f} min"
    plot(
        table, "kmer3_correlation", "3-mer correlation to top-500 held-out HepG2 DHS", docs / "tradeoff_reward_vs_3mer.png", title
    )
    plot(
        table,
        "levenshtein_diversity",
        "Levenshtein diversity (mean pairwise edit distance, bases)",
        docs / "tradeoff_reward_vs_diversity.png",
        title,
    )
    print(table.to_string())


if __name__ == "__main__":
    main()
