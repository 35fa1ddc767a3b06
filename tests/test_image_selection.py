"""The digits world's realism (an ensemble of classifiers, ``dnadav.image.metrics.realism``), the validation
classifiers an image align run may select on, and the selection itself (``dnadav.jobs.image_judge``)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

pytest.importorskip("diffusers")


class FixedLogits(torch.nn.Module):
    """A 'classifier' whose logits for image i are row i of ``logits``."""

    def __init__(self, logits: torch.Tensor):
        super().__init__()
        self.logits = logits

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.logits[: len(images)]


def test_realism_and_share_are_the_means_over_the_ensemble():
    from dnadav.image.metrics import confident_share, realism, share_read_as

    images = torch.zeros(4, 1, 16, 16)
    sure, unsure = torch.full((10,), -10.0), torch.zeros(10)
    sure3 = sure.clone()
    sure3[3] = 10.0  # p(3) ≈ 1
    first = FixedLogits(torch.stack([sure3, sure3, unsure, unsure]))  # 2 of 4 confident, 2 read as 3 (+ ties)
    second = FixedLogits(torch.stack([sure3, sure3, sure3, unsure]))  # 3 of 4 confident
    assert confident_share(images, first) == 0.5 and confident_share(images, second) == 0.75
    assert realism(images, [first, second]) == pytest.approx((0.5 + 0.75) / 2)
    # argmax of equal logits is class 0, so the unsure rows are not read as 3
    assert share_read_as(images, 3, [first, second]) == pytest.approx((2 / 4 + 3 / 4) / 2)


def test_the_shipped_ensembles_are_the_halves_and_seeds_their_cards_say():
    from dnadav.assets import asset_path
    from dnadav.image.rewards import load_digit_classifier, load_digit_ensemble

    evaluation, validation = load_digit_ensemble("eval"), load_digit_ensemble("valid")
    assert len(evaluation) == 5 and len(validation) == 4
    shipped = load_digit_classifier("eval").state_dict()
    assert all(torch.equal(v, evaluation[0].state_dict()[k]) for k, v in shipped.items())  # seed 0 is digits_eval
    for folder, half in (("digits_eval_seeds", "eval"), ("digits_valid", "reward")):
        configs = [json.loads((f / "config.json").read_text()) for f in sorted(asset_path("oracles", folder).glob("seed*"))]
        assert [(c["half"], c["seed"]) for c in configs] == [(half, s) for s in (1, 2, 3, 4)]
    reward = load_digit_classifier("reward").state_dict()  # the run's reward is never one of its judges
    assert not any(all(torch.equal(v, m.state_dict()[k]) for k, v in reward.items()) for m in validation)
    with pytest.raises(ValueError, match="role"):
        load_digit_ensemble("reward")


@pytest.fixture(scope="module")
def tiny_digits(tmp_path_factory) -> Path:
    """A random pixel-space pipeline of 1×16×16 images (the digits world's size), 100-step DDIM."""
    from tests.toys import tiny_pixel_pipeline

    return tiny_pixel_pipeline(tmp_path_factory.mktemp("tiny_digits"), 16)


def _run(pipeline: Path, out: Path, min_realism: str) -> tuple[list[dict], dict, dict]:
    from safetensors.torch import load_file

    from dnadav.jobs.image_align import ImageAlignOptions, align_images

    options = ImageAlignOptions(pipeline=str(pipeline), out=out, reward="digit=3", steps=3, images=4, children=2,
                                iterations=3, eval_images=8, lr=0.2, seed=0, min_realism=min_realism, target_kl=0,
                                quiet=True)  # fmt: skip
    align_images(options)
    history = json.loads((out / "history.json").read_text())
    weights = load_file(str(next((out / "unet").glob("*.safetensors"))))
    return history, json.loads((out / "aligned.json").read_text()).get("selection"), weights


def test_align_keeps_the_best_iteration_over_the_realism_floor(tiny_digits, tmp_path):
    # floor 0: every iteration is eligible, so nothing is undone and the path is the floor-1 run's path
    every, kept_best, best_weights = _run(tiny_digits, tmp_path / "every", "0")
    none, kept_last, last_weights = _run(tiny_digits, tmp_path / "none", "1.0")
    rewards = [r["plain/reward_mean"] for r in every]
    assert [r["plain/reward_mean"] for r in none] == rewards  # the same draws: selection changed nothing on the way
    assert all("select/realism_valid" in r and "plain/eval_realism" in r for r in every)
    best = max(range(3), key=lambda i: rewards[i]) + 1
    assert best != 3, "seed chosen so that the best iteration is not the last"
    assert kept_best["kept_iteration"] == best and kept_best["floor"] == 0.0
    assert kept_last["kept_iteration"] == 3 and "no iteration met" in kept_last["why"]
    assert any(not torch.equal(best_weights[k], last_weights[k]) for k in best_weights)  # the kept weights were saved


def test_the_reference_floor_is_the_baselines_validation_realism(tmp_path):
    from dnadav.jobs.image_align import ImageAlignOptions
    from dnadav.jobs.image_judge import realism_floor, selects

    options = ImageAlignOptions(reward="digit=3", out=tmp_path)
    select, floors = realism_floor(options, {"select/realism_valid": 0.75}, SimpleNamespace(real_diversity=3.0))
    assert floors == {"realism": 0.75, "diversity": 3.0} and selects(options)
    assert select({"select/realism_valid": 0.75, "select/diversity": 3.0, "plain/reward_mean": -1.0}) == -1.0
    assert select({"select/realism_valid": 0.74, "select/diversity": 4.0, "plain/reward_mean": 5.0}) is None
    assert select({"select/realism_valid": 0.90, "select/diversity": 2.9, "plain/reward_mean": 5.0}) is None  # too narrow
    assert not selects(ImageAlignOptions(reward="jpeg_compressibility", out=tmp_path))
    assert not selects(ImageAlignOptions(reward="digit=3", out=tmp_path, min_realism="off"))


def test_the_diversity_floor_is_the_real_digits_of_the_reward_half():
    """The judge's diversity floor: mean pairwise L2 of the real images of digit K in the reward half (the
    run's side of the data), computed here independently of the judge."""
    from dnadav.image.digits import digit_halves, load_digit_images
    from dnadav.jobs.image_judge import DigitsJudge

    images, labels = load_digit_images()
    reward_half = digit_halves(len(labels))[0]
    threes = images[reward_half[labels[reward_half] == 3]].flatten(1)
    distances = torch.cdist(threes, threes)
    expected = float(distances.sum() / (len(threes) * (len(threes) - 1)))
    assert DigitsJudge(3).real_diversity == pytest.approx(expected, rel=1e-5)
    assert DigitsJudge(3).real_diversity == pytest.approx(3.08, abs=0.005)
