"""One contract for every reward model: reward(obs, actions, next_obs) -> (B,) finite, training changes it,
save + load_reward_model gives identical rewards, and `orlkit relabel` writes a dataset with those rewards."""

import numpy as np
import pytest
import torch

from orlkit.cli import main
from orlkit.data.dataset import TransitionDataset
from orlkit.data.formats import load_dataset_file, save_dataset
from orlkit.data.preferences import PreferenceData, Segment
from orlkit.errors import OrlkitError
from orlkit.rewards.adversarial import AdversarialConfig, make_discriminator
from orlkit.rewards.base import REWARD_KINDS, RewardModel, load_reward_model, relabel_rewards
from orlkit.rewards.goal_classifier import GoalClassifier, GoalClassifierConfig
from orlkit.rewards.preference import PreferenceConfig, PreferenceRewardModel

pytestmark = pytest.mark.usefixtures("one_torch_thread")
OBS, ACT, N = 3, 2, 64


def _batch(seed=0):
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(N, OBS)).astype(np.float32)
    return obs, rng.uniform(-1, 1, (N, ACT)).astype(np.float32), rng.normal(size=(N, OBS)).astype(np.float32)


def _trained(kind: str, steps: int = 5) -> RewardModel:
    """A small reward model of ``kind`` after ``steps`` updates (0: as initialised; the same seed either way)."""
    torch.manual_seed(0)
    obs, act, nxt = _batch()
    if kind == "preference":
        m = PreferenceRewardModel(OBS, ACT, PreferenceConfig(hidden=(16,), batch_size=8))
        segs = [Segment(obs[i:i + 4], act[i:i + 4], obs[i:i + 4, 0]) for i in range(0, N, 4)]
        data = PreferenceData(segs)
        for i in range(0, len(segs) - 1, 2):
            data.add_pair(i, i + 1, float(segs[i].rewards.sum() > segs[i + 1].rewards.sum()))
        if steps:
            m.fit(data, steps=steps)
        return m
    if kind == "goal_classifier":
        m = GoalClassifier(OBS, GoalClassifierConfig(hidden=(16,), batch_size=16))
        if steps:
            m.train_frozen(obs[:20], obs[20:], steps=steps)
        return m
    m = make_discriminator(OBS, ACT, AdversarialConfig(kind=kind, hidden=(16,), batch_size=16))
    logp = (lambda o, a: torch.zeros(len(o))) if kind == "airl" else None
    for _ in range(steps):
        m.update({"obs": obs[:32], "actions": act[:32], "next_obs": nxt[:32]},
                 {"obs": obs[32:], "actions": act[32:], "next_obs": nxt[32:]}, policy_logp_fn=logp)
    return m


@pytest.mark.parametrize("kind", REWARD_KINDS)
def test_reward_contract(kind, tmp_path):
    model = _trained(kind)
    assert isinstance(model, RewardModel)
    obs, act, nxt = _batch(1)
    r = model.reward(torch.from_numpy(obs), torch.from_numpy(act), torch.from_numpy(nxt))
    assert r.shape == (N,) and torch.isfinite(r).all() and r.std() > 0
    inputs = (torch.from_numpy(obs), torch.from_numpy(act), torch.from_numpy(nxt))
    untrained = _trained(kind, steps=0).reward(*inputs)
    torch.testing.assert_close(_trained(kind, steps=0).reward(*inputs), untrained)  # the same start every time
    assert (r - untrained).abs().max() > 1e-4  # so training is what changed it
    model.save(tmp_path / "m")
    loaded = load_reward_model(tmp_path / "m")
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(relabel_rewards(model, obs, act, nxt), relabel_rewards(loaded, obs, act, nxt))

    ds = TransitionDataset(obs, act, np.zeros(N, np.float32), nxt, np.zeros(N, bool), np.arange(N) % 16 == 15)
    save_dataset(ds, tmp_path / "d.npz")
    assert main(["relabel", "--reward", str(tmp_path / "m.json"), "--dataset", str(tmp_path / "d.npz"),
                 "--out", str(tmp_path / "r.npz")]) == 0
    out = load_dataset_file(tmp_path / "r.npz")
    np.testing.assert_allclose(out.rewards, relabel_rewards(model, obs, act, nxt), rtol=1e-6)
    np.testing.assert_array_equal(out.extras["true_rewards"], 0.0)


def test_a_file_that_is_not_a_reward_model_is_refused(tmp_path, capsys):
    from orlkit.algos import config_from_dict, make_algorithm
    from orlkit.algos.base import DataSpec

    make_algorithm("bc", DataSpec(OBS, None, ACT), config_from_dict("bc", {"hidden": (8,)})).save(tmp_path / "bc")
    with pytest.raises(OrlkitError, match="not a reward model checkpoint"):
        load_reward_model(tmp_path / "bc")
    assert main(["relabel", "--reward", str(tmp_path / "nothing"), "--dataset", "x", "--out", "y.npz"]) == 2
    assert "checkpoint not found" in capsys.readouterr().err


def test_relabel_refuses_data_of_another_shape(tmp_path, capsys):
    _trained("preference").save(tmp_path / "m")
    n = 32
    ds = TransitionDataset(np.zeros((n, OBS + 1)), np.zeros((n, ACT)), np.zeros(n), np.zeros((n, OBS + 1)),
                           np.zeros(n, bool), np.arange(n) % 8 == 7)
    save_dataset(ds, tmp_path / "d.npz")
    assert main(["relabel", "--reward", str(tmp_path / "m"), "--dataset", str(tmp_path / "d.npz"),
                 "--out", str(tmp_path / "r.npz")]) == 2
    assert "the reward model takes 3-dim observations, the dataset has observations of shape (4,)" in \
        capsys.readouterr().err
    assert not (tmp_path / "r.npz").exists()
