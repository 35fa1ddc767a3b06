"""The Python API: docs/api.md's example runs as written; defaults have one home; designs are
reproducible per (seed, index) whatever n; the manifest tells the truth."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

import dnadav
from dnadav import defaults
from dnadav.errors import InputError

DOCS = Path(__file__).resolve().parent.parent / "docs" / "api.md"


@pytest.mark.slow
def test_docs_api_example_runs_as_written(capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(), flags=re.S)
    assert len(blocks) == 1
    exec(compile(blocks[0], str(DOCS), "exec"), {"__name__": "docs_api_example"})
    printed = capsys.readouterr().out
    assert "designs: " in printed and "real HepG2 DHS" in printed


def test_top_level_names_are_the_api_functions():
    assert dnadav.design is dnadav.api.design and dnadav.evaluate.__wrapped__ is dnadav.api.evaluate
    assert callable(dnadav.load_model) and callable(dnadav.load_oracle)


@pytest.mark.parametrize("first", ["import dnadav", "import dnadav.evaluate.metrics", "from dnadav import evaluate"])
def test_dnadav_evaluate_is_the_api_function_and_the_subpackage(first):
    """``import dnadav.evaluate.reference as r`` resolves ``dnadav.evaluate`` by attribute: it must be the
    subpackage, while ``dnadav.evaluate(...)`` stays the API function — whichever is imported first."""
    import inspect
    import subprocess
    import sys

    code = (
        f"{first}\n"
        "import inspect, sys, dnadav\n"
        "import dnadav.evaluate.reference as r\n"
        "import dnadav.evaluate.metrics as m\n"
        "import dnadav.evaluate as package\n"
        "assert r.__name__ == 'dnadav.evaluate.reference' and m is dnadav.evaluate.metrics and package is dnadav.evaluate\n"
        "assert callable(dnadav.evaluate) and dnadav.evaluate.__wrapped__ is dnadav.api.evaluate\n"
        "print(inspect.signature(dnadav.evaluate))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    import dnadav.api  # run alone, nothing else has imported it yet

    assert done.stdout.strip() == str(inspect.signature(dnadav.api.evaluate))
    with pytest.raises(TypeError, match="unexpected keyword.s. no_such_option"):  # the call reaches the API function
        dnadav.evaluate({"designs": ["ACGT"]}, no_such_option=1)


def test_align_defaults_live_in_one_place():
    from dnadav.dna.config import AlignConfig

    config = AlignConfig()
    assert config.search.num_children == defaults.NUM_CHILDREN
    assert config.search.reward_temperature == defaults.REWARD_TEMPERATURE
    assert config.search.num_steps == defaults.SEARCH_STEPS
    assert config.iterations == defaults.ALIGN_ITERATIONS


def test_sequence_i_depends_only_on_seed_and_i(monkeypatch):
    monkeypatch.setattr(defaults, "DESIGN_BLOCK", 3)  # several blocks with a tiny n
    seven = dnadav.design("hepg2", n=7, steps=2, seed=5)
    four = dnadav.design("hepg2", n=4, steps=2, seed=5)
    assert seven.sequences[:4] == four.sequences  # no dependence on n or on how blocks are batched
    assert seven.sequences[0] != seven.sequences[3]  # blocks draw from different streams
    other = dnadav.design("hepg2", n=4, steps=2, seed=6)
    assert other.sequences != four.sequences


def test_designs_frame_fasta_and_manifest(tmp_path):
    designs = dnadav.design("hepg2", n=3, steps=2, seed=0, model="dhs_prior")
    frame = designs.to_frame()
    assert list(frame.columns) == ["id", "sequence", "reward", "pred_activity", "eval_probability"]
    assert designs.summary()["pred_activity_median"] == float(np.median(frame["pred_activity"]))  # one median
    path = designs.to_fasta(tmp_path / "p.fa")
    manifest = json.loads((tmp_path / "p.fa.manifest.json").read_text())
    assert manifest["used_aligned_model"] is False and manifest["model_aligned_to"] is None  # the prior
    assert manifest["command"].startswith("dnadav.design(") and manifest["config"]["reward_temperature"] is None
    assert set(manifest["checkpoints"]) == {"model", "reward_oracle", "eval_oracle"}
    with pytest.raises(InputError, match="already exists"):
        designs.to_fasta(path)


def test_design_refuses_lengths_and_temperatures_it_was_not_made_for():
    with pytest.raises(InputError, match="trained on 200 bp"):
        dnadav.design("hepg2", n=2, steps=2, length=5)
    with pytest.raises(InputError, match="temperature must be > 0"):
        dnadav.design("hepg2", n=2, steps=2, children=2, temperature=float("nan"))


def test_design_uses_the_schedule_in_the_model_config(tmp_path, monkeypatch):
    import shutil

    from dnadav.dna.checkpoint import resolve_model_dir

    folder = tmp_path / "cosine_model"
    shutil.copytree(resolve_model_dir("dhs_prior"), folder)
    config = json.loads((folder / "config.json").read_text())
    config["schedule"] = "cosine"
    (folder / "config.json").write_text(json.dumps(config))
    plain = dnadav.design("hepg2", n=4, steps=3, seed=0, model="dhs_prior")
    cosine = dnadav.design("hepg2", n=4, steps=3, seed=0, model=str(folder))
    assert cosine.result.settings["schedule"] == "cosine"
    assert cosine.sequences != plain.sequences  # same weights and seed: only the schedule differs
    with pytest.raises(InputError, match="cosine schedule: use --unmask random") as error:  # its pace is log-linear's
        dnadav.design("hepg2", n=4, steps=3, seed=0, model=str(folder), unmask="stratified")
    assert "\n" not in str(error.value)


def test_load_model_is_a_denoiser_callable():
    import torch

    net = dnadav.load_model("dhs")
    logits = net(torch.full((2, 200), 4), torch.ones(2))
    assert tuple(logits.shape) == (2, 200, 4) and net.length == 200
