"""bench/align_recipes.py: the command line each recipe adds to the default, and the table read from a
finished run's history (the kept iteration's row, never the best-looking one)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import align_recipes as ar  # noqa: E402


def test_each_recipe_adds_only_its_flags_and_wraps_only_the_objective(tmp_path):
    default = ar.align_command("default", "hesc", tmp_path / "run", "cpu")
    kl4 = ar.align_command("kl4", "hesc", tmp_path / "run", "cpu")
    cap = ar.align_command("cap6", "k562", tmp_path / "run", "cpu", ["--sequences", "8"])
    assert default[1:4] == ["-m", "dnadav", "align"]
    assert default[default.index("--objective") + 1] == "hesc - max(hepg2,k562,gm12878)"
    assert kl4[: len(default)] == default and kl4[len(default) :] == ["--target-kl", "4", "--iterations", "16"]
    assert cap[cap.index("--objective") + 1] == "min(k562 - max(hepg2,gm12878,hesc), 6)"
    assert cap[-2:] == ["--sequences", "8"]


def test_the_table_reads_the_kept_iteration_not_the_last_or_the_best():
    history = [
        {"plain/eval_accessibility_accuracy": 0.5, "plain/eval_specificity": 0.4, "select/kmer3_validation": 0.97,
         "plain/kmer3_correlation": 0.97, "plain/levenshtein_diversity": 110.0, "select/kept_iteration": 1.0},
        {"plain/eval_accessibility_accuracy": 0.96, "plain/eval_specificity": 0.9, "select/kmer3_validation": 0.93,
         "plain/kmer3_correlation": 0.925, "plain/levenshtein_diversity": 109.0, "select/kept_iteration": 2.0},
        {"plain/eval_accessibility_accuracy": 0.99, "plain/eval_specificity": 0.99, "select/kmer3_validation": 0.85,
         "plain/kmer3_correlation": 0.95, "plain/levenshtein_diversity": 108.0, "select/kept_iteration": 2.0},
    ]  # fmt: skip
    assert ar.kept_row(history) == (2, history[1])
    table = ar.table(
        {("kl4", "hesc"): history, ("default", "k562"): history[:1]}, {("kl4", "hesc"): 1.8, ("default", "k562"): 0.5}
    )
    rows = table.splitlines()[2:]
    assert rows[0] == "| kl4 | hESC | 3 | 2 | 0.960 | 0.900 | 0.930 | 0.925 | 109.0 | yes | 1.8 |"
    assert rows[1] == "| default | K562 | 1 | 1 | 0.500 | 0.400 | 0.970 | 0.970 | 110.0 | no | 0.5 |"
    assert ar.kept_row([{"select/kept_iteration": 0.0}]) == (0, None)
