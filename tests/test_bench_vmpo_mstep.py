"""bench/vmpo_mstep.py's table assembly on a hand-made per-seed frame: paired differences by seed,
the stated verdict rule, and the docs section (no model is run)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import vmpo_mstep as vm  # noqa: E402

VMPO = "VMPO particles (selection)"


def per_seed(accuracy_gain: list[float], kmer_gain: float = 0.0) -> pd.DataFrame:
    rows = []
    for seed, gain in enumerate(accuracy_gain):
        base = {c: 0.5 for c in vm.METRICS} | {"seed": seed, "estep_seconds": 10.0, "estep_reward_median": 1.0}
        cost = {
            "lr": 1e-3,
            "gradient_steps": 16,
            "mstep_seconds": 20.0,
            "loss_first": 1.0,
            "loss_last": 0.5,
            "grad_norm_median": 2.0,
            "clipped_fraction": 1.0,
        }
        rows.append(
            {"method": vm.PRIOR, **base, "lr": float("nan"), "gradient_steps": float("nan"), "mstep_seconds": float("nan")}
        )
        rows.append({"method": vm.BASELINE, **base, **cost})
        better = {"plain/eval_accessibility_accuracy": 0.5 + gain, "plain/kmer3_correlation": 0.5 + kmer_gain}
        rows.append({"method": VMPO, **base, **cost, **better})
    return pd.DataFrame(rows)


def test_paired_differences_are_per_seed_and_count_the_seeds_where_the_method_is_higher():
    d = vm.paired_differences(per_seed([0.1, 0.3, -0.1]), VMPO)
    acc = d.loc["plain/eval_accessibility_accuracy"]
    assert acc["mean"] == pytest.approx(0.1)
    assert acc["sd"] == pytest.approx(0.2)
    assert (acc["higher"], acc["seeds"]) == (2, 3)


@pytest.mark.parametrize(
    ("gains", "kmer", "expected"),
    [
        ([0.1, 0.12, 0.11], 0.0, "yes"),
        ([0.1, 0.12, 0.11], -0.05, "not at 3 seeds"),  # a lower test 3-mer keeps it from beating
        ([0.3, 0.01, 0.02], 0.0, "not at 3 seeds"),  # mean gain below its paired sd
        ([0.1, -0.2, 0.05], 0.0, "no (at 3 seeds)"),  # mean ≤ 0
        ([0.1], 0.0, "not at 1 seed"),
    ],
)
def test_verdict_follows_the_stated_rule(gains, kmer, expected):
    assert vm.verdict(vm.paired_differences(per_seed(gains, kmer), VMPO)) == expected


def test_the_section_states_the_table_the_verdict_and_the_command():
    frame = per_seed([0.1, 0.12])
    args = argparse.Namespace(
        seeds=[0, 1, 2], n_seq=64, children=4, steps=16, alpha=0.5, epochs=2, batch_size=128, lr=1e-3,
        vmpo_lrs=[1e-3], eval=128, eval_steps=16, uniform=False,
    )  # fmt: skip
    scale = pd.Series(
        {"children/loss": 60.0, "children/grad_norm": 2.0, "vmpo-selection/loss": 0.2, "vmpo-selection/grad_norm": 0.4}
    )
    text = vm.body(args, vm.Setup(epochs=2), frame, scale, [], {VMPO: vm.paired_differences(frame, VMPO)}, 1e-3, 3.0)
    assert "| children (forward KL) | 0.001 | 0.5 ± 0 |" in text
    assert "2 of the 3 asked for" in text and "(16 gradient steps)" in text
    assert "**yes**" in text  # higher at 2 of 2 seeds, mean gain 0.11 > paired sd 0.014, 3-mer not lower
    assert f"{VMPO}: ATAC-Acc (eval) +0.11, reward median +0, 3-mer (test ref.) +0" in text  # change from the prior
    assert "--epochs 2" in text and "--eval 128 --eval-steps 16" in text
