"""Property-based tests (Hypothesis, bounded and derandomized): arbitrary text, bytes and structures fed
to the objective grammar, the constraint options and files, the FASTA / CSV / Gosai readers, checkpoint
configs and the image folder check never raise anything but the package's own ``InputError``
(issue 23, docs/input-errors.md). ``tests/test_bad_inputs.py`` pins one case per class."""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dnadav.errors import InputError

# Bounded and deterministic in the suite; DNADAV_FUZZ_EXAMPLES=2000 explores more (and at random) by hand.
EXAMPLES = int(os.environ.get("DNADAV_FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=EXAMPLES <= 40,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
# JSON-like values: what a config.json, a constraints file or YAML can hold
LEAVES = st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.floats() | st.text(max_size=12)
VALUES = st.recursive(
    LEAVES, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12
)
OBJECTIVE_TOKENS = ["hepg2", "k562", "gm12878", "hesc", "others", "max", "min", "mean", "softmax", "softmin", "tau", "s.t."]
OBJECTIVE_TOKENS += ["(", ")", ",", ";", "=", "<", "+", "-", "*", " ", "0.5", "2", "1e39", "1e-300", "1e999", "x", ".", "é"]


def _scratch() -> Path:
    return Path(tempfile.mkdtemp(prefix="dnadav-fuzz-"))


def _only_input_errors(call, *args, **kwargs):
    """``call(*args, **kwargs)``, with an InputError (one line) counted as a clean refusal."""
    try:
        return call(*args, **kwargs)
    except InputError as error:
        assert "\n" not in str(error)
        return None


@FUZZ
@given(st.lists(st.sampled_from(OBJECTIVE_TOKENS), max_size=30).map("".join) | st.text(max_size=40))
def test_objective_text_parses_or_is_one_input_error(text):
    from dnadav.objectives.grammar import parse_objective
    from dnadav.objectives.objective import Objective

    parsed = _only_input_errors(parse_objective, text)
    if parsed is None:
        return
    oracle = torch.nn.Identity()
    oracle.class_names = ("HepG2", "K562", "GM12878", "hESC", "shuffled")
    value = _only_input_errors(Objective(parsed, oracle).from_values, torch.randn(3, 5) * 10)
    assert value is None or bool(torch.isfinite(value).all())


CONSTRAINT_TEXT = st.text(alphabet="ACGTNRYacgt,:.0123456789-BsaIEcoRIx é", max_size=12)


@FUZZ
@given(
    forbid=st.none() | CONSTRAINT_TEXT,
    gc=st.none() | CONSTRAINT_TEXT,
    cap=st.none() | CONSTRAINT_TEXT,
    prefix=st.none() | CONSTRAINT_TEXT,
    template=st.none() | CONSTRAINT_TEXT,
)
def test_constraint_options_compile_or_are_one_input_error(forbid, gc, cap, prefix, template):
    from dnadav.constraints import spec_from_options

    spec = _only_input_errors(spec_from_options, forbid=forbid, gc=gc, max_homopolymer=cap, prefix=prefix, template=template)
    if spec is not None:
        _only_input_errors(spec.compile, 12)


@FUZZ
@example(data={"forbid": False})  # found by fuzzing: a forbid field that is neither text nor a list
@given(data=st.dictionaries(st.sampled_from(["forbid", "gc", "max_homopolymer", "prefix", "template", "x"]), VALUES) | VALUES)
def test_constraint_files_of_any_structure_load_or_are_one_input_error(data):
    import yaml

    from dnadav.constraints import load_constraints

    folder = _scratch()
    try:
        (folder / "c.json").write_text(json.dumps(data, allow_nan=True))
        (folder / "c.yaml").write_text(yaml.safe_dump(data))
        for name in ("c.json", "c.yaml"):
            _only_input_errors(load_constraints, folder / name)
    finally:
        shutil.rmtree(folder)


@FUZZ
@given(st.binary(max_size=200), st.sampled_from(["c.json", "c.yaml", "c.yml"]))
def test_constraint_files_of_any_bytes_load_or_are_one_input_error(data, name):
    from dnadav.constraints import load_constraints

    folder = _scratch()
    try:
        (folder / name).write_bytes(data)
        _only_input_errors(load_constraints, folder / name)
    finally:
        shutil.rmtree(folder)


SEQUENCE_TEXT = st.text(alphabet="ACGTacgtN>\n\r\t ,;=.-0123456789idseqnamé\x00", max_size=160)


@FUZZ
@given(SEQUENCE_TEXT | st.binary(max_size=160), st.sampled_from(["x.fa", "x.csv", "x.tsv", "x.txt", "x.fa.gz", "x.h5"]))
def test_sequence_files_read_or_are_one_input_error(content, name):
    from dnadav.data import read_sequences

    folder = _scratch()
    try:
        path = folder / name
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        table = _only_input_errors(read_sequences, path)
        if table is not None:
            assert all(set(s) <= set("ACGT") for s in table.sequences)
    finally:
        shutil.rmtree(folder)


GOSAI_CELLS = st.sampled_from(["A" * 8, "ACGTACGN", "", "0.5", "-1e3", "inf", "nan", "x", "chr1", " ", '"'])


@pytest.mark.filterwarnings("ignore::pandas.errors.ParserWarning")
@FUZZ
@example(header=[""], rows=[['"'], ['"']])  # found by fuzzing: a column name holding a newline
@given(
    header=st.lists(st.sampled_from(["", "seq", "hepg2", "k562", "sknsh", "chrom", "other"]), min_size=1, max_size=7),
    rows=st.lists(st.lists(GOSAI_CELLS, max_size=7), max_size=4),
)
def test_gosai_tables_read_or_are_one_input_error(header, rows):
    from dnadav.data.gosai import GOSAI_TARGETS, read_gosai

    folder = _scratch()
    try:
        path = folder / "dataset.csv"
        path.write_text("\n".join(",".join(row) for row in [header, *rows]) + "\n")
        table = _only_input_errors(read_gosai, path, length=8)
        if table is not None:
            assert all(math.isfinite(v) for column in GOSAI_TARGETS for v in table[column])
    finally:
        shutil.rmtree(folder)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    from dnadav.dna.backbone import ConvDenoiser, ConvDenoiserConfig
    from dnadav.dna.checkpoint import save_denoiser

    folder = tmp_path_factory.mktemp("tiny") / "model"
    config = ConvDenoiserConfig(channels=8, num_blocks=1, time_embedding_dim=8)
    return save_denoiser(folder, ConvDenoiser(config), {"schedule": "loglinear", "length": 20})


BACKBONE_KEYS = ["channels", "num_blocks", "kernel_size", "dilations", "time_embedding_dim", "dropout", "x"]


@FUZZ
@given(
    backbone=st.dictionaries(st.sampled_from(BACKBONE_KEYS), VALUES | st.integers(-5, 10**8), max_size=4),
    top=st.dictionaries(st.sampled_from(["length", "schedule", "architecture"]), VALUES, max_size=2),
)
def test_model_configs_of_any_structure_load_or_are_one_input_error(tiny_model, backbone, top):
    from dnadav.dna.checkpoint import load_denoiser

    folder = _scratch() / "model"
    try:
        shutil.copytree(tiny_model, folder)
        config = json.loads((folder / "config.json").read_text())
        config["backbone"].update(backbone)
        config.update(top)
        (folder / "config.json").write_text(json.dumps(config))
        _only_input_errors(load_denoiser, folder)
    finally:
        shutil.rmtree(folder.parent)


@FUZZ
@example(data=b"r", name="model.pt")  # found by fuzzing: the weights-only unpickler's struct.error
@given(st.binary(max_size=300), st.sampled_from(["model.pt", "config.json"]))
def test_checkpoint_files_of_any_bytes_load_or_are_one_input_error(tiny_model, data, name):
    from dnadav.dna.checkpoint import load_denoiser

    folder = _scratch() / "model"
    try:
        shutil.copytree(tiny_model, folder)
        (folder / name).write_bytes(data)
        _only_input_errors(load_denoiser, folder)
    finally:
        shutil.rmtree(folder.parent)


@FUZZ
@given(
    st.sampled_from(["model_index.json", "unet/config.json", "scheduler/scheduler_config.json"]),
    st.binary(max_size=120) | VALUES.map(lambda v: json.dumps(v).encode()),
)
def test_image_folders_pass_the_check_or_are_one_input_error(name, data):
    from dnadav.assets import asset_root
    from dnadav.image.pipeline import _check_folder

    folder = _scratch() / "digits"
    try:
        shutil.copytree(asset_root("models") / "digits", folder)
        (folder / name).write_bytes(data)
        _only_input_errors(_check_folder, folder)
    finally:
        shutil.rmtree(folder.parent)
