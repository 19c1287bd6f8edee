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


def _episodes_dataset() -> TransitionDataset:
    """4 episodes of 10 steps with returns 10, 20, 30, 50 (spread 40)."""
    rng = np.random.default_rng(1)
    n = 40
    obs = rng.normal(size=(n, 3)).astype(np.float32)
    rewards = np.repeat([1.0, 2.0, 3.0, 5.0], 10).astype(np.float32)
    terminals = np.zeros(n, bool)
    terminals[9::10] = True
    return TransitionDataset(obs, rng.uniform(-1, 1, (n, 2)).astype(np.float32), rewards, obs.copy(), terminals,
                             np.zeros(n, bool))


@pytest.mark.parametrize("scale_rewards", [True, False])
def test_value_estimate_is_in_the_datas_reward_units(scale_rewards, tmp_path):
    """The critics learn rewards × 1000 / (max − min episode return); the logged start-state estimate (compared with
    the real discounted return, `orlkit plot`) is divided back, also after a checkpoint is loaded."""
    ds = _episodes_dataset()
    cfg = default_config("iql")
    cfg.hidden, cfg.reward_scale_by_return_range = (16, 16), scale_rewards
    algo = make_algorithm("iql", DataSpec.from_dataset(ds), cfg)
    prepared = algo.prepare_dataset(ds)
    scale = 1000.0 / 40.0 if scale_rewards else 1.0
    np.testing.assert_allclose(prepared.rewards, ds.rewards * scale, rtol=1e-6)
    assert algo.reward_scale == pytest.approx(scale)
    with torch.no_grad():
        x = torch.as_tensor(ds.obs[:5])
        raw = algo.critic(x, algo.actor.mode(x)).min(0).values.numpy()
    np.testing.assert_allclose(algo.value_estimate(ds.obs[:5]), raw / scale, rtol=1e-6)
    algo.save(str(tmp_path / "ckpt"))
    fresh = make_algorithm("iql", DataSpec.from_dataset(ds), cfg)  # never saw the data: scale 1 until loaded
    fresh.load(str(tmp_path / "ckpt"))
    assert fresh.reward_scale == pytest.approx(scale)
    np.testing.assert_allclose(fresh.value_estimate(ds.obs[:5]), raw / scale, rtol=1e-6)


@pytest.mark.parametrize("bad", ["abc", 0, -1.0, None, float("inf")])
def test_checkpoint_with_a_bad_reward_scale_is_refused_before_loading(bad, tmp_path):
    import json

    from orlkit.errors import OrlkitError

    ds = _episodes_dataset()
    cfg = default_config("iql")
    cfg.hidden = (8,)
    algo = make_algorithm("iql", DataSpec.from_dataset(ds), cfg)
    algo.prepare_dataset(ds)
    algo.save(str(tmp_path / "c"))
    meta = json.loads((tmp_path / "c.json").read_text())
    meta["state"]["reward_scale"] = bad
    (tmp_path / "c.json").write_text(json.dumps(meta))
    fresh = make_algorithm("iql", DataSpec.from_dataset(ds), cfg, seed=1)
    before = {k: v.clone() for k, v in fresh.actor.state_dict().items()}
    with pytest.raises(OrlkitError, match="reward_scale"):
        fresh.load(str(tmp_path / "c"))
    assert all(torch.equal(v, fresh.actor.state_dict()[k]) for k, v in before.items())  # nothing half-loaded
