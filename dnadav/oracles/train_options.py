"""``oracle_train_config``: the options of ``dnadav oracle train`` / ``dnadav.train_oracle`` turned
into an ``OracleTrainConfig`` — the defaults that depend on the data (which chromosomes a role
trains on, the imported Gosai table) and the checks made before any work, in one place for both
front ends."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dnadav.errors import InputError

__all__ = ["oracle_train_config"]


def _chromosomes(data: str, role: str, given: str | Sequence[str] | None) -> tuple[tuple[str, ...] | None, bool]:
    """(training chromosomes, every train row?) for ``data`` and ``role``; ``given``: 'all', a
    comma-separated list or a sequence, or None for the role's default."""
    from dnadav.oracles.train import EVAL_CHROMOSOMES, REWARD_CHROMOSOMES, gosai_chromosomes

    if given == "all":
        return None, True
    if given:
        names = given.split(",") if isinstance(given, str) else list(given)
        chosen = tuple(c.strip() for c in names if c.strip())
        if data == "dhs" and {"chr1", "chr2"} & set(chosen):
            raise InputError("--chromosomes must not include chr1 (test) or chr2 (valid)")
        return chosen, False
    if data == "dhs":
        return (REWARD_CHROMOSOMES if role == "reward" else EVAL_CHROMOSOMES), False
    if data == "gosai":
        return gosai_chromosomes(role), False
    return None, False  # a file: the role's half of its train rows


def oracle_train_config(
    data: str | Path = "dhs",
    out: str | Path | None = None,
    *,
    force: bool = False,
    role: str = "reward",
    table: str | Path | None = None,
    labels: str | Path | None = None,
    target: str | Sequence[str] | None = None,
    task: str | None = None,
    chromosomes: str | Sequence[str] | None = None,
    valid_fraction: float = 0.1,
    test_fraction: float = 0.1,
    split_seed: int = 0,
    channels: int | None = None,
    **training,
):
    """The ``OracleTrainConfig`` of the given options (``training``: epochs, batch_size, lr, seed,
    max_minutes, max_rows, devices, accelerator, strategy). InputError before any work for an
    ``out`` that holds an oracle (unless ``force``), a missing file or a missing ``--target``."""
    from dnadav.oracles.cnn import ConvClassifierConfig
    from dnadav.oracles.train import OracleTrainConfig

    data = str(data)
    if role not in ("reward", "eval"):
        raise InputError(f"--role must be reward or eval; got {role!r}")
    if out is not None and (Path(out) / "model.pt").exists() and not force:
        raise InputError(f"{out}: already holds an oracle; pass --force to retrain")
    is_file = data not in ("dhs", "gosai")
    if is_file:
        for path, what in ((data, "data file"), (labels, "labels file")):
            if path is not None and not Path(path).is_file():
                raise InputError(f"{path}: no such {what} (--data takes dhs, gosai or a sequence file)")
        if not target:
            raise InputError(f"{data}: name the label column(s) to learn with --target COLUMN")
    elif labels is not None or task is not None:
        raise InputError(f"--labels and --task apply to --data FILE only; got --data {data}")
    if data == "gosai" and table is None:
        from dnadav.data.gosai import default_gosai_table

        table = default_gosai_table()
    chosen, every_row = _chromosomes(data, role, chromosomes)
    network = ConvClassifierConfig() if channels is None else ConvClassifierConfig(channels=channels)
    if isinstance(target, (list, tuple)):
        target = ",".join(target)
    return OracleTrainConfig(
        role=role,  # type: ignore[arg-type]
        data=data,
        table=None if table is None else str(table),
        labels=None if labels is None else str(labels),
        target=target,
        task=task,  # type: ignore[arg-type]
        chromosomes=chosen,
        all_train_rows=every_row and is_file,
        valid_fraction=valid_fraction,
        test_fraction=test_fraction,
        split_seed=split_seed,
        network=network,
        **training,
    )
