"""Test-wide settings: built-in datasets are cached in a temporary folder, never in $HOME."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def _dataset_cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("ORLKIT_CACHE", str(tmp_path_factory.mktemp("orlkit-cache")))
    yield
    mp.undo()
