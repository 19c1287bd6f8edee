"""D4RL-style locomotion datasets: export of behavior weights, every quality's layout, determinism."""

import json

import numpy as np
import pytest
import torch

import orlkit.data.locomotion as loco
from orlkit.algos.sac import SAC, SACConfig
from orlkit.data.registry import DATASETS, dataset_names
from orlkit.envs.make import normalized_score
from orlkit.errors import OrlkitError
from orlkit.train.online import OnlineConfig, continuous_spec, train_online


@pytest.fixture(scope="module")
def tiny_behavior(tmp_path_factory):
    """A 300-step Hopper SAC run (32×32 nets) with snapshots every 100 steps, exported like the real ones."""
    root = tmp_path_factory.mktemp("behavior")
    run = OnlineConfig("Hopper-v5", steps=300, start_steps=50, update_after=50, eval_every=0, eval_episodes=1,
                       snapshot_every=100)
    algo = SAC(SACConfig(hidden=(32, 32), batch_size=32), continuous_spec("Hopper-v5"), seed=0)
    train_online(algo, run, root / "run", progress=False)
    loco.export_behavior(root / "run", "hopper", medium_step=200, expert_step=300, replay_steps=[100],
                         returns={"medium": 1.0, "expert": 2.0}, out_dir=root / "out")
    return root / "out"


@pytest.fixture(scope="module")
def tiny_run(tiny_behavior):
    return tiny_behavior.parent / "run"


@pytest.fixture
def shipped(tiny_behavior, monkeypatch):
    monkeypatch.setattr(loco, "BEHAVIOR_DIR", tiny_behavior)
    return tiny_behavior


def _check_layout(ds, n):
    assert len(ds) == n
    assert ds.obs.dtype == np.float32 and ds.actions.shape == (n, 3)
    assert np.all(np.abs(ds.actions) <= 1.0)
    assert not np.any(ds.terminals & ds.timeouts)
    assert ds.terminals[-1] or ds.timeouts[-1]
    # rows of one episode are contiguous: each next_obs is the following row's obs
    ends = ds.terminals | ds.timeouts
    inner = np.flatnonzero(~ends[:-1])
    np.testing.assert_array_equal(ds.next_obs[inner], ds.obs[inner + 1])


def test_export_writes_float16_actors_and_metadata(shipped):
    info = json.loads((shipped / "hopper.json").read_text())
    assert info["policies"] == ["medium", "expert", "replay_00"]
    assert info["replay"] == {"policies": ["replay_00", "medium"], "steps": 200, "start_steps": 50}
    assert info["hidden"] == [32, 32] and info["obs_dim"] == 11 and info["action_dim"] == 3
    from safetensors.torch import load_file
    tensors = load_file(str(shipped / "hopper.safetensors"))
    assert {str(t.dtype) for t in tensors.values()} == {"torch.float16"}
    assert all(k.split(".")[0] in info["policies"] for k in tensors)  # actors only, no critics or optimizer
    loaded = loco.load_behavior_policy("hopper", "medium").state_dict()  # float32, the shipped values
    medium = {k[len("medium."):]: v for k, v in tensors.items() if k.startswith("medium.")}
    assert medium and all(loaded[k].dtype == torch.float32 for k in medium)
    for k, v in medium.items():
        torch.testing.assert_close(loaded[k], v.float(), rtol=0, atol=0)


@pytest.mark.parametrize("quality", ["random", "medium", "expert", "medium-replay"])
def test_every_quality_has_whole_episodes(shipped, quality):
    ds = loco.make_locomotion_dataset("hopper", quality, seed=0, n_transitions=1500, n_envs=4)
    _check_layout(ds, 1500)
    assert ds.meta["quality"] == quality and ds.meta["env_id"] == "Hopper-v5"


