"""The online loop: replay buffer contract, learned-reward relabelling, resume, and that SAC learns online."""

import numpy as np
import pytest
import torch

from orlkit.algos import config_from_dict, make_algorithm
from orlkit.algos.base import DataSpec
from orlkit.errors import OrlkitError
from orlkit.train.online import OnlineConfig, ReplayBuffer, train_online

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _sac(seed=0, hidden=(32, 32), batch_size=32):
    return make_algorithm("sac", DataSpec(3, None, 1),
                          config_from_dict("sac", {"hidden": hidden, "batch_size": batch_size}), seed=seed)


def _fill(buf, n, start=0):
    for i in range(start, start + n):
        buf.add(np.full(3, i), np.full(1, 0.5), float(i), float(-i), np.full(3, i + 1), False, i % 5 == 4, i // 5)


def test_buffer_ring_keeps_the_latest_rows_in_order():
    buf = ReplayBuffer(3, 1, capacity=7)
    _fill(buf, 10)
    assert buf.size == 7
    ds = buf.to_dataset()
    np.testing.assert_array_equal(ds.obs[:, 0], np.arange(3, 10))  # oldest first
    np.testing.assert_array_equal(ds.rewards, -np.arange(3, 10))  # true rewards by default
    np.testing.assert_array_equal(buf.to_dataset(true_rewards=False).rewards, np.arange(3, 10))
    assert ds.timeouts[-1]  # the open episode at the end is closed as a timeout
    batch = buf.sample(64)
    assert batch.obs.shape == (64, 3) and batch.actions.shape == (64, 1)
    assert set(batch.rewards.tolist()) <= set(range(3, 10))


def test_initial_fraction_draws_that_share_of_every_batch_from_the_first_rows():
    buf = ReplayBuffer(3, 1, capacity=100, seed=1)
    _fill(buf, 10)  # rows 0..9: the "demonstrations"
    only_first = buf.sample(64, first=10, fraction=0.5)  # nothing after them yet: no split (and no error)
    assert only_first.rewards.shape == (64,)
    _fill(buf, 90, start=10)
    for _ in range(20):
        r = buf.sample(64, first=10, fraction=0.5).rewards
        assert int((r < 10).sum()) == 32  # exactly half from rows 0..9, half from 10..99
    uniform = torch.cat([buf.sample(256).rewards for _ in range(20)])
    assert 0.05 < float((uniform < 10).float().mean()) < 0.15  # without it: their share of the buffer (10 %)
    with pytest.raises(OrlkitError, match="initial_fraction"):
        OnlineConfig("Pendulum-v1", initial_fraction=1.0)
    assert int((buf.sample(256, first=10, fraction=0.001).rewards < 10).sum()) == 1  # a tiny share: at least one row
    with pytest.raises(OrlkitError, match="initial rows"):
        train_online(_sac(), OnlineConfig("Pendulum-v1", steps=50, buffer_size=50, initial_fraction=0.5),
                     initial_data=buf.to_dataset(), progress=False)
    with pytest.raises(OrlkitError, match="needs initial_data"):
        train_online(_sac(), OnlineConfig("Pendulum-v1", steps=50, initial_fraction=0.5), progress=False)


def test_train_online_passes_the_initial_rows_and_fraction_to_the_sampler(monkeypatch):
    demo = ReplayBuffer(3, 1, capacity=40)
    for i in range(40):
        demo.add(np.zeros(3), np.full(1, 0.5), 0.0, 0.0, np.zeros(3), False, i % 20 == 19, i // 20)
    calls = []
    original = ReplayBuffer.sample

    def spy(self, batch_size, first=0, fraction=0.0):
        calls.append((first, fraction))
        return original(self, batch_size, first, fraction)

    monkeypatch.setattr(ReplayBuffer, "sample", spy)
    run = OnlineConfig("Pendulum-v1", steps=30, start_steps=10, update_after=10, eval_every=0, eval_episodes=1,
                       initial_fraction=0.5)
    train_online(_sac(), run, initial_data=demo.to_dataset(), progress=False)
    assert calls and set(calls) == {(40, 0.5)}  # every update: the 40 demonstration rows, half of each batch


def test_buffer_relabel_uses_the_model_and_keeps_true_rewards():
    class SumObs:
        def reward(self, obs, actions, next_obs):
            return obs.sum(-1) + 10 * actions[:, 0] - next_obs[:, 0]

    buf = ReplayBuffer(3, 1, capacity=20)
    _fill(buf, 12)
    buf.relabel(SumObs())
    i = np.arange(12)
    np.testing.assert_allclose(buf.view("rewards"), 3 * i + 5 - (i + 1))
    np.testing.assert_array_equal(buf.view("true_rewards"), -i)


def test_buffer_state_round_trips():
    a, b = ReplayBuffer(3, 1, capacity=8, seed=3), ReplayBuffer(3, 1, capacity=8, seed=99)
    _fill(a, 11)
    b.load_state_dict(a.state_dict())
    da, db = a.to_dataset(), b.to_dataset()  # the same transitions in the same time order
    for name in ("obs", "actions", "rewards", "next_obs", "terminals", "timeouts"):
        np.testing.assert_array_equal(getattr(da, name), getattr(db, name))
    assert torch.equal(a.generator.get_state(), b.generator.get_state())


def test_learned_reward_fills_the_buffer_and_true_return_is_logged():
    class Const:
        def reward(self, obs, actions, next_obs):
            return torch.full((len(obs),), 7.0)

    calls = []
    res = train_online(_sac(), OnlineConfig("Pendulum-v1", steps=400, start_steps=100, update_after=100,
                                            eval_every=0, eval_episodes=1, callback_every=150),
                       reward_model=Const(), callback=lambda step, buf: calls.append((step, buf.size)) or {"n": 1},
                       progress=False)
    buf = res["buffer"]
    assert np.all(buf.view("rewards") == 7.0)
    assert not np.allclose(buf.view("true_rewards"), 7.0)
    ep = res["train"][0]  # Pendulum episodes are 200 steps
    assert ep["length"] == 200 and ep["return"] == pytest.approx(1400.0)
    assert ep["true_return"] == pytest.approx(float(buf.view("true_rewards")[:200].sum()), rel=1e-5)
    assert calls == [(150, 150), (300, 300)] and [c["step"] for c in res["callbacks"]] == [150, 300]
    assert res["eval"][-1]["step"] == 400


def test_resume_continues_from_the_checkpoint(tmp_path):
    run = OnlineConfig("Pendulum-v1", steps=300, start_steps=50, update_after=50, eval_every=150, eval_episodes=1)
    train_online(_sac(), run, tmp_path / "a", progress=False)
    with pytest.raises(OrlkitError, match="already holds a run"):
        train_online(_sac(), run, tmp_path / "a", progress=False)
    algo_first, algo_resumed = _sac(), _sac()
    first = train_online(algo_first, OnlineConfig(**{**run.__dict__, "steps": 150}), tmp_path / "b", progress=False)
    assert first["buffer"].size == 150
    res = train_online(algo_resumed, run, tmp_path / "b", resume=True, progress=False)
    assert res["buffer"].size == 300
    # the networks and optimizers came back from the checkpoint: the update count and Adam's step continue
    assert algo_first.n_updates > 0 and algo_resumed.n_updates == algo_first.n_updates + 150
    steps = {k: [float(s["step"]) for s in opt.state.values()] for k, opt in algo_resumed.optimizers.items()}
    first_steps = {k: [float(s["step"]) for s in opt.state.values()] for k, opt in algo_first.optimizers.items()}
    assert all(b > a for k in steps for a, b in zip(first_steps[k], steps[k], strict=True))
    assert all(b - a == 150 for a, b in zip(first_steps["critic"], steps["critic"], strict=True))
    assert [r["step"] for r in res["eval"]] == [150, 300]
    assert res["train"] == []  # the episode in progress at step 150 restarted and runs to step 350
    ds = res["buffer"].to_dataset()
    assert ds.timeouts[149] and ds.episode_bounds[0].tolist() == [0, 150]  # it was closed at the checkpoint
    with pytest.raises(OrlkitError, match="nothing to resume"):
        train_online(_sac(), run, tmp_path / "c", resume=True, progress=False)


def test_wrong_env_is_refused_with_a_clear_message():
    algo = make_algorithm("sac", DataSpec(4, None, 2), config_from_dict("sac", {"hidden": (8,)}))
    with pytest.raises(OrlkitError, match="2-dim continuous action space"):
        train_online(algo, OnlineConfig("Pendulum-v1", steps=10), progress=False)
    with pytest.raises(OrlkitError, match="^--steps must be at least 1"):
        OnlineConfig("Pendulum-v1", steps=0)
    with pytest.raises(OrlkitError, match="^buffer_size must be at least 1"):  # no --buffer-size option: the field
        OnlineConfig("Pendulum-v1", buffer_size=0)


@pytest.mark.slow
def test_sac_learns_pendulum_online():
    """SAC from scratch: 6000 steps take Pendulum from random (≈ −1220) to a mean better than −600 over 3 seeds
    (measured −431, −178, −756), every seed better than −1000."""
    finals = []
    for seed in range(3):
        res = train_online(_sac(seed, hidden=(64, 64), batch_size=128),
                           OnlineConfig("Pendulum-v1", steps=6000, eval_every=0, eval_episodes=5, seed=seed),
                           progress=False)
        finals.append(res["eval"][-1]["return_mean"])
    assert np.mean(finals) > -600 and min(finals) > -1000, finals


def test_buffer_restores_into_a_different_capacity_in_time_order():
    full = ReplayBuffer(3, 1, capacity=4)
    _fill(full, 6)  # a wrapped ring: rows 2, 3, 4, 5 stored as [4, 5, 2, 3]
    bigger = ReplayBuffer(3, 1, capacity=8)
    bigger.load_state_dict(full.state_dict())
    np.testing.assert_array_equal(bigger.view("obs")[:, 0], [2, 3, 4, 5])
    _fill(bigger, 1, start=6)  # the next row goes after the restored ones, not over the oldest
    np.testing.assert_array_equal(bigger.view("obs")[:, 0], [2, 3, 4, 5, 6])
    with pytest.raises(OrlkitError, match="more than this run's capacity"):
        ReplayBuffer(3, 1, capacity=3).load_state_dict(full.state_dict())


def test_resume_with_a_learned_reward_is_refused(tmp_path):
    run = OnlineConfig("Pendulum-v1", steps=100, start_steps=50, update_after=50, eval_every=100, eval_episodes=1)
    train_online(_sac(), run, tmp_path / "a", progress=False)
    with pytest.raises(OrlkitError, match="learned reward is not supported"):
        train_online(_sac(), OnlineConfig(**{**run.__dict__, "steps": 200}), tmp_path / "a", resume=True,
                     callback=lambda step, buf: None, progress=False)
