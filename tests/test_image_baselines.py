"""DDPO and VMPO on an image pipeline folder (``dnadav.baselines.image_finetune``): a tiny random
pixel-space pipeline is fine-tuned for two rounds, saved, and the saved folder samples through
``dnadav image sample``; the reward calls recorded are the config's budget, counted by hand."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("diffusers")

from dnadav.baselines.ddpo import DdpoConfig  # noqa: E402
from dnadav.baselines.image_finetune import finetune_pipeline  # noqa: E402
from dnadav.baselines.vmpo import VmpoConfig  # noqa: E402
from dnadav.errors import InputError  # noqa: E402

T, B, ROUNDS = 2, 4, 2


@pytest.fixture(scope="module")
def tiny_pixel(tmp_path_factory) -> Path:
    """A random pixel-space pipeline (1×8×8 images, 100-step DDIM scheduler) saved to a folder."""
    from tests.toys import tiny_pixel_pipeline

    return tiny_pixel_pipeline(tmp_path_factory.mktemp("tiny_pixel"), 8)


@pytest.mark.parametrize(
    "method, config, calls_per_path",
    [
        ("ddpo", DdpoConfig(num_steps=T, batch_size=B, iterations=ROUNDS, lr=1e-2), 1),  # the final image only
        ("vmpo", VmpoConfig(num_steps=T, batch_size=B, iterations=ROUNDS, lr=1e-2), T + 1),  # every state + the end
    ],
)
def test_finetuned_pipeline_is_saved_moved_and_samples(tiny_pixel, tmp_path, method, config, calls_per_path):
    from dnadav.image.pipeline import load_pipeline
    from dnadav.jobs.image_sample import ImageSampleOptions, sample_images

    out = tmp_path / method
    result = finetune_pipeline(tiny_pixel, "jpeg_compressibility", method, config, out, seed=1)
    assert len(result.history) == ROUNDS
    assert result.history[-1]["oracle_calls"] == result.budget["train_oracle_calls"] == ROUNDS * B * calls_per_path
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"][method]["seed"] == 1 and manifest["budget"] == result.budget
    assert json.loads((out / "aligned.json").read_text())["base"] == str(tiny_pixel.resolve())

    before, after = load_pipeline(tiny_pixel).unet.state_dict(), load_pipeline(out).unet.state_dict()
    assert before.keys() == after.keys()
    assert any(not torch.equal(before[k], after[k]) for k in before), "the saved UNet is the reference's"

    summary = sample_images(ImageSampleOptions(pipeline=str(out), n=3, steps=T, out=tmp_path / "samples"))
    assert summary["n"] == 3 and len(list((tmp_path / "samples" / "images").glob("*.png"))) == 3

    with pytest.raises(InputError, match="already holds"):
        finetune_pipeline(tiny_pixel, "jpeg_compressibility", method, config, out)


def test_a_config_of_the_other_method_is_refused(tiny_pixel, tmp_path):
    with pytest.raises(InputError, match="DdpoConfig"):
        finetune_pipeline(tiny_pixel, "jpeg_compressibility", "ddpo", VmpoConfig(num_steps=T), tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_importing_dnadav_and_the_entry_point_loads_no_diffusers():
    code = "import sys, dnadav, dnadav.baselines.image_finetune; assert 'diffusers' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
