"""One case per class of bad input (issue 23, docs/input-errors.md): each is refused with the package's
own one-line ``InputError`` naming the file / option / record and the problem — no traceback, hang,
large allocation or silently written nan. ``tests/test_fuzz_inputs.py`` fuzzes the same readers."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
import torch

from dnadav.assets import asset_root
from dnadav.errors import InputError


def _one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message and len(message) < 600, message
    return message


def _model_copy(tmp_path: Path, **config_changes) -> Path:
    """The shipped prior's folder copied, its config.json changed at the top level or in ``backbone``."""
    folder = tmp_path / "model"
    folder.mkdir()
    prior = asset_root("models") / "dhs_prior"
    shutil.copy(prior / "model.pt", folder / "model.pt")
    config = json.loads((prior / "config.json").read_text())
    for key, value in config_changes.items():
        if key in config["backbone"]:
            config["backbone"][key] = value
        else:
            config[key] = value
    (folder / "config.json").write_text(json.dumps(config))
    return folder


# --- paths ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", ["folder", "missing"])
def test_a_model_path_that_is_an_empty_folder_or_missing_is_one_line(tmp_path, make):
    from dnadav.loaders import load_model

    path = tmp_path / "x.ckpt"
    if make == "folder":
        path.mkdir()
    with pytest.raises(InputError) as error:
        load_model(path)
    expected = "a folder without model.pt" if make == "folder" else "no such model file or folder"
    assert str(path) in _one_line(error) and expected in str(error.value)


def test_image_out_naming_a_file_is_refused_and_the_file_kept(tmp_path):
    from dnadav.jobs.image_sample import ImageSampleOptions, sample_images

    out = tmp_path / "existing"
    out.write_text("keep me\n")
    with pytest.raises(InputError, match="is a file"):
        sample_images(ImageSampleOptions(out=out, n=1, steps=1))
    assert out.read_text() == "keep me\n"


def test_a_failed_image_run_leaves_no_out_folder(tmp_path):
    from dnadav.jobs.image_sample import ImageSampleOptions, created_folder, sample_images

    broken = tmp_path / "pipeline"
    broken.mkdir()
    (broken / "model_index.json").write_text("<<not json>>")
    out = tmp_path / "run"
    with pytest.raises(InputError, match="model_index.json: not valid JSON"):
        sample_images(ImageSampleOptions(pipeline=str(broken), out=out, n=1, steps=1))
    assert not out.exists()
    with pytest.raises(RuntimeError), created_folder(out):  # a failure after the folder was made
        (out / "half.png").write_bytes(b"x")
        raise RuntimeError("boom")
    assert not out.exists()
    out.mkdir()
    with pytest.raises(RuntimeError), created_folder(out):  # a folder that was there already is kept
        raise RuntimeError("boom")
    assert out.is_dir()


def test_image_align_checks_its_inputs_before_making_its_folder(tmp_path, monkeypatch):
    from dnadav.jobs import image_align
    from dnadav.jobs.image_align import ImageAlignOptions, align_images

    broken = tmp_path / "pipeline"
    broken.mkdir()
    (broken / "model_index.json").write_text("<<not json>>")
    out = tmp_path / "run"
    with pytest.raises(InputError, match="model_index.json: not valid JSON"):
        align_images(ImageAlignOptions(pipeline=str(broken), out=out, reward="digit=3", steps=1, images=2))
    assert not out.exists()
    existing = tmp_path / "a-file"
    existing.write_text("keep me\n")
    with pytest.raises(InputError, match="is a file"):
        align_images(ImageAlignOptions(out=existing, reward="digit=3", steps=1, images=2))
    assert existing.read_text() == "keep me\n"

    def fail(*args, **kwargs):
        (out / "checkpoints").mkdir()
        raise RuntimeError("the run failed")

    monkeypatch.setattr(image_align, "_fit_and_save", fail)
    with pytest.raises(RuntimeError, match="the run failed"):
        align_images(ImageAlignOptions(out=out, reward="digit=3", steps=1, images=2))
    assert not out.exists()  # a failed run removes the folder it made


