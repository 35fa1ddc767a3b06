"""The shipped oracles/, datasets/, models/ are found in a checkout and in a wheel, and never shadow a package."""

import fnmatch
import os
import subprocess
import sys
from pathlib import Path

import pytest

import dnadav.assets as assets
from dnadav.assets import asset_path, asset_root

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("oracles", "datasets", "models")
in_checkout = pytest.mark.skipif(not (ROOT / "pyproject.toml").is_file(), reason="needs a source checkout")


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _run(code: str, cwd: Path, pythonpath: list[Path]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, pythonpath))}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@in_checkout
def test_the_asset_folders_are_not_packages():
    for kind in KINDS:
        assert (ROOT / kind).is_dir()
        assert not list((ROOT / kind).rglob("__init__.py")), f"{kind}/ must not be a Python package"


@in_checkout
def test_the_checkout_lookup_finds_the_root_folders_and_the_links_point_at_them():
    for kind in KINDS:
        assert asset_root(kind) == ROOT / kind
        assert (ROOT / "dnadav" / "_assets" / kind).resolve() == (ROOT / kind).resolve()  # what the wheel copies
    assert asset_path("oracles", "dhs_eval", "model.pt").is_file()
    assert asset_path("models", "hepg2_aligned", "config.json").is_file()
    assert asset_path("datasets", "jaspar", "motifs.json").is_file()


def test_an_installed_wheel_is_found_under_dnadav_assets(tmp_path, monkeypatch):
    package = tmp_path / "site-packages" / "dnadav"
    for kind in KINDS:
        (package / "_assets" / kind).mkdir(parents=True)
    (package / "_assets" / "oracles" / "dhs_eval").mkdir()
    monkeypatch.setattr(assets, "_PACKAGE_DIR", package)
    monkeypatch.setattr(assets, "_REPO_ROOT", package.parent)  # site-packages: not a checkout
    assert asset_root("models") == package / "_assets" / "models"
    assert asset_path("oracles", "dhs_eval") == package / "_assets" / "oracles" / "dhs_eval"
    with pytest.raises(FileNotFoundError, match="shipped file oracles/dhs_reward is missing"):
        asset_path("oracles", "dhs_reward")
    (package / "_assets" / "datasets").rmdir()
    with pytest.raises(FileNotFoundError, match="datasets/ folder is missing from this installation"):
        asset_root("datasets")
    with pytest.raises(ValueError, match="kind must be"):
        asset_root("weights")


@in_checkout
def test_a_package_named_like_an_asset_folder_is_not_shadowed_from_the_checkout(tmp_path):
    """Run from the repository root (first on sys.path), `import datasets` still finds the real package."""
    for kind in KINDS:
        (tmp_path / kind).mkdir()
        (tmp_path / kind / "__init__.py").write_text("REAL = True\n")
    result = _run("import datasets, models, oracles; print(datasets.REAL, models.REAL, oracles.REAL)", ROOT, [tmp_path])
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "True"]


@in_checkout
def test_a_script_beside_a_clone_named_dnadav_imports_the_package(tmp_path):
    """A clone in ./dnadav next to a script is a namespace directory; the installed package (here the
    checkout on sys.path, as a wheel or `pip install -e .` puts it) must still win."""
    (tmp_path / "dnadav").symlink_to(ROOT, target_is_directory=True)
    code = "from dnadav.oracles import load_oracle; import dnadav; print(load_oracle.__module__, dnadav.__file__)"
    result = _run(code, tmp_path, [ROOT])
    assert result.returncode == 0, result.stderr
    module, file = result.stdout.split()
    assert module == "dnadav.oracles.registry" and Path(file) == ROOT / "dnadav" / "__init__.py"


@in_checkout
def test_the_layout_keeps_editable_installs_on_a_plain_path_entry():
    """`pip install -e .` uses a static .pth (the checkout on sys.path) only for a simple layout; any
    remapped package makes setuptools use a meta-path finder, which a folder named dnadav beside a
    script shadows (pypa/setuptools#3557)."""
    setuptools = _pyproject()["tool"]["setuptools"]
    assert setuptools["package-dir"] == {"": "."}
    code_packages = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "dnadav").rglob("__init__.py")
        if "_assets" not in p.parts[:-1]
    }
    assert set(setuptools["packages"]) == code_packages | {"dnadav._assets"}


@in_checkout
def test_every_shipped_file_is_package_data():
    patterns = _pyproject()["tool"]["setuptools"]["package-data"]["dnadav._assets"]
    listed = subprocess.run(["git", "ls-files", *KINDS], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("git ls-files is not available here")
    files = listed.stdout.split()
    assert len(files) > 10
    missing = [f for f in files if not any(fnmatch.fnmatch(f, p.replace("/**/", "/*")) for p in patterns)]
    assert missing == [], f"not in the wheel: {missing}"
