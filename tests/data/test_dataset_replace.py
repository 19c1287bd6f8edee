"""TransitionDataset.replace: one way to derive a dataset with changed columns or extras."""

import numpy as np
import pytest

from orlkit.data.dataset import TransitionDataset
from orlkit.errors import DatasetError


def small():
    obs = np.arange(8, dtype=np.float32).reshape(4, 2)
    return TransitionDataset(obs, np.array([0, 1, 0, 1]), np.ones(4), obs + 1, np.zeros(4, bool), np.zeros(4, bool),
                             n_actions=2, meta={"env_id": "X"}, source="s", extras={"propensities": np.full(4, 0.5)})


def test_replace_changes_one_column_and_keeps_the_rest():
    ds = small()
    out = ds.replace(rewards=ds.rewards * 3)
    assert np.array_equal(out.rewards, np.full(4, 3.0)) and np.array_equal(out.obs, ds.obs)
    assert out.n_actions == 2 and out.meta == {"env_id": "X"} and out.source == "s"
    assert np.array_equal(out.extras["propensities"], ds.extras["propensities"])


def test_replace_validates_like_the_constructor():
    with pytest.raises(DatasetError, match="rewards"):
        small().replace(rewards=np.array([1.0, np.nan, 0.0, 0.0]))
    with pytest.raises(TypeError, match="observations"):
        small().replace(observations=np.zeros((4, 2)))