def test_deterministic_in_the_seed(shipped):
    a = loco.make_locomotion_dataset("hopper", "medium", seed=3, n_transitions=800, n_envs=4)
    b = loco.make_locomotion_dataset("hopper", "medium", seed=3, n_transitions=800, n_envs=4)
    c = loco.make_locomotion_dataset("hopper", "medium", seed=4, n_transitions=800, n_envs=4)
    for name in ("obs", "actions", "rewards", "terminals", "timeouts"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.actions, c.actions)


def test_medium_expert_is_medium_then_expert(shipped):
    ds = loco.make_locomotion_dataset("hopper", "medium-expert", seed=0, n_transitions=600, n_envs=2)
    medium = loco.make_locomotion_dataset("hopper", "medium", seed=0, n_transitions=600, n_envs=2)
    expert = loco.make_locomotion_dataset("hopper", "expert", seed=1, n_transitions=600, n_envs=2)
    _check_layout(ds, 1200)
    np.testing.assert_array_equal(ds.actions[:600], medium.actions)
    np.testing.assert_array_equal(ds.actions[600:], expert.actions)


def test_medium_replay_starts_random_and_defaults_to_the_runs_length(shipped):
    ds = loco.make_locomotion_dataset("hopper", "medium-replay", seed=0, n_envs=2)
    _check_layout(ds, 200)  # the medium snapshot was taken at step 200
    random_part = loco.make_locomotion_dataset("hopper", "random", seed=0, n_transitions=50, n_envs=2)
    np.testing.assert_array_equal(ds.actions[:50], random_part.actions)  # the run's 50 random start steps


def test_random_actions_cover_the_box(shipped):
    ds = loco.make_locomotion_dataset("hopper", "random", seed=0, n_transitions=3000, n_envs=4)
    assert np.abs(ds.actions.mean(0)).max() < 0.05
    np.testing.assert_allclose(ds.actions.std(0), np.sqrt(1 / 3), atol=0.02)  # Uniform(-1, 1)


def test_clear_errors(shipped):
    with pytest.raises(OrlkitError, match="unknown locomotion env 'ant'"):
        loco.make_locomotion_dataset("ant", "medium")
    with pytest.raises(OrlkitError, match="unknown dataset quality 'good'"):
        loco.make_locomotion_dataset("hopper", "good")
    with pytest.raises(OrlkitError, match="no behavior policy 'replay_07'"):
        loco.load_behavior_policy("hopper", "replay_07")
    with pytest.raises(OrlkitError, match="no behavior policies shipped for 'walker2d'"):
        loco.make_locomotion_dataset("walker2d", "medium", n_transitions=10)


def test_registered_with_d4rl_reference_returns():
    names = dataset_names()
    for env_key, env_id in loco.ENVS.items():
        for quality in loco.QUALITIES:
            assert f"{env_key}-{quality}" in names and DATASETS[f"{env_key}-{quality}"].env_id == env_id
    assert normalized_score("Hopper-v5", 3234.3) == pytest.approx(100.0)
    assert normalized_score("HalfCheetah-v5", -280.178953) == pytest.approx(0.0)
    assert normalized_score("Walker2d-v5", (1.629008 + 4592.3) / 2) == pytest.approx(50.0)


