"""The methods table on a toy world (tiny denoiser, GC oracle, n = 4, 2 seeds): budgets counted exactly
(SVDD and SMC = n·M·T reward calls, best-of-N = n·N, DRAKES = iterations · batch), mean ± sd over
seeds, rows grouped by budget."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch

from dnadav.baselines.drakes import DrakesConfig, finetune
from dnadav.core.search import SearchConfig
from dnadav.dna.backbone import ConvDenoiser, ConvDenoiserConfig
from dnadav.dna.config import AlignConfig
from dnadav.dna.search import search
from dnadav.evaluate.evaluator import evaluate_sets
from dnadav.evaluate.motifs import MotifSet

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import bench_methods as bm  # noqa: E402

L, T, M, N = 12, 4, 3, 4


class GCOracle(torch.nn.Module):
    """reward = GC count − L/2 (differentiable in soft one-hot); probability = sigmoid(reward)."""

    def reward(self, onehot):
        return onehot[:, 1:3].sum(dim=(1, 2)) - onehot.shape[-1] / 2

    def probability(self, onehot):
        return torch.sigmoid(self.reward(onehot))


def tiny_denoiser(seed: int = 0) -> ConvDenoiser:
    torch.manual_seed(seed)  # parameter init has no generator argument; tests only
    config = ConvDenoiserConfig(channels=8, num_blocks=1, kernel_size=3, dilations=(1,), time_embedding_dim=8, dropout=0.0)
    return ConvDenoiser(config).eval()


@pytest.fixture(scope="module")
def world():
    prior, oracle = tiny_denoiser(), GCOracle()
    drakes = DrakesConfig(num_steps=T, truncate_steps=2, kl_weight=0.1, batch_size=4, iterations=2)
    with torch.enable_grad():
        tuned, _ = finetune(prior, oracle.reward, L, drakes)
    svdd = SearchConfig(num_children=M, reward_temperature=0.5, num_steps=T)
    smc = SearchConfig(reward_temperature=0.5, num_steps=T, mode="smc")

    def build(seed):
        return [
            bm.Method("pretrained", bm.NO_ORACLE, bm.plain(prior, L, T, "cpu")),
            bm.Method(f"best-of-{M}", "n·M", bm.best_of_n(prior, oracle.reward, L, T, M, "cpu")),
            bm.Method("SVDD", "n·M·T", bm.searched(prior, oracle.reward, L, svdd, "cpu")),
            bm.Method("SMC", "n·M·T", bm.searched(prior, oracle.reward, L, smc, "cpu", particles=M)),
            bm.Method("DRAKES", "training", bm.plain(tuned, L, T, "cpu"), bm.drakes_budget(drakes)),
        ]

    rng = torch.Generator().manual_seed(5)
    strings = lambda k: ["".join("ACGT"[i] for i in torch.randint(0, 4, (L,), generator=rng)) for _ in range(k)]  # noqa: E731
    reference, training = strings(6), strings(6)
    motifs = MotifSet.from_counts({"GC": [[0, 0, 0], [5, 0, 5], [0, 5, 0], [0, 0, 0]]})

    def evaluate(designs):
        return evaluate_sets(
            designs,
            reward_oracle=oracle,
            eval_oracle=oracle,
            log_likelihood="skip",
            reference=reference,
            training=training,
            motifs=motifs,
        ).summary

    with torch.no_grad():
        # batch 3: n = 4 designs are made as 3 + 1, so the budget must add up across calls
        per_seed = bm.run_table(build, [0, 1], N, 3, "cpu", evaluate, real=lambda seed: strings(N))
    return {"per_seed": per_seed, "drakes": drakes, "prior": prior, "oracle": oracle, "svdd": svdd}


def test_budget_is_counted_exactly(world):
    budget = world["per_seed"].groupby("method")[["oracle_calls", "network_sequences", "train_oracle_calls"]].first()
    assert budget.loc["SVDD", "oracle_calls"] == N * M * T
    assert budget.loc["SMC", "oracle_calls"] == N * M * T  # M particles per design, one kept
    assert budget.loc[f"best-of-{M}", "oracle_calls"] == N * M
    assert budget.loc[f"best-of-{M}", "network_sequences"] == N * M * T
    assert budget.loc["pretrained", "oracle_calls"] == 0
    assert budget.loc["pretrained", "network_sequences"] == N * T
    # SVDD: the first prediction of each design, then M children per design at each of T − 1 steps
    assert budget.loc["SVDD", "network_sequences"] == N * (1 + (T - 1) * M)
    assert budget.loc["DRAKES", "train_oracle_calls"] == 2 * 4
    assert budget.loc[bm.REAL, "oracle_calls"] == 0


def test_estep_formula_matches_the_search_counter(world):
    config = AlignConfig(iterations=3, sequences_per_iteration=5, search=world["svdd"], length=L)
    with torch.no_grad():
        measured = search(world["prior"], world["oracle"].reward, 5, L, world["svdd"], generator=torch.Generator().manual_seed(0))
    assert bm.estep_oracle_calls(config) == 3 * measured.stats.oracle_calls == 3 * 5 * M * T


def test_drakes_iterations_match_the_dav_training_budget():
    align = AlignConfig(iterations=2, sequences_per_iteration=8, search=SearchConfig(num_children=4, num_steps=6))
    profile = bm.Profile(
        n=4,
        seeds=(0,),
        steps=T,
        children=M,
        temperature=0.5,
        batch=4,
        align=align,
        kl_weight=0.1,
        drakes=DrakesConfig(batch_size=16),
    )
    config = bm.drakes_config(profile, seed=3)
    assert config.iterations * config.batch_size == bm.estep_oracle_calls(align) == 2 * 8 * 4 * 6
    assert config.seed == 3 and bm.drakes_budget(config)["train_oracle_calls"] == 2 * 8 * 4 * 6


def test_mean_and_sd_over_seeds(world):
    per_seed = world["per_seed"]
    assert sorted(per_seed["seed"].unique()) == [0, 1]
    summary = bm.summarise(per_seed)
    for name in ("SVDD", "SMC", "pretrained", bm.REAL):
        a, b = per_seed[per_seed["method"] == name].sort_values("seed")["pred_activity_median"].tolist()
        assert summary.loc[name, "pred_activity_median_mean"] == pytest.approx((a + b) / 2)
        assert summary.loc[name, "pred_activity_median_sd"] == pytest.approx(abs(a - b) / math.sqrt(2))
        assert summary.loc[name, "seeds"] == 2
    assert summary.loc["SVDD", "oracle_calls_sd"] == 0  # budgets do not depend on the seed
    assert summary.loc["SVDD", "pred_activity_median_sd"] > 0  # the seeds really differ
    assert (per_seed["n"] == N).all()  # every row, SMC included (M·n particles, n kept), has n designs


def test_mean_sd_text_and_grouped_markdown(world):
    assert bm.mean_sd(1.23456, 0.0321) == "1.23 ± 0.032"
    assert bm.mean_sd(2.0, float("nan")) == "2"
    text = bm.markdown_table(bm.summarise(world["per_seed"]))
    lines = text.splitlines()
    groups = [line.split("**")[1] for line in lines if line.startswith("| **")]
    assert groups == [bm.NO_ORACLE, "n·M", "n·M·T", "training"]
    svdd = next(line for line in lines if line.startswith("| SVDD |"))
    assert f"| {N * M * T:,} |" in svdd and " ± " in svdd
    # the SVDD row sits under its group's line, with SMC
    assert lines.index(svdd) > lines.index(next(line for line in lines if "**n·M·T**" in line))


def test_dav_training_budget_counts_the_warm_start(tmp_path):
    import json

    config = AlignConfig(iterations=3, sequences_per_iteration=8, search=SearchConfig(num_children=4, num_steps=6))
    history = [{"estep/oracle_calls": 100.0}, {"estep/oracle_calls": 120.0}, {"estep/oracle_calls": 90.0}]
    (tmp_path / "history.json").write_text(json.dumps(history))
    rows_per_iteration = 8 * (1 + 5 * 4) + config.inner_epochs * 8 * 6  # E-step + M-step rows
    (tmp_path / "config.json").write_text(json.dumps({"align_config": config.as_dict()}))
    cold = bm.dav_training_budget(tmp_path, 2)
    assert cold == {"train_oracle_calls": 220.0, "train_network_sequences": 2.0 * rows_per_iteration}
    warm = {"scored": 5000, "steps": 40, "batch_size": 64}
    (tmp_path / "config.json").write_text(json.dumps({"align_config": config.as_dict(), "warm_start": warm}))
    assert bm.dav_training_budget(tmp_path, 2) == {
        "train_oracle_calls": 220.0 + 5000,
        "train_network_sequences": 2.0 * rows_per_iteration + 40 * 64,
    }