# --- sizes taken on trust ------------------------------------------------------------------------


@pytest.mark.parametrize("channels", [10**6, 10**7])
def test_a_config_asking_for_a_huge_width_is_refused_naming_the_limit(tmp_path, channels):
    from dnadav.loaders import load_model

    with pytest.raises(InputError) as error:
        load_model(_model_copy(tmp_path, channels=channels))
    assert f"channels = {channels} is outside 1..65536" in _one_line(error)


def test_a_config_within_the_limits_but_not_the_weights_is_refused_before_allocating(tmp_path):
    from dnadav.loaders import load_model

    start = time.perf_counter()
    with pytest.raises(InputError) as error:  # 60000 channels: ~130 GB of float32 if it were built
        load_model(_model_copy(tmp_path, channels=60_000))
    assert "does not fit the architecture" in _one_line(error)
    assert time.perf_counter() - start < 20


def test_a_homopolymer_cap_past_the_length_builds_no_giant_automaton():
    from dnadav.constraints import spec_from_options

    free = spec_from_options().compile(200).automaton.transitions.shape
    assert spec_from_options(max_homopolymer="1000").compile(200).automaton.transitions.shape == free  # a cap past 200 bp
    start = time.perf_counter()
    capped = spec_from_options(max_homopolymer="1000000000").compile(200)
    assert time.perf_counter() - start < 10
    assert capped.automaton.transitions.shape == free


def test_a_yaml_alias_bomb_in_a_field_is_described_without_expanding_it(tmp_path):
    from dnadav.constraints import load_constraints

    text = "template:\n  - &l0 [x,x,x,x,x,x,x,x,x,x]\n"
    for level in range(1, 9):  # 10^9 leaves if expanded
        text += f"  - &l{level} [" + ",".join([f"*l{level - 1}"] * 10) + "]\n"
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(text)
    start = time.perf_counter()
    with pytest.raises(InputError) as error:
        load_constraints(bomb)
    assert "field template: expected a DNA string" in _one_line(error)
    assert time.perf_counter() - start < 10


def test_an_objective_nested_5000_deep_is_refused_with_the_depth_limit():
    from dnadav.objectives.grammar import MAX_DEPTH, parse_objective

    with pytest.raises(InputError) as error:
        parse_objective("(" * 5000 + "hepg2" + ")" * 5000)
    assert f"nested deeper than {MAX_DEPTH} levels" in _one_line(error)
    assert parse_objective("(" * MAX_DEPTH + "hepg2" + ")" * MAX_DEPTH).names == ("hepg2",)


# --- encodings and numbers -----------------------------------------------------------------------


def test_a_constraints_file_that_is_not_utf8_is_named(tmp_path):
    from dnadav.constraints import load_constraints

    path = tmp_path / "latin1.yaml"
    path.write_bytes("prefix: ACGT # caf\xe9\n".encode("latin-1"))
    with pytest.raises(InputError, match="latin1.yaml: constraints file is not UTF-8"):
        load_constraints(path)


def test_an_infinite_homopolymer_cap_is_refused(tmp_path):
    from dnadav.constraints import load_constraints

    path = tmp_path / "huge.json"
    path.write_text('{"max_homopolymer": 1e999}')
    with pytest.raises(InputError, match="field max_homopolymer: expected a whole number"):
        load_constraints(path)


def test_a_config_length_that_is_not_a_number_is_refused(tmp_path):
    from dnadav.loaders import load_model

    with pytest.raises(InputError) as error:
        load_model(_model_copy(tmp_path, length="abc"))
    assert "config.json: length must be a whole number; got 'abc'" in _one_line(error)


# --- silent nan / inf ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, problem",
    [
        ("1e39*hepg2 - 1e39*hepg2", "'1e39' is not a finite float32 number"),
        ("softmax(hepg2,k562; tau=1e-300)", "'1e-300' is outside [1e-06, 1e+06]"),
        ("hepg2 s.t. k562 < 0.99999999999", "is not a probability in (0, 1) in float32"),
    ],
)
def test_objective_numbers_are_checked_in_float32(text, problem):
    from dnadav.objectives.grammar import parse_objective

    with pytest.raises(InputError) as error:
        parse_objective(text)
    assert problem in _one_line(error)