def test_select_and_export_picks_expert_medium_and_replay(tiny_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    (run / "eval.jsonl").write_text("".join(json.dumps({"step": s, "return_mean": r}) + "\n"
                                            for s, r in ((100, 10.0), (200, 40.0), (300, 100.0))))
    info = loco.select_and_export(run, "hopper", n_replay=3, out_dir=tmp_path / "out")
    assert info["steps"] == {"medium": 200, "expert": 300, "replay_00": 100}  # 40 is closest to 100/3
    assert info["eval_returns_deterministic"] == {"medium": 40.0, "expert": 100.0}
    for name in ("medium", "expert"):
        assert info["returns"][name]["episodes"] >= 1 and np.isfinite(info["returns"][name]["mean"])
    (run / "eval.jsonl").write_text(json.dumps({"step": 100, "return_mean": 50.0}) + "\n"
                                    + json.dumps({"step": 200, "return_mean": 5.0}) + "\n")  # best comes first
    with pytest.raises(OrlkitError, match="nothing can be medium"):
        loco.select_and_export(run, "hopper", out_dir=tmp_path / "out2")


def test_d4rl_hdf5_and_minari_locomotion_files_train_with_env(tmp_path, monkeypatch):
    """A user's own D4RL-layout HDF5 (no next_observations, 0/1 float flags) or local Minari dataset of
    Hopper trains with ``--dataset PATH --env Hopper-v5`` and is evaluated in that env."""
    import h5py

    from orlkit.cli import main
    from orlkit.data.formats import save_minari

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    ds = loco.make_locomotion_dataset("hopper", "random", seed=0, n_transitions=600, n_envs=2)
    with h5py.File("hopper-random-v2.hdf5", "w") as f:
        f["observations"], f["actions"], f["rewards"] = ds.obs, ds.actions, ds.rewards
        f["terminals"], f["timeouts"] = ds.terminals.astype(np.float32), ds.timeouts.astype(np.float32)
    save_minari(ds, "orlkit-test/hopper-random-v0", env_id="Hopper-v5")
    for i, source in enumerate(("hopper-random-v2.hdf5", "minari:orlkit-test/hopper-random-v0")):
        out = tmp_path / f"run{i}"
        assert main(["train", "bc", "--dataset", source, "--env", "Hopper-v5", "--steps", "20", "--eval-episodes",
                     "1", "--no-tensorboard", "--quiet", "--out", str(out)]) == 0
        row = json.loads((out / "eval.jsonl").read_text().splitlines()[-1])
        assert row["step"] == 20 and np.isfinite(row["normalized_score"])


def test_mujoco_warnings_go_to_python_warnings_not_a_log_file(tmp_path, monkeypatch):
    # gymnasium's half_cheetah.xml makes MuJoCo >= 3.3 warn on every load; by default MuJoCo also
    # appends the warning to MUJOCO_LOG.TXT in the working directory
    import warnings

    import mujoco

    from orlkit.envs.make import make_env

    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make_env("HalfCheetah-v5").close()
    assert not (tmp_path / "MUJOCO_LOG.TXT").exists()
    if tuple(int(x) for x in mujoco.__version__.split(".")[:2]) >= (3, 3):
        assert any(str(w.message).startswith("MuJoCo:") for w in caught)  # the warning arrived, not dropped


def test_mujoco_warning_under_warnings_as_errors_does_not_abort():
    # the handler runs inside MuJoCo's C callback: an exception there would abort the process
    import subprocess
    import sys

    code = "from orlkit.envs.make import make_env; make_env('HalfCheetah-v5').close(); print('ok')"
    done = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-500:]


def test_select_and_export_can_choose_medium_by_sampled_return(tiny_run, tmp_path, monkeypatch):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    (run / "eval.jsonl").write_text("".join(json.dumps({"step": s, "return_mean": r}) + "\n"
                                            for s, r in ((100, 10.0), (200, 40.0), (300, 100.0))))
    # sampled returns made up per exported policy: the deterministic rule would pick 200 (40 ≈ 100/3)
    fake = {"expert": 90.0, "replay_00": 31.0, "replay_01": 5.0}

    def returns(env_key, name, episodes=10, seed=0, directory=None):
        return {"mean": fake.get(name, 0.0), "std": 0.0, "episodes": episodes}

    monkeypatch.setattr(loco, "policy_returns", returns)
    info = loco.select_and_export(run, "hopper", n_replay=3, out_dir=tmp_path / "out", medium_by="sampled")
    assert info["steps"]["medium"] == 100 and info["steps"]["expert"] == 300  # 31 is closest to 90/3
    assert info["medium_by_sampled_return"] == {"100": 31.0, "200": 5.0}
    assert info["returns"]["medium"]["mean"] == 31.0 and info["returns"]["expert"]["mean"] == 90.0  # not measured again
    with pytest.raises(OrlkitError, match="medium_by must be"):
        loco.select_and_export(run, "hopper", out_dir=tmp_path / "out2", medium_by="mean")
