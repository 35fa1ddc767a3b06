"""What an image align run logs about its samples and what it may select on, and the note it leaves.

In the digits world (``DigitsJudge``) the log holds the evaluation classifiers' figures (read by people,
never by the run) and, under ``select/``, the realism of the plain samples under the *validation*
classifiers (``dnadav.image.rewards.load_digit_ensemble("valid")``: four trained on the reward half with
other seeds) and their diversity. The floors: the reference model's own validation realism
(``--min-realism``, default ``reference``, measured by the run on its baseline samples) and the diversity
of the real images of the target digit in the reward half; eligible iterations score by their plain
reward mean, and the core keeps the best one (``dnadav.core.em.DAVModule``'s ``select``), undoing
rejected ones (backtracking)."""

from __future__ import annotations

import math

import torch

from dnadav.image.rewards import target_digit

__all__ = ["DigitsJudge", "check_min_realism", "realism_floor", "selection_note", "selects"]


class DigitsJudge:
    """The digits world's per-iteration figures for target ``digit``: images ``[N, 1, 16, 16]`` in [0, 1]."""

    def __init__(self, digit: int):
        from dnadav.image.digits import digit_halves, load_digit_images
        from dnadav.image.metrics import mean_pairwise_l2
        from dnadav.image.rewards import load_digit_ensemble

        self.digit = digit
        self.train_images, labels = load_digit_images()
        self.eval_ensemble = load_digit_ensemble("eval")
        self.eval_classifier = self.eval_ensemble[0]  # digits_eval: the ensemble's seed 0, loaded and run once
        self.valid_ensemble = load_digit_ensemble("valid")
        reward_half, _ = digit_halves(len(labels))
        real = reward_half[labels[reward_half] == digit]
        self.real_diversity = mean_pairwise_l2(self.train_images[real])  # real digit-K images of the reward half

    def plain(self, images: torch.Tensor, searched: torch.Tensor | None = None) -> dict[str, float]:
        """``plain/…``: the evaluation classifiers' figures (logged, never read by the run); ``select/…``:
        realism and share of the digit under the validation classifiers (what selection may read)."""
        from dnadav.image.metrics import digit_report, ensemble_reading

        report = digit_report(images, self.digit, self.eval_classifier, self.train_images, searched, self.eval_ensemble)
        share, realism = ensemble_reading(images, self.digit, self.valid_ensemble)
        return {
            **{f"plain/{k}": v for k, v in report.items()},
            "select/realism_valid": realism,
            "select/share_digit_valid": share,
            "select/diversity": report["diversity_l2"],
        }

    def searched(self, images: torch.Tensor) -> dict[str, float]:
        """``searched/…``: the evaluation classifier's figures of the E-step's own images."""
        from dnadav.image.metrics import digit_report

        report = digit_report(images, self.digit, self.eval_classifier, self.train_images)
        return {f"searched/{k}": v for k, v in report.items()}


def check_min_realism(value: str, reward: str | None) -> None:
    """InputError (one line) unless ``value`` is ``reference``, ``off`` or a share in [0, 1] given with a
    digits reward (no other world has a realism measure)."""
    from dnadav.errors import InputError

    if value in ("reference", "off"):
        return
    try:
        floor = float(value)
    except ValueError:
        floor = math.nan
    if not 0 <= floor <= 1:
        raise InputError(f"--min-realism must be 'reference', 'off' or a share in [0, 1]; got {value!r}")
    if target_digit(reward) is None:
        raise InputError("--min-realism needs the digits world (--reward digit=K): no other has a realism measure")


def selects(options) -> bool:
    """Whether the run keeps its best eligible iteration (the digits world's realism floor) or its last."""
    return options.min_realism != "off" and target_digit(options.reward) is not None


def realism_floor(options, baseline: dict[str, float], judge: DigitsJudge):
    """The selection rule of ``min_realism``: an iteration is eligible when its plain samples' realism
    under the validation classifiers (``select/realism_valid``) is ≥ the floor (``'reference'``: the
    reference model's own, from ``baseline``) and their diversity (``select/diversity``, mean pairwise L2)
    is ≥ that of the real digit-K images of the reward half (``judge.real_diversity``: a saturated reward
    otherwise keeps narrowing the samples; docs/image.md); eligible ones score by their plain reward mean
    (the run's reward classifier). The evaluation classifiers are never read. Returns (rule, floors)."""
    floor = baseline["select/realism_valid"] if options.min_realism == "reference" else float(options.min_realism)
    floors = {"realism": floor, "diversity": judge.real_diversity}

    def select(record: dict[str, float]) -> float | None:
        eligible = (
            record.get("select/realism_valid", -1.0) >= floor and record.get("select/diversity", -1.0) >= floors["diversity"]
        )
        return record["plain/reward_mean"] if eligible else None

    return select, floors


def selection_note(module, floors: dict[str, float], min_realism: str) -> dict:
    """What the run kept and why (``aligned.json``'s ``selection``)."""
    last, best, floor = len(module.history), module.best, floors["realism"]
    source = "the reference model's own" if min_realism == "reference" else "given"
    rule = (f"validation realism ≥ {floor:.3f} ({source}) and diversity ≥ {floors['diversity']:.3f} (real digits of the "
            "reward half)")  # fmt: skip
    note = {"of_iterations": last, "floor": floor, "diversity_floor": floors["diversity"]}
    if best.iteration is None:
        return {"kept_iteration": last, **note, "why": f"no iteration met {rule}; the last is kept"}
    return {
        "kept_iteration": best.iteration,
        **note,
        "why": f"highest plain reward mean ({best.score:.3f}) among iterations with {rule}",
    }