def test_an_objective_that_overflows_at_run_time_is_refused_not_returned():
    from dnadav.objectives.grammar import parse_objective
    from dnadav.objectives.objective import Objective

    oracle = torch.nn.Identity()
    oracle.class_names = ("HepG2", "K562")
    deep = "1e6*(" * 7 + "hepg2" + ")" * 7  # each factor is allowed; the product overflows float32
    with pytest.raises(InputError, match="not finite in float32"):
        Objective(parse_objective(deep, ("hepg2", "k562")), oracle).from_values(torch.tensor([[2.0, -1.0]]))


def test_a_fasta_header_never_receives_nan(tmp_path):
    from dnadav.data import write_fasta

    path = tmp_path / "designs.fa"
    with pytest.raises(InputError, match=r"record 'd2' \(#2\): reward is nan"):
        write_fasta(path, ["d1", "d2"], ["ACGT", "ACGT"], [{"reward": 1.0}, {"reward": float("nan")}])
    assert not path.exists()


def test_a_gosai_table_with_an_infinite_activity_is_refused(tmp_path):
    from dnadav.data.gosai import read_gosai

    path = tmp_path / "dataset.csv"
    path.write_text(",seq,hepg2,k562,sknsh,chrom\n0," + "A" * 200 + ",0.1,0.2,0.3,chr1\n1," + "C" * 200 + ",-inf,0.2,0.3,chr2\n")
    with pytest.raises(InputError, match=r"record #2 \(line 3\): hepg2 is not finite"):
        read_gosai(path)


# --- image folders -------------------------------------------------------------------------------


def _digits_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "digits"
    shutil.copytree(asset_root("models") / "digits", folder)
    return folder


@pytest.mark.parametrize(
    "breakage, problem",
    [
        ("index", "model_index.json: not valid JSON"),
        ("config", "unet/config.json: not valid JSON"),
        ("fp16", "found only diffusion_pytorch_model.fp16.safetensors"),
    ],
)
def test_a_broken_image_folder_is_named_by_the_folder_check(tmp_path, breakage, problem):
    from dnadav.image.pipeline import _check_folder

    folder = _digits_copy(tmp_path)
    if breakage == "index":
        (folder / "model_index.json").write_text("{not json")
    elif breakage == "config":
        (folder / "unet" / "config.json").write_text("{not json")
    else:
        weights = folder / "unet" / "diffusion_pytorch_model.safetensors"
        weights.rename(weights.with_name("diffusion_pytorch_model.fp16.safetensors"))
    with pytest.raises(InputError) as error:
        _check_folder(folder)
    assert problem in _one_line(error)


def test_corrupt_image_weights_are_one_line(tmp_path):
    pytest.importorskip("diffusers")
    from dnadav.image.pipeline import load_pipeline

    folder = _digits_copy(tmp_path)
    (folder / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"garbage" * 10)
    with pytest.raises(InputError) as error:
        load_pipeline(folder)
    assert f"{folder}/unet: cannot be loaded" in _one_line(error)


# --- the Python API ------------------------------------------------------------------------------


def test_evaluate_takes_one_path_as_one_input_and_refuses_what_it_cannot_name():
    from dnadav.jobs.evaluate import named_inputs

    assert named_inputs("runs/designs.fa") == {"designs.fa": "runs/designs.fa"}
    assert named_inputs(Path("runs/designs.fa")) == {"designs.fa": Path("runs/designs.fa")}
    assert named_inputs(["a/x.fa", "b/y.fa"]) == {"x.fa": "a/x.fa", "y.fa": "b/y.fa"}
    for bad in (5, ["a/x.fa", "b/x.fa"], [1, 2]):
        with pytest.raises(InputError, match="inputs: "):
            named_inputs(bad)
