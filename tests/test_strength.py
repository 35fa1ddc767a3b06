"""Alignment strength (``dnadav design --strength``): the weights are the exact point of the segment from
the prior to the aligned model, s = 1 is the model bit for bit, and every bad value is one InputError."""

import json

import pytest
import torch

from dnadav.cli import main
from dnadav.errors import InputError
from dnadav.jobs.strength import with_strength
from dnadav.loaders import load_model


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


def test_the_weights_are_the_prior_plus_s_times_the_alignment():
    aligned, prior = load_model("hepg2_aligned"), load_model("dhs_prior")
    before = {k: v.clone() for k, v in aligned.state_dict().items()}
    assert with_strength(aligned, 1.0) is aligned
    scaled = with_strength(aligned, 0.25)
    for name, value in scaled.state_dict().items():
        start, end = prior.state_dict()[name], before[name]
        if value.is_floating_point():
            torch.testing.assert_close(value, start + 0.25 * (end - start), rtol=0, atol=1e-6)
    moved = [k for k, v in before.items() if v.is_floating_point() and not torch.equal(v, prior.state_dict()[k])]
    assert moved and not all(torch.equal(scaled.state_dict()[k], before[k]) for k in moved)
    assert all(torch.equal(aligned.state_dict()[k], v) for k, v in before.items())  # the model itself is untouched
    assert scaled.config_dict == aligned.config_dict and scaled.strength_prior_file is not None


def test_design_at_strength_one_is_the_model_and_below_it_is_recorded(tmp_path):
    plain, full, half = tmp_path / "plain.fa", tmp_path / "full.fa", tmp_path / "half.fa"
    base = ["design", "--n", "4", "--steps", "4", "--quiet"]
    assert main([*base, "--out", str(plain)]) == 0
    assert main([*base, "--strength", "1", "--out", str(full)]) == 0
    assert main([*base, "--strength", "0.5", "--out", str(half)]) == 0
    assert full.read_text() == plain.read_text()
    sequences = lambda path: path.read_text().splitlines()[1::2]  # noqa: E731
    assert sequences(half) != sequences(plain)
    manifest = json.loads((tmp_path / "half.fa.manifest.json").read_text())
    assert manifest["config"]["strength"] == 0.5 and "strength_prior" in manifest["checkpoints"]
    assert "strength_prior" not in json.loads((tmp_path / "full.fa.manifest.json").read_text())["checkpoints"]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--strength", "0"], "strength must be a number in (0, 1]"),
        (["--strength", "1.5"], "strength must be a number in (0, 1]"),
        (["--strength", "nan"], "strength must be a number in (0, 1]"),
        (["--model", "dhs", "--strength", "0.5"], "its config names none"),
        (["--prior", "dhs", "--strength", "1"], "prior is for strength < 1"),
        (["--prior", "{tmp}/missing", "--strength", "0.5"], "cannot load the prior"),
    ],
)
def test_design_refuses_bad_strengths_in_one_line(extra, message, tmp_path, capsys):
    extra = [a.replace("{tmp}", str(tmp_path)) for a in extra]
    assert main(["design", "--n", "2", "--steps", "2", "--out", str(tmp_path / "x.fa"), *extra]) == 2
    assert message in one_line_error(capsys)


def test_a_prior_of_another_architecture_is_refused(tmp_path):
    from dnadav.dna.backbone import ConvDenoiser, ConvDenoiserConfig
    from dnadav.dna.checkpoint import save_denoiser

    other = save_denoiser(tmp_path / "other", ConvDenoiser(ConvDenoiserConfig(channels=8, num_blocks=1, time_embedding_dim=8)),
                          {"schedule": "loglinear", "length": 200})  # fmt: skip
    with pytest.raises(InputError, match="has other weights than the model"):
        with_strength(load_model("hepg2_aligned"), 0.5, other)
