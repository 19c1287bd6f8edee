"""train() flushes subnormal floats to zero on the CPU, in OpenMP's worker threads too; ORLKIT_FLUSH_DENORMAL=0
leaves them. Each case in a fresh process: the modes belong to threads, and a worker thread takes its creator's."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

SCRIPT = """
import tempfile
import numpy as np
import torch
torch.set_num_threads(2)
from orlkit.data.dataset import TransitionDataset
from orlkit.train.fit import RunConfig, train
rng, n = np.random.default_rng(0), 400
ds = TransitionDataset(rng.normal(size=(n, 4)).astype(np.float32), rng.integers(0, 2, n),
                       rng.normal(size=n).astype(np.float32), rng.normal(size=(n, 4)).astype(np.float32),
                       np.zeros(n, bool), np.zeros(n, bool))
train(RunConfig(algo="bc", dataset="x", steps=3, eval_every=0, tensorboard=False), tempfile.mkdtemp() + "/run",
      progress=False, dataset=ds)
x = torch.full((4_000_000,), 1e-39)  # a subnormal float32; large enough to run on both threads
print(((x * 1.0) == 0).float().mean().item())
"""

needs_ftz = pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64") or sys.platform != "linux",
                               reason="flush-to-zero checked on Linux x86 only")


def flushed_fraction(env: dict[str, str]) -> float:
    out = subprocess.run([sys.executable, "-c", SCRIPT], env={**os.environ, **env}, capture_output=True, text=True,
                         check=True)
    return float(out.stdout.strip().splitlines()[-1])


@needs_ftz
def test_train_flushes_subnormals_on_every_thread() -> None:
    assert flushed_fraction({}) == 1.0  # without the worker thread's mode it would be 0.5


@needs_ftz
def test_orlkit_flush_denormal_0_leaves_them() -> None:
    assert flushed_fraction({"ORLKIT_FLUSH_DENORMAL": "0"}) == 0.0
