"""Fixtures of the fit-loop tests (test_fit.py, test_seeds.py)."""

import numpy as np
import pytest

from orlkit.data.collect import collect
from orlkit.data.dataset import TransitionDataset
from orlkit.data.formats import save_dataset


@pytest.fixture(scope="session")
def continuous_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """1000 rows of Pendulum with uniform random actions, rescaled to [-1, 1]."""
    ds = collect("Pendulum-v1", lambda o: np.zeros(1, np.float32), 1000, seed=0, epsilon=lambda p: 1.0)
    cols = ds.columns()
    cols["actions"] = cols["actions"] / 2.0
    ds = TransitionDataset(**cols, meta={**ds.meta, "env_id": None})
    return str(save_dataset(ds, tmp_path_factory.mktemp("data") / "pendulum.npz"))


@pytest.fixture(scope="session")
def data_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """1000 rows of CartPole: a scripted pole-balancer, random for 30% of the episodes."""
    ds = collect("CartPole-v1", lambda o: int(o[2] + o[3] > 0), 1000, seed=0, epsilon=lambda p: 0.3)
    return str(save_dataset(ds, tmp_path_factory.mktemp("data") / "cartpole.npz"))
