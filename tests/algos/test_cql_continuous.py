"""Continuous CQL's target: one policy sample at s', or the max over K samples (max_backup)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from orlkit.algos import DataSpec, config_from_dict, make_algorithm
from orlkit.data.dataset import TransitionDataset
from orlkit.errors import OrlkitError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def dataset(n: int = 300) -> TransitionDataset:
    rng = np.random.default_rng(1)
    terminals = np.zeros(n, bool)
    terminals[::7] = True
    return TransitionDataset(rng.normal(size=(n, 4)).astype(np.float32), rng.uniform(-1, 1, (n, 2)).astype(np.float32),
                             rng.normal(size=n).astype(np.float32), rng.normal(size=(n, 4)).astype(np.float32),
                             terminals, np.zeros(n, bool))


@pytest.mark.parametrize("max_backup", [0, 6])
def test_bellman_loss_uses_the_documented_target(max_backup: int) -> None:
    ds = dataset()
    cfg = config_from_dict("cql-continuous", {"hidden": (16, 16), "batch_size": 32, "n_action_samples": 3,
                                              "max_backup": max_backup})
    algo = make_algorithm("cql-continuous", DataSpec.from_dataset(ds), cfg, seed=0)
    batch = ds.sampler(32, seed=0).sample()
    gen = torch.Generator().set_state(algo.generator.get_state())  # the draws update() will make first
    with torch.no_grad():
        next_a, _ = algo.actor.sample(batch.next_obs, gen, max_backup or None)
        q_next = algo.critic_target(batch.next_obs, next_a).min(0).values  # (B,) or (B, K)
        if max_backup:
            assert q_next.shape == (32, max_backup)
            q_next = q_next.max(-1).values
        y = batch.rewards + cfg.gamma * (1 - batch.terminals.float()) * q_next
        expected = (algo.critic(batch.obs, batch.actions) - y).pow(2).mean(1).sum().item()
    metrics = algo.update(batch)
    assert metrics["loss/q"] == pytest.approx(expected, rel=1e-5)


def test_max_backup_below_zero_is_refused() -> None:
    with pytest.raises(OrlkitError, match="max_backup"):
        config_from_dict("cql-continuous", {"max_backup": -1})
