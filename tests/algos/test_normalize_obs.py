"""``--set normalize_obs=true``: observations standardised by the data's mean and std (TD3+BC's state normalisation),
the same statistics applied to raw observations at acting time, kept in checkpoints and checked when loaded."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from orlkit.algos import DataSpec, default_config, make_algorithm
from orlkit.algos.base import OBS_STD_EPS
from orlkit.data.collect import collect
from orlkit.data.dataset import TransitionDataset
from orlkit.data.formats import save_dataset
from orlkit.errors import OrlkitError
from orlkit.train.checkpoint import latest_checkpoint, read_checkpoint
from orlkit.train.fit import RunConfig, load_run, train
from orlkit.train.io import read_jsonl
from orlkit.train.online import OnlineConfig, train_online

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def pendulum() -> TransitionDataset:
    """Pendulum with random actions, its velocity feature shifted and scaled far from unit range."""
    ds = collect("Pendulum-v1", lambda o: np.zeros(1, np.float32), 300, seed=0, epsilon=lambda p: 1.0)
    cols = ds.columns()
    cols["actions"] = cols["actions"] / 2.0
    for key in ("obs", "next_obs"):
        cols[key] = cols[key] * np.float32([1, 1, 40]) + np.float32([0, 0, 500])
    return TransitionDataset(**cols, meta={**ds.meta, "env_id": None})


def td3bc(ds: TransitionDataset, normalize: bool):
    cfg = dataclasses.replace(default_config("td3bc"), hidden=(32, 32), batch_size=64, normalize_obs=normalize)
    return make_algorithm("td3bc", DataSpec.from_dataset(ds), cfg, seed=3)


def test_prepared_data_is_standardised_and_the_raw_data_untouched(pendulum: TransitionDataset) -> None:
    raw_obs = pendulum.obs.copy()
    algo = td3bc(pendulum, True)
    prepared = algo.prepare(pendulum)
    np.testing.assert_array_equal(pendulum.obs, raw_obs)
    np.testing.assert_allclose(prepared.obs.mean(0), 0.0, atol=1e-4)
    std = raw_obs.std(0)
    np.testing.assert_allclose(prepared.obs.std(0), std / (std + OBS_STD_EPS), rtol=1e-4)
    # next_obs with the same statistics (not their own): the same state gets the same input either way
    mean, scale = algo.obs_mean.numpy(), algo.obs_std.numpy()
    np.testing.assert_allclose(prepared.next_obs, (pendulum.next_obs - mean) / scale, rtol=1e-5, atol=1e-5)
    assert td3bc(pendulum, False).prepare(pendulum) is pendulum  # off: the data as it is


def test_act_standardises_raw_observations_with_the_data_statistics(pendulum: TransitionDataset) -> None:
    normed, plain = td3bc(pendulum, True), td3bc(pendulum, False)  # same seed: identical networks
    normed.prepare(pendulum)
    raw = pendulum.obs[:20]
    by_hand = (raw - normed.obs_mean.numpy()) / normed.obs_std.numpy()
    np.testing.assert_array_equal(normed.act(raw), plain.act(by_hand))
    np.testing.assert_array_equal(normed.act(raw[0]), plain.act(by_hand[0]))
    np.testing.assert_array_equal(normed.value_estimate(raw), plain.value_estimate(by_hand))
    assert not np.array_equal(plain.act(raw), plain.act(by_hand))  # the statistics matter on this data


def test_checkpoint_keeps_the_statistics_and_refuses_bad_ones(pendulum: TransitionDataset, tmp_path: Path) -> None:
    algo = td3bc(pendulum, True)
    sampler = algo.prepare(pendulum).sampler(64, seed=0)
    for _ in range(5):
        algo.update(sampler.sample())
    algo.save(str(tmp_path / "ckpt"))
    loaded = td3bc(pendulum, True)
    loaded.load(str(tmp_path / "ckpt"))
    assert torch.equal(loaded.obs_mean, algo.obs_mean) and torch.equal(loaded.obs_std, algo.obs_std)
    np.testing.assert_array_equal(loaded.act(pendulum.obs[:10]), algo.act(pendulum.obs[:10]))

    tensors, meta = read_checkpoint(tmp_path / "ckpt")
    untouched = td3bc(pendulum, True)
    before = {k: v.clone() for k, v in untouched.state_tensors().items() if k.startswith("modules.")}
    bad_cases = {
        "no statistics": {k: v for k, v in tensors.items() if not k.startswith("obs_norm.")},
        "NaN mean": {**tensors, "obs_norm.mean": torch.full((3,), float("nan"))},
        "zero std": {**tensors, "obs_norm.std": torch.zeros(3)},
        "wrong length": {**tensors, "obs_norm.std": torch.ones(4)},
    }
    for case, bad in bad_cases.items():
        with pytest.raises(OrlkitError, match="obs_norm|normalize_obs"):
            untouched.load_state(bad, meta["state"])
        after = untouched.state_tensors()
        assert all(torch.equal(before[k], after[k]) for k in before), f"{case}: weights loaded before the refusal"


@pytest.fixture(scope="module")
def cartpole_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    ds = collect("CartPole-v1", lambda o: int(o[2] + o[3] > 0), 800, seed=0, epsilon=lambda p: 0.3)
    return str(save_dataset(ds, tmp_path_factory.mktemp("data") / "cartpole.npz"))


def run_config(path: str, steps: int) -> RunConfig:
    return RunConfig(algo="cql-discrete", dataset=path, steps=steps, eval_every=20, eval_episodes=2, log_every=10,
                     tensorboard=False, config={"hidden": (32, 32), "batch_size": 64, "normalize_obs": True})


def test_a_run_logs_the_estimate_at_raw_start_states_and_resumes_exactly(cartpole_path: str, tmp_path: Path) -> None:
    full, parts = tmp_path / "full", tmp_path / "parts"
    train(run_config(cartpole_path, 40), full, progress=False)
    train(run_config(cartpole_path, 20), parts, progress=False)
    train(run_config(cartpole_path, 40), parts, resume=True, progress=False)
    (ta, _), (tb, _) = (read_checkpoint(latest_checkpoint(d / "checkpoints")) for d in (full, parts))
    assert "obs_norm.mean" in ta and ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta)

    # the logged critic estimate is the loaded algorithm's at the raw data's start states (normalised once)
    algo, _, _ = load_run(full)
    raw = np.load(cartpole_path)
    starts = np.flatnonzero(np.r_[True, (raw["terminals"] | raw["timeouts"])[:-1]])
    expected = float(np.mean(algo.value_estimate(raw["obs"][starts])))
    assert read_jsonl(full / "eval.jsonl")[-1]["q_estimate"] == pytest.approx(expected, rel=1e-6)


def test_online_training_refuses_it() -> None:
    cfg = dataclasses.replace(default_config("sac"), hidden=(8,), normalize_obs=True)
    algo = make_algorithm("sac", DataSpec(3, None, 1), cfg)
    with pytest.raises(OrlkitError, match="normalize_obs"):
        train_online(algo, OnlineConfig("Pendulum-v1", steps=10), progress=False)
