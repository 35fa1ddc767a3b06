"""The reference set designs are compared with: top real sequences of the target cell type.

DRAKES used the top 0.1% of measured MPRA activity. The DHS set has no activity measure, so the
reference is the cell-type-specific DHS sequences of the held-out **test** chromosome (chr1; 958
HepG2 rows), ranked by the *evaluation* oracle's reward, top ``size`` (500 by default).
``ranking="signal"`` ranks by the DHS ``total_signal`` instead. No oracle and not the prior saw chr1
in training. See docs/metrics.md for why.

With the Gosai MPRA table (``gosai_reference_sequences``) the reference is DRAKES's own: every row
whose measured HepG2 activity is strictly above the 99.9th percentile of the whole table
(``np.quantile``, linear interpolation; DRAKES ``oracle.cal_highexp_kmers``), in table order.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import torch

from dnadav.data.dhs import load_dhs
from dnadav.dna.tokens import strings_to_onehot

__all__ = [
    "Ranking",
    "dhs_classifier",
    "gosai_reference_sequences",
    "rank_by_oracle",
    "reference_for_oracle",
    "reference_sequences",
    "training_sequences",
    "validation_reference",
]

Ranking = Literal["eval", "signal"]


def rank_by_oracle(table, oracle, batch_size: int = 512) -> list[int]:
    """Row indices of ``table`` (a DHS table with a ``sequence`` column) by ``oracle.reward``, highest
    first (stable on ties). Stored in the evaluation cache by the oracle's weights and the sequences
    (``dnadav.evaluate.array_cache``): the held-out reference is ranked once, not on every call."""
    from dnadav.evaluate.array_cache import cached_array

    sequences = table["sequence"].tolist()

    def rank():
        onehot = strings_to_onehot(sequences)
        with torch.no_grad():
            score = torch.cat([oracle.reward(onehot[i : i + batch_size]).cpu() for i in range(0, len(onehot), batch_size)])
        return score.argsort(descending=True, stable=True).numpy()

    return cached_array("ranking", [oracle, sequences, batch_size], rank).tolist()


@lru_cache(maxsize=8)
def _reference(cell_type: str, ranking: Ranking, size: int, oracle: str) -> tuple[str, ...]:
    table = load_dhs("test", cell_type)
    if ranking == "signal":
        order = table["total_signal"].to_numpy().argsort(kind="stable")[::-1].tolist()
    elif ranking == "eval":
        from dnadav.oracles import load_oracle

        order = rank_by_oracle(table, load_oracle(oracle, role="eval"))
    else:
        raise ValueError(f"ranking must be 'eval' or 'signal'; got {ranking!r}")
    return tuple(table["sequence"].to_numpy()[order[:size]])


def reference_sequences(cell_type: str = "HepG2", ranking: Ranking = "eval", size: int = 500, oracle="hepg2") -> list[str]:
    """Top ``size`` held-out (test split, chr1) sequences specific to ``cell_type``, ranked by the
    evaluation oracle's reward (``oracle``: a shipped name, or an oracle object with ``reward``) or by
    DHS total signal."""
    if isinstance(oracle, str):
        return list(_reference(cell_type, ranking, size, oracle))
    if ranking != "eval":
        return list(_reference(cell_type, ranking, size, "hepg2"))
    table = load_dhs("test", cell_type)
    return table["sequence"].to_numpy()[rank_by_oracle(table, oracle)[:size]].tolist()


@lru_cache(maxsize=1)
def _training() -> tuple[str, ...]:
    return tuple(load_dhs("train")["sequence"])


def training_sequences() -> list[str]:
    """The DHS train split (all cell types, 39,254 sequences): the pool for the novelty check."""
    return list(_training())


def gosai_reference_sequences(table=None, target: str = "hepg2", percentile: float = 99.9) -> list[str]:
    """DRAKES's reference set: sequences of the Gosai table (a DataFrame from ``load_gosai``, a path,
    or None for the imported default) with ``target`` activity strictly above its ``percentile``-th
    percentile over all rows (99.9: 0.1% of the table, ~735 of 735k), in table order."""
    import numpy as np
    import pandas as pd

    from dnadav.data.gosai import load_gosai

    if not isinstance(table, pd.DataFrame):
        table = load_gosai(table)
    values = table[target].to_numpy()
    threshold = np.quantile(values, percentile / 100.0)
    return table["seq"].to_numpy()[values > threshold].tolist()


def dhs_classifier(oracle) -> bool:
    """True for a DHS cell-type classifier (its target a DHS cell type, with the shuffled background
    class): the oracles the DHS reference sets, real rows and validation split belong to."""
    from dnadav.data.dhs import CELL_TYPES

    return getattr(oracle, "target", None) in CELL_TYPES and "shuffled" in getattr(oracle, "class_names", ())


def reference_for_oracle(oracle, size: int = 500) -> list[str]:
    """The reference set for an evaluation oracle, read from what the oracle is: a DHS classifier ->
    the top ``size`` held-out DHS sequences of its target cell type (``reference_sequences``); a
    regressor trained on a Gosai table (its config names the table) -> DRAKES's top-0.1% set of its
    target. Anything else is an InputError: name the reference explicitly."""
    from dnadav.errors import InputError

    target = getattr(oracle, "target", None)
    if dhs_classifier(oracle):
        return reference_sequences(target, "eval", size, oracle)
    train_config = (getattr(oracle, "config_dict", None) or {}).get("train_config") or {}
    if train_config.get("data") == "gosai" and train_config.get("table"):
        return gosai_reference_sequences(train_config["table"], target or "hepg2")
    raise InputError(
        f"{getattr(oracle, 'checkpoint_file', 'oracle')}: no reference set is known for this oracle "
        f"(target {target!r}); it is neither a DHS cell-type classifier nor a regressor trained on a Gosai table: "
        "pass --reference FILE (reference=...), real sequences of your own to compare designs with"
    )


def validation_reference(oracle, size: int = 500) -> list[str]:
    """What an align run may select on: the top ``size`` DHS sequences of the **validation** split
    (chr2) specific to ``oracle``'s target cell type, ranked by DHS total signal. No oracle ranks them:
    a ranking by the run's reward oracle would make the reference resemble what the run optimises.
    The test split (chr1) and the evaluation oracle judge a run; they never choose within it."""
    from dnadav.errors import InputError

    target = getattr(oracle, "target", None)
    if not dhs_classifier(oracle):
        raise InputError(
            f"{getattr(oracle, 'checkpoint_file', 'oracle')}: a naturalness floor needs a DHS cell-type oracle "
            f"(its validation split is the reference) or --reference FILE; target {target!r} has none"
        )
    table = load_dhs("valid", target)
    order = table["total_signal"].to_numpy().argsort(kind="stable")[::-1][:size]
    return table["sequence"].to_numpy()[order].tolist()
