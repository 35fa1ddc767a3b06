"""The one home of the defaults the CLI, the Python API and the docs share (glossary names from
docs/concepts.md). ``dnadav.dna.config.AlignConfig`` holds the same numbers for a DAV run
(tests/test_api.py checks that they agree).
"""

from __future__ import annotations

__all__ = [
    "ALIGN_ITERATIONS",
    "APP_LOG_LIK_ROWS",
    "APP_LOG_LIK_TIMES",
    "DESIGN_BLOCK",
    "DESIGN_STEPS",
    "NUM_CHILDREN",
    "ORACLE",
    "REWARD_TEMPERATURE",
    "SEARCH_STEPS",
]

ORACLE = "hepg2"  # the shipped oracle pair designs are made for by default
NUM_CHILDREN = 16  # M: candidates per sequence per reverse step in the E-step
REWARD_TEMPERATURE = 0.5  # α: target p*(x) ∝ p_pre(x) exp(r(x)/α)
SEARCH_STEPS = 25  # T of the E-step during `dnadav align`
ALIGN_ITERATIONS = 3  # K EM iterations of `dnadav align`
DESIGN_STEPS = 50  # T when `dnadav design` samples (plain or with the search)
APP_LOG_LIK_TIMES = "count"  # App-Log-Lik's ELBO rows at stratified masked counts (docs/concepts.md)
APP_LOG_LIK_ROWS = 2  # network rows per sequence: 2 masked counts have 0.39x the sd of 4 stratified times (docs/benchmarks.md)
DESIGN_BLOCK = 64  # sequences per seeded random stream in design; always sampled whole, so sequence i depends only on (seed, i)
