"""Test-wide settings: built-in datasets are cached in a temporary folder, never in $HOME; bf16 runs also on a CPU
without bf16 matmuls (``ORLKIT_ALLOW_SLOW_BF16=1``: there it is slow, but what the tests check holds);
modules of tiny networks use one torch thread (``pytestmark = usefixtures("one_torch_thread")``)."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _test_environment(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("ORLKIT_CACHE", str(tmp_path_factory.mktemp("orlkit-cache")))
    mp.setenv("ORLKIT_ALLOW_SLOW_BF16", "1")
    yield
    mp.undo()


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny networks: one torch thread is fastest, and spinning threads stall on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
