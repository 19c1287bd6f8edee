"""Preference RL plumbing: segments from the replay buffer, the query budget, relabelling, offline reward learning."""

import numpy as np
import pytest
import torch

from orlkit.data.dataset import TransitionDataset
from orlkit.errors import OrlkitError
from orlkit.rewards.preference import PreferenceConfig
from orlkit.rewards.preference_rl import (
    PreferenceLearner,
    PreferenceRLConfig,
    learn_reward_offline,
    relabel_dataset,
    segment_starts,
)
from orlkit.rewards.queries import select_disagreement
from orlkit.rewards.teachers import ScriptedTeacher
from orlkit.train.online import ReplayBuffer

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _buffer(episode_lengths, capacity=None, seed=0):
    rng = np.random.default_rng(seed)
    n = sum(episode_lengths)
    buf = ReplayBuffer(2, 1, capacity or n, seed=seed)
    for ep, length in enumerate(episode_lengths):
        for t in range(length):
            obs = rng.normal(size=2).astype(np.float32)
            buf.add(obs, rng.uniform(-1, 1, 1), 0.0, float(obs[0]), obs, False, t == length - 1, ep)
    return buf


def test_segments_never_cross_episodes_or_the_ring_write_position():
    buf = _buffer([7, 3, 10])
    starts = segment_starts(buf, 4)
    assert starts.tolist() == [0, 1, 2, 3, 10, 11, 12, 13, 14, 15, 16]
    assert len(segment_starts(buf, 11)) == 0
    ring = _buffer([30], capacity=20)  # 30 rows into 20 slots: the write position is 10
    assert ring.pos == 10
    s = segment_starts(ring, 5)
    assert not np.any((s < 10) & (s + 5 > 10)) and 9 not in s and 10 in s


def test_learner_spends_exactly_the_budget_and_relabels_the_buffer():
    buf = _buffer([50] * 20)
    cfg = PreferenceRLConfig(budget=25, queries_per_round=10, segment_length=10, sampling="disagreement",
                             reward_epochs=5, reward=PreferenceConfig(hidden=(16,), batch_size=16))
    learner = PreferenceLearner(2, 1, cfg, ScriptedTeacher.from_preset("oracle"), seed=0)
    infos = [learner(step, buf) for step in range(4)]
    assert [i["queries"] for i in infos[:3]] == [10, 20, 25] and infos[3] is None  # budget spent: nothing asked
    assert len(learner.data.pairs) == 25 and learner.data.n_segments == 50
    with torch.no_grad():
        expected = learner.model.reward(torch.from_numpy(buf.view("obs")), torch.from_numpy(buf.view("actions")),
                                        torch.from_numpy(buf.view("next_obs"))).numpy()
    np.testing.assert_allclose(buf.view("rewards"), expected, rtol=1e-5, atol=1e-6)
    assert infos[2]["reward_corr"] > 0.5  # r = obs[0] is easy: the model already tracks it


def test_disagreement_queries_are_the_pairs_the_ensemble_disagrees_on():
    buf = _buffer([40] * 10)
    cfg = PreferenceRLConfig(budget=100, queries_per_round=5, segment_length=8, sampling="disagreement",
                             reward_epochs=2, reward=PreferenceConfig(hidden=(16,), batch_size=8))
    learner = PreferenceLearner(2, 1, cfg, ScriptedTeacher.from_preset("oracle"), seed=1)
    learner(0, buf)  # first round: uniform (nothing learned yet)
    rng = np.random.default_rng(0)
    rows = rng.integers(0, 30, size=(40, 2))[..., None] + np.arange(8)  # (N, 2, T)
    oa, aa, ob, ab = buf.obs[rows[:, 0]], buf.actions[rows[:, 0]], buf.obs[rows[:, 1]], buf.actions[rows[:, 1]]
    with torch.no_grad():
        prefs = torch.sigmoid(learner.model.segment_returns(oa, aa) - learner.model.segment_returns(ob, ab)).numpy()
    assert learner._choose(oa, aa, ob, ab, 5).tolist() == select_disagreement(prefs, 5).tolist()


def test_config_errors_name_the_field():
    with pytest.raises(OrlkitError, match="unknown query sampling 'random'"):
        PreferenceRLConfig(sampling="random")
    with pytest.raises(OrlkitError, match="budget must be at least 1"):
        PreferenceRLConfig(budget=0)


def test_offline_reward_learning_recovers_the_reward_and_relabel_keeps_the_truth():
    rng = np.random.default_rng(0)
    n = 4000
    obs = rng.normal(size=(n, 3)).astype(np.float32)
    actions = rng.uniform(-1, 1, (n, 1)).astype(np.float32)
    rewards = obs[:, 0] - 0.5 * obs[:, 1] ** 2
    timeouts = (np.arange(n) % 40) == 39
    ds = TransitionDataset(obs, actions, rewards, obs, np.zeros(n, bool), timeouts)
    model, data = learn_reward_offline(ds, 200, "oracle", segment_length=10,
                                       config=PreferenceConfig(hidden=(32, 32)), epochs=30, seed=0)
    assert len(data.pairs) == 200
    out = relabel_dataset(ds, model)
    assert np.corrcoef(out.rewards, rewards)[0, 1] > 0.8
    members = model.member_rewards(ds.obs, actions).detach().numpy()  # (E, N), each normalised on the dataset
    np.testing.assert_allclose(members.mean(1), 0.0, atol=1e-4)
    np.testing.assert_allclose(members.std(1, ddof=1), 1.0, rtol=1e-3)
    assert abs(out.rewards.mean()) < 1e-4 and 0.5 < out.rewards.std() <= 1.0 + 1e-4  # their mean: std ≤ 1
    np.testing.assert_array_equal(out.extras["true_rewards"], rewards)
    np.testing.assert_array_equal(out.obs, ds.obs)


def test_relabelling_twice_keeps_the_original_rewards():
    class Const:
        def __init__(self, c):
            self.c = c

        def reward(self, obs, actions, next_obs):
            return torch.full((len(obs),), self.c)

    n = 20
    ds = TransitionDataset(np.zeros((n, 2)), np.zeros((n, 1)), np.arange(n, dtype=np.float32), np.zeros((n, 2)),
                           np.zeros(n, bool), np.arange(n) % 10 == 9)
    twice = relabel_dataset(relabel_dataset(ds, Const(1.0)), Const(2.0))
    np.testing.assert_array_equal(twice.rewards, 2.0)
    np.testing.assert_array_equal(twice.extras["true_rewards"], np.arange(n))


def test_disagreement_needs_two_members():
    with pytest.raises(OrlkitError, match="at least 2 members"):
        PreferenceRLConfig(sampling="disagreement", reward=PreferenceConfig(ensemble_size=1))
    PreferenceRLConfig(sampling="uniform", reward=PreferenceConfig(ensemble_size=1))
