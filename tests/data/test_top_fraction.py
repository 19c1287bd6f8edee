"""%BC's filter (TransitionDataset.top_fraction): the best whole episodes by return within a timestep budget."""

import numpy as np
import pytest

from orlkit.algos import DataSpec, config_from_dict, make_algorithm
from orlkit.data.dataset import TransitionDataset


def episodes(lengths: list[int], returns: list[float]) -> TransitionDataset:
    """Episodes of the given lengths; episode i's reward is spread evenly so that its return is returns[i] and its
    observations are all i (so a kept row names its episode)."""
    obs, rewards, terminals = [], [], []
    for i, (n, ret) in enumerate(zip(lengths, returns, strict=True)):
        obs += [i] * n
        rewards += [ret / n] * n
        terminals += [False] * (n - 1) + [True]
    o = np.asarray(obs, np.float32)[:, None]
    n = len(o)
    return TransitionDataset(o, np.zeros((n, 1), np.float32), np.asarray(rewards, np.float32), o.copy(),
                             np.asarray(terminals), np.zeros(n, bool))


def kept_episodes(ds: TransitionDataset) -> list[int]:
    return sorted({int(x) for x in ds.obs[:, 0]})


def test_keeps_the_best_whole_episodes_within_the_budget():
    ds = episodes([10] * 10, [3, 9, 1, 7, 0, 8, 2, 6, 5, 4])  # the best: episodes 1 (9), 5 (8), 3 (7), 7 (6)
    assert kept_episodes(ds.top_fraction(0.3)) == [1, 3, 5]
    assert ds.top_fraction(0.3).n_transitions == 30
    assert kept_episodes(ds.top_fraction(0.39)) == [1, 3, 5]  # a fourth episode would pass the budget
    assert kept_episodes(ds.top_fraction(0.05)) == [1]  # at least one episode, even over the budget
    assert ds.top_fraction(1.0) is ds


def test_budget_counts_timesteps_not_episodes():
    ds = episodes([40, 5, 5, 50], [10, 9, 8, 1])  # the best episode alone is 40 % of the 100 steps
    assert kept_episodes(ds.top_fraction(0.45)) == [0, 1]
    assert kept_episodes(ds.top_fraction(0.5)) == [0, 1, 2]


def test_pct_bc_trains_on_the_filtered_data_and_bc_on_all():
    ds = episodes([10] * 10, list(range(10)))
    spec = DataSpec.from_dataset(ds)
    pct = make_algorithm("pct-bc", spec, config_from_dict("pct-bc", {}))
    bc = make_algorithm("bc", spec, config_from_dict("bc", {}))
    assert kept_episodes(pct.prepare_dataset(ds)) == [9]  # top 10 % of 100 steps: the best episode
    assert pct.prepare_dataset(ds).n_transitions == 10
    assert bc.prepare_dataset(ds).n_transitions == 100


@pytest.mark.parametrize("pct", [0.0, -0.1, 1.5])
def test_bad_fraction_is_refused(pct):
    with pytest.raises(ValueError, match="pct"):
        episodes([10] * 2, [1, 2]).top_fraction(pct)
