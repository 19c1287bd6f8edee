"""IQL's defining property and its losses against hand references."""

import numpy as np
import pytest
import torch

from orlkit.algos import default_config, make_algorithm
from orlkit.algos.base import DataSpec
from orlkit.algos.iql import expectile_loss
from orlkit.data.dataset import TransitionDataset

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_expectile_half_is_half_mse():
    u = torch.randn(100)
    assert torch.allclose(expectile_loss(u, 0.5), 0.5 * u.pow(2).mean())


def test_expectile_weights_negative_errors_by_one_minus_tau():
    u = torch.tensor([-2.0, 1.0])
    assert torch.allclose(expectile_loss(u, 0.7), torch.tensor((0.3 * 4 + 0.7 * 1) / 2))


def test_iql_never_evaluates_a_critic_on_an_action_outside_the_batch():
    rng = np.random.default_rng(0)
    n = 64
    obs = rng.normal(size=(n, 3)).astype(np.float32)
    ds = TransitionDataset(obs, rng.uniform(-1, 1, (n, 2)).astype(np.float32), rng.normal(size=n), obs[::-1].copy(),
                           np.zeros(n, bool), np.zeros(n, bool))
    cfg = default_config("iql")
    cfg.hidden = (16, 16)
    algo = make_algorithm("iql", DataSpec.from_dataset(ds), cfg)
    seen: list[torch.Tensor] = []
    for critic in (algo.critic, algo.critic_target):
        critic.register_forward_pre_hook(lambda mod, args: seen.append(args[1].detach().clone()))
    sampler = ds.sampler(32, seed=0)
    for _ in range(5):
        batch = sampler.sample()
        seen.clear()
        algo.update(batch)
        assert seen, "the critics were never called"
        for actions in seen:
            assert torch.equal(actions, batch.actions)
