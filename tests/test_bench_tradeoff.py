"""bench/tradeoff_curves.py: a reused seed table has exactly its out-of-date points recomputed — the curves
added since it was written, and the curves of the shipped model when that model changed (its sha256)."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import bench_methods as bm  # noqa: E402
import tradeoff_curves as tc  # noqa: E402

PROFILE = SimpleNamespace(children=4)


def fake_table(curves: set[str], figure: float, sha: str | None) -> pd.DataFrame:
    rows = [{"curve": c, "knob": "k", "value": 1.0, "name": f"{c} k=1", "pred_activity_median": figure} for c in sorted(curves)]
    table = pd.DataFrame(rows + [{"curve": bm.REAL, "knob": "", "value": float("nan"), "name": bm.REAL}])
    return table if sha is None else table.assign(shipped_sha256=sha)


def refresh(
    table: pd.DataFrame, sha: str, monkeypatch, without_recipe: bool = False
) -> tuple[pd.DataFrame | None, list[set[str]]]:
    asked = []

    def seed_table(world, knobs, seed, recipe_run, only=None):
        asked.append(set(only))
        return fake_table(only, 2.0, sha)

    monkeypatch.setattr(tc, "seed_table", seed_table)
    monkeypatch.setattr(tc, "shipped_sha", lambda world: sha)
    return tc.refreshed(table, SimpleNamespace(profile=PROFILE), None, 0, None, without_recipe), asked


def test_a_table_of_the_current_model_is_reused_as_it_is(monkeypatch):
    assert refresh(fake_table(tc.curve_names(PROFILE), 1.0, "a"), "a", monkeypatch) == (None, [])


def test_a_new_shipped_model_redoes_its_curves_and_only_them(monkeypatch):
    redone, asked = refresh(fake_table(tc.curve_names(PROFILE), 1.0, "old"), "new", monkeypatch)
    assert asked == [tc.shipped_curves(PROFILE)] and len(tc.shipped_curves(PROFILE)) == 3
    figures = redone.set_index("curve")["pred_activity_median"]
    assert all(figures[c] == (2.0 if c in tc.shipped_curves(PROFILE) else 1.0) for c in tc.curve_names(PROFILE))
    assert (redone["curve"] == bm.REAL).sum() == 1 and set(redone["shipped_sha256"]) == {"new"}


def test_a_table_without_the_sha_or_with_a_curve_missing_redoes_those(monkeypatch):
    assert refresh(fake_table(tc.curve_names(PROFILE), 1.0, None), "a", monkeypatch)[1] == [tc.shipped_curves(PROFILE)]
    missing = tc.curve_names(PROFILE) - {"VMPO"}
    assert refresh(fake_table(missing, 1.0, "a"), "a", monkeypatch)[1] == [{"VMPO"}]


def test_without_the_recipe_its_stale_points_are_dropped_and_a_later_call_adds_them(monkeypatch):
    redone, asked = refresh(fake_table(tc.curve_names(PROFILE), 1.0, "old"), "new", monkeypatch, without_recipe=True)
    assert asked == [tc.shipped_curves(PROFILE) - {tc.RECIPE}]
    assert tc.RECIPE not in set(redone["curve"])  # the old model's recipe points are not kept beside the new model's
    assert set(redone["curve"]) == tc.curve_names(PROFILE) - {tc.RECIPE} | {bm.REAL}
    assert refresh(redone, "new", monkeypatch)[1] == [{tc.RECIPE}]
    assert refresh(redone, "new", monkeypatch, without_recipe=True)[0] is None
