"""Test-suite settings: the evaluation cache (``dnadav.evaluate.reference_cache``) lives in a temporary
folder for the session, so tests never read or write the user's ``~/.cache/dnadav``."""

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _evaluation_cache_in_a_temporary_folder(tmp_path_factory):
    before = os.environ.get("DNADAV_CACHE_DIR")
    os.environ["DNADAV_CACHE_DIR"] = str(tmp_path_factory.mktemp("dnadav-cache"))
    yield
    if before is None:
        os.environ.pop("DNADAV_CACHE_DIR", None)
    else:
        os.environ["DNADAV_CACHE_DIR"] = before
