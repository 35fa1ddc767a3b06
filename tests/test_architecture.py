"""The architecture's contracts (docs/architecture.md): the import-linter contracts of pyproject.toml
hold, ``dnadav.core`` loads nothing of a modality, an oracle, a job or a front end, no library file is
over 300 lines, and every package declares ``__all__``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "dnadav"


def _lint_imports() -> str | None:
    beside = Path(sys.executable).parent / "lint-imports"
    return str(beside) if beside.is_file() else shutil.which("lint-imports")


def test_the_import_contracts_hold():
    command = _lint_imports()
    if command is None:
        if os.environ.get("CI"):
            pytest.fail("lint-imports is missing: install the dev extra (pip install -e '.[dev]')")
        pytest.skip("import-linter is not installed (the dev extra)")
    done = subprocess.run([command, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_core_imports_no_modality_oracle_job_or_front_end():
    modules = sorted("dnadav.core." + p.stem if p.stem != "__init__" else "dnadav.core" for p in (PACKAGE / "core").glob("*.py"))
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    loaded = __import__("json").loads(done.stdout)
    banned = ("dnadav.dna", "dnadav.image", "dnadav.oracles", "dnadav.objectives", "dnadav.constraints", "dnadav.evaluate",
              "dnadav.data", "dnadav.published", "dnadav.jobs", "dnadav.api", "dnadav.cli", "dnadav.commands",
              "diffusers", "pandas", "Bio")  # fmt: skip
    found = [m for m in loaded if any(m == b or m.startswith(b + ".") for b in banned)]
    assert not found, f"importing dnadav.core loaded {found}"
    assert "dnadav.core.em" in loaded and "pytorch_lightning" in loaded


def test_no_library_file_is_over_300_lines():
    long = {str(p.relative_to(ROOT)): n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > 300}
    assert not long, f"split these along the maths or the verb: {long}"


def test_every_package_declares_all():
    missing = [str(p.relative_to(ROOT)) for p in PACKAGE.rglob("__init__.py") if "__all__" not in p.read_text()]
    assert not missing


def test_align_configs_recorded_before_the_split_read_into_the_new_configs():
    import json

    from dnadav.core.config import EMConfig
    from dnadav.core.distill import DistillConfig
    from dnadav.core.search import SearchConfig
    from dnadav.dna.config import AlignConfig

    recorded = {
        p.parent.name: json.loads(p.read_text())["align_config"] for p in sorted(ROOT.glob("models/*_aligned/config.json"))
    }
    assert recorded
    for name, values in recorded.items():
        config = AlignConfig.from_dict(values)
        assert isinstance(config, EMConfig) and config.oracle == name.removesuffix("_aligned")
        keys = list(config.as_dict())
        assert [k for k in keys if k in values] == list(values)  # the recorded order, fields added since in place
        if set(values) == set(keys) and "extra" not in values["search"]:  # recorded by the current fields: identical
            current = config.as_dict()
            added = {part: set(current[part]) - set(values[part]) for part in ("search", "distill")}
            defaults = {"search": SearchConfig().as_dict(), "distill": DistillConfig().as_dict()}
            for part, names in added.items():  # sub-fields added since read back at their defaults, then set aside
                for name in names:
                    assert current[part].pop(name) == defaults[part][name], (part, name)
            assert json.dumps(current, indent=2) == json.dumps(values, indent=2)
