"""Held-out splits of a user's sequence file, one rule for ``pretrain`` and ``oracle train``.

Whichever the file holds, first found wins (columns are matched in any case; FASTA headers carry
them as ``key=value``):

1. a **split** column (``split``, ``set`` or ``fold``) with ``train`` / ``valid`` / ``test`` per row
   (``validation``, ``val``, ``dev`` read as valid): used as written;
2. a **chromosome** column (``chrom``, ``chromosome``, ``chr`` or ``seqnames``): whole chromosomes are
   held out, so near-identical neighbouring sequences never straddle train and test. In natural order
   (chr1, chr2, …, chr22, chrX, chrY, then other names), the first chromosome is **test** and the
   second **valid** — chr1 and chr2 for a human file, as the shipped DHS set;
3. neither: a **seeded random** split, ``test_fraction`` and ``valid_fraction`` of the rows (10 % each
   by default), stratified by ``strata`` when given (an oracle's class, or quantile bins of its target)
   so that every held-out part has the label mix of the whole. The seed is the split's own
   (``split_seed``), not the training seed: oracles trained with different seeds see the same split.

``reward_eval_halves`` cuts the train rows into the two disjoint halves an oracle pair trains on
(``--role reward`` / ``--role eval``): by whole chromosomes when the file has them (natural order,
cut where half of the train rows is reached), else a seeded stratified half of the rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from dnadav.data.tables import SequenceTable
from dnadav.errors import InputError, shown

__all__ = [
    "CHROMOSOME_COLUMNS",
    "SPLIT_COLUMNS",
    "HeldOutSplit",
    "chromosome_order",
    "find_column",
    "held_out_split",
    "quantile_strata",
    "reward_eval_halves",
]

SPLIT_COLUMNS = ("split", "set", "fold")
CHROMOSOME_COLUMNS = ("chrom", "chromosome", "chr", "seqnames")
_SPLIT_NAMES = {
    **{name: "train" for name in ("train", "training")},
    **{name: "valid" for name in ("valid", "validation", "val", "dev")},
    "test": "test",
}


@dataclass(frozen=True)
class HeldOutSplit:
    """``split [N]`` ("train" / "valid" / "test" per row of the table), ``chromosomes [N]`` (None when
    the file has no chromosome column) and ``rule``: one sentence that says how the split was made."""

    split: np.ndarray
    rule: str
    chromosomes: np.ndarray | None = None

    def rows(self, part: str) -> np.ndarray:
        """Row indices of ``part`` ("train", "valid" or "test")."""
        return np.flatnonzero(self.split == part)


def find_column(table: SequenceTable, names: tuple[str, ...]) -> tuple[str, np.ndarray] | None:
    """(name, text [N]) of the first column of ``table`` named one of ``names`` (any case), numbers
    written as text without a trailing ``.0`` (a chromosome column of 1, 2, 3); None when absent."""
    columns = {**{k: ("value", k) for k in table.values}, **{k: ("label", k) for k in table.labels}}
    lower = {k.lower(): k for k in columns}
    for name in names:
        if name in lower:
            key = lower[name]
            if key in table.labels:
                return key, np.array([str(v).strip() for v in table.labels[key]], dtype=object)
            numbers = table.values[key]
            return key, np.array([f"{v:g}" for v in numbers], dtype=object)
    return None


def chromosome_order(names) -> list[str]:
    """Distinct chromosome names in natural order: chr1 < chr2 < chr10 < chrX < chrY < chrM < others."""

    def key(name: str):
        bare = re.sub(r"^chr", "", str(name), flags=re.IGNORECASE)
        if bare.isdigit():
            return (0, int(bare), "")
        rank = {"X": 1, "Y": 2, "M": 3, "MT": 3}.get(bare.upper())
        return (1, rank, "") if rank is not None else (2, 0, bare)

    return sorted({str(n) for n in names}, key=key)


def quantile_strata(values: np.ndarray, bins: int = 5) -> np.ndarray:
    """``values [N]`` -> quantile-bin index ``[N]`` (0..bins-1): strata for a regression target."""
    edges = np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1])
    return np.searchsorted(edges, values, side="right")


def _random_split(n: int, valid_fraction: float, test_fraction: float, seed: int, strata) -> np.ndarray:
    """Per stratum (or over all rows), a seeded permutation: the first ``test_fraction`` is test,
    the next ``valid_fraction`` valid, the rest train (rounded per stratum, at least one train row)."""
    split = np.full(n, "train", dtype=object)
    rng = np.random.default_rng(seed)
    groups = [np.arange(n)] if strata is None else [np.flatnonzero(strata == s) for s in np.unique(strata)]
    for rows in groups:
        order = rng.permutation(rows)
        n_test = min(int(round(test_fraction * len(order))), max(0, len(order) - 1))
        n_valid = min(int(round(valid_fraction * len(order))), max(0, len(order) - 1 - n_test))
        split[order[:n_test]] = "test"
        split[order[n_test : n_test + n_valid]] = "valid"
    return split


def held_out_split(
    table: SequenceTable,
    *,
    valid_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 0,
    strata: np.ndarray | None = None,
) -> HeldOutSplit:
    """The held-out split of ``table`` by the module's rule (split column, chromosomes, or a seeded,
    optionally stratified, random split). InputError naming the file and record for a split value
    that is not train / valid / test, or a split that leaves no training row."""
    if not (0 <= valid_fraction < 1 and 0 <= test_fraction < 1 and valid_fraction + test_fraction < 1):
        raise InputError(f"held-out fractions must be ≥ 0 and sum below 1; got valid {valid_fraction}, test {test_fraction}")
    chromosome_column = find_column(table, CHROMOSOME_COLUMNS)
    chromosomes = chromosome_column[1] if chromosome_column else None
    found = find_column(table, SPLIT_COLUMNS)
    if found is not None:
        column, raw = found
        split = np.empty(len(raw), dtype=object)
        for number, value in enumerate(raw):
            name = _SPLIT_NAMES.get(value.lower())
            if name is None:
                raise InputError(
                    f"{table.source}: record {table.ids[number]!r} (#{number + 1}): {column} {shown(value)} is not "
                    "train, valid or test"
                )
            split[number] = name
        rule = f"the file's {column!r} column (train / valid / test as written)"
    elif chromosomes is not None:
        order = chromosome_order(chromosomes)
        if len(order) < 3:
            raise InputError(
                f"{table.source}: {chromosome_column[0]!r} names {len(order)} chromosome(s); holding out whole chromosomes "
                "needs at least 3 (test, valid, train): add a split column (train / valid / test) or drop the column"
            )
        test, valid = order[0], order[1]
        split = np.where(chromosomes == test, "test", np.where(chromosomes == valid, "valid", "train")).astype(object)
        rule = f"whole chromosomes from the {chromosome_column[0]!r} column: test = {test}, valid = {valid}, train = the rest"
    else:
        split = _random_split(len(table), valid_fraction, test_fraction, seed, strata)
        kind = "stratified random" if strata is not None else "random"
        rule = (
            f"a seeded {kind} split (no split or chromosome column): test {test_fraction:.0%}, valid {valid_fraction:.0%}"
            f" of the rows, split seed {seed}"
        )
    if not (split == "train").any():
        raise InputError(f"{table.source}: the held-out split ({rule}) leaves no training row")
    return HeldOutSplit(split=split, rule=rule, chromosomes=chromosomes)


def reward_eval_halves(
    held_out: HeldOutSplit, seed: int = 0, strata: np.ndarray | None = None
) -> tuple[dict[str, np.ndarray], str]:
    """``({"reward": rows, "eval": rows}, rule)``: the train rows cut into two disjoint halves —
    whole chromosomes (natural order, cut where half of the train rows is reached) when the split
    knows them, else a seeded half of the rows stratified by ``strata``."""
    train = held_out.rows("train")
    if held_out.chromosomes is not None and len(set(held_out.chromosomes[train])) >= 2:
        names = held_out.chromosomes[train]
        order = chromosome_order(names)
        counts = np.array([(names == c).sum() for c in order])
        cut = int(np.clip(np.searchsorted(np.cumsum(counts), counts.sum() / 2), 0, len(order) - 2)) + 1
        first = set(order[:cut])
        in_first = np.array([c in first for c in names])
        halves = {"reward": train[in_first], "eval": train[~in_first]}
        rule = f"whole chromosomes, reward {_span(order[:cut])}, eval {_span(order[cut:])}"
        return halves, rule
    rng = np.random.default_rng(seed + 1)  # another stream than the held-out split's
    groups = [train] if strata is None else [train[strata[train] == s] for s in np.unique(strata[train])]
    reward = np.concatenate([rng.permutation(rows)[: (len(rows) + 1) // 2] for rows in groups]) if len(train) else train
    chosen = np.isin(train, reward)
    halves = {"reward": train[chosen], "eval": train[~chosen]}
    return halves, f"a seeded {'stratified ' if strata is not None else ''}random half of the rows each (split seed {seed})"


def _span(chromosomes: list[str]) -> str:
    if len(chromosomes) == 1:
        return chromosomes[0]
    return f"{chromosomes[0]}–{chromosomes[-1]} ({len(chromosomes)} chromosomes in natural order)"
