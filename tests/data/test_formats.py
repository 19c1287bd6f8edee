"""Dataset files: round trips for every format, the D4RL HDF5 layout, and one test per bad input.

The bad-input cases also generate ``docs/bad-input.md``; after changing an error message, run
``python tests/data/test_formats.py > docs/bad-input.md`` (a test checks that it is current).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orlkit.data.dataset import FIELDS, TransitionDataset
from orlkit.data.formats import check_fits_env, load_dataset_file, save_dataset, save_minari
from orlkit.errors import DatasetError

DOC = Path(__file__).resolve().parents[2] / "docs" / "bad-input.md"
D4RL_NAMES = {"obs": "observations", "next_obs": "next_observations"}


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty directory, with Minari's local datasets kept in it (never in ~/.minari)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))  # minari needs it absolute
    return tmp_path


def make_dataset(discrete: bool = True, n: int = 9, obs_shape: tuple[int, ...] = (3,),
                 meta: dict | None = None) -> TransitionDataset:
    """Episodes: rows 0-3 (terminal), 4-6 (timeout), 7-8 (unflagged end); obs in [-1, 1]."""
    rng = np.random.default_rng(0)
    seq = rng.uniform(-1, 1, (n + 1, *obs_shape)).astype(np.float32)  # one observation sequence
    terminals, timeouts = np.zeros(n, bool), np.zeros(n, bool)
    terminals[3], timeouts[6] = True, True
    actions = rng.integers(0, 3, n) if discrete else rng.uniform(-1, 1, (n, 1)).astype(np.float32)
    return TransitionDataset(seq[:-1], actions, rng.normal(size=n).astype(np.float32), seq[1:], terminals,
                             timeouts, n_actions=5 if discrete else None, meta=meta)


def assert_same(a: TransitionDataset, b: TransitionDataset) -> None:
    for name in FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        np.testing.assert_array_equal(x, y, err_msg=name)
    assert a.n_actions == b.n_actions


# ---------------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("ext", ["npz", "hdf5", "h5", "parquet"])
@pytest.mark.parametrize("discrete", [True, False], ids=["discrete", "continuous"])
def test_file_round_trip(in_tmp: Path, ext: str, discrete: bool) -> None:
    ds = make_dataset(discrete, meta={"env_id": "CartPole-v1", "note": "ü"})
    path = save_dataset(ds, f"data.{ext}")
    loaded = load_dataset_file(path)
    assert_same(ds, loaded)
    assert loaded.source == f"data.{ext}"
    assert loaded.meta == ds.meta | ({"n_actions": 5} if discrete else {})
    assert os.listdir(in_tmp) == [f"data.{ext}"]  # no temporary file left behind


@pytest.mark.parametrize("ext", ["npz", "hdf5", "parquet"])
def test_loaded_columns_are_writable_and_a_sampler_does_not_warn(in_tmp: Path, ext: str) -> None:
    """Arrow hands out read-only views; torch warns when it wraps one (seen once with Parquet files)."""
    import warnings

    ds = make_dataset(False)
    ds = TransitionDataset(**ds.columns(), extras={"p": np.linspace(0, 1, len(ds.rewards)).astype(np.float32)})
    loaded = load_dataset_file(save_dataset(ds, f"data.{ext}"))
    assert all(col.flags.writeable for col in [*loaded.columns().values(), *loaded.extras.values()])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded.sampler(4, seed=0).sample()


@pytest.mark.parametrize("ext", ["npz", "hdf5", "parquet"])
def test_round_trip_keeps_extras(in_tmp: Path, ext: str) -> None:
    ds = make_dataset()
    rng = np.random.default_rng(2)
    extras = {"propensities": rng.uniform(0.1, 1.0, len(ds)).astype(np.float32),
              "user_id": np.arange(len(ds)) % 4, "flag": np.arange(len(ds)) % 2 == 0,
              "features": rng.normal(size=(len(ds), 2)).astype(np.float32)}
    ds = TransitionDataset(**ds.columns(), n_actions=ds.n_actions, extras=extras)
    loaded = load_dataset_file(save_dataset(ds, f"extras.{ext}"))
    assert_same(ds, loaded)
    assert sorted(loaded.extras) == sorted(extras)
    for name, col in extras.items():
        assert loaded.extras[name].dtype == col.dtype, name
        np.testing.assert_array_equal(loaded.extras[name], col, err_msg=name)


def test_extras_follow_the_rows_kept_when_next_obs_is_derived(in_tmp: Path) -> None:
    cols = columns()
    del cols["next_obs"]
    cols["timeouts"][1] = True  # row 1 has no next observation and is dropped
    with h5py.File("d4rl.hdf5", "w") as f:
        for name, col in cols.items():
            f[D4RL_NAMES.get(name, name)] = col
        f["extra__propensities"] = np.linspace(0.1, 0.6, 6, dtype=np.float32)
    ds = load_dataset_file("d4rl.hdf5")
    np.testing.assert_array_equal(ds.extras["propensities"], np.float32([0.1, 0.3, 0.4, 0.5, 0.6]))


@pytest.mark.parametrize("ext", ["npz", "hdf5", "parquet"])
def test_round_trip_keeps_image_shaped_obs(in_tmp: Path, ext: str) -> None:
    ds = make_dataset(obs_shape=(2, 3))
    assert_same(ds, load_dataset_file(save_dataset(ds, f"img.{ext}")))


@pytest.mark.parametrize("discrete", [True, False], ids=["discrete", "continuous"])
def test_minari_round_trip(in_tmp: Path, discrete: bool) -> None:
    ds = make_dataset(discrete, meta={"note": "x"})
    save_minari(ds, "test/tiny-v0")
    loaded = load_dataset_file("minari:test/tiny-v0")
    assert_same(ds, loaded)
    expected_meta = ds.meta | {"minari_dataset_id": "test/tiny-v0"} | ({"n_actions": 5} if discrete else {})
    assert loaded.meta == expected_meta
    assert Path("minari/test/tiny-v0").is_dir()


def test_minari_round_trip_with_env(in_tmp: Path) -> None:
    ds = make_dataset(discrete=False)
    save_minari(ds, "test/pendulum-v0", env_id="Pendulum-v1")
    loaded = load_dataset_file("minari:test/pendulum-v0")
    assert_same(ds, loaded)
    assert loaded.meta["env_id"] == "Pendulum-v1"


def test_minari_unflagged_episode_end_becomes_timeout(in_tmp: Path) -> None:
    import minari
    from minari.data_collector.episode_buffer import EpisodeBuffer

    obs = np.arange(8, dtype=np.float32).reshape(4, 2)
    flags = np.zeros(3, bool)
    eps = [EpisodeBuffer(id=k, observations=obs, actions=np.array([0, 1, 0]), rewards=np.ones(3),
                         terminations=flags, truncations=flags) for k in range(2)]
    with pytest.warns(UserWarning):
        minari.create_dataset_from_buffers("test/cut-v0", eps, observation_space=gym.spaces.Box(-9, 9, (2,)),
                                           action_space=gym.spaces.Discrete(2))
    ds = load_dataset_file("minari:test/cut-v0")
    np.testing.assert_array_equal(ds.timeouts, [0, 0, 1, 0, 0, 0])
    assert ds.n_episodes == 2 and ds.n_actions == 2
    assert ds.meta["unflagged_episode_ends_marked_timeout"] == 1


def test_d4rl_hdf5_without_next_observations(in_tmp: Path) -> None:
    # Episodes: rows 0-2 (timeout), 3-5 (terminal), 6-7 (unflagged end of the file).
    obs = np.arange(16, dtype=np.float32).reshape(8, 2)
    with h5py.File("d4rl.hdf5", "w") as f:
        f["observations"] = obs
        f["actions"] = np.zeros((8, 1), np.float32)
        f["rewards"] = np.arange(8, dtype=np.float32)
        f["terminals"] = np.array([0, 0, 0, 0, 0, 1, 0, 0], np.float32)  # D4RL stores 0/1 floats
        f["timeouts"] = np.array([0, 0, 1, 0, 0, 0, 0, 0], bool)
        f.attrs["env_id"] = "hopper-medium"
        f["metadata/algorithm"] = b"SAC"
        f["metadata/policy/weight"] = np.zeros((4, 4))  # arrays are not metadata
    ds = load_dataset_file("d4rl.hdf5")
    kept = [0, 1, 3, 4, 5, 6]
    np.testing.assert_array_equal(ds.obs, obs[kept])
    np.testing.assert_array_equal(ds.next_obs, obs[[1, 2, 4, 5, 5, 7]])  # terminal row 5: its own obs
    np.testing.assert_array_equal(ds.rewards, kept)
    np.testing.assert_array_equal(ds.terminals, [0, 0, 0, 0, 1, 0])
    np.testing.assert_array_equal(ds.timeouts, [0, 1, 0, 0, 0, 1])  # rows before dropped ones end episodes
    assert ds.n_episodes == 3
    assert ds.meta == {"env_id": "hopper-medium", "algorithm": "SAC", "dropped_rows_without_next_obs": 2}


def test_npz_with_d4rl_names_and_n_actions_override(in_tmp: Path) -> None:
    ds = make_dataset()
    np.savez("d4rl.npz", **{D4RL_NAMES.get(k, k): v for k, v in ds.columns().items()})
    loaded = load_dataset_file("d4rl.npz", n_actions=7)
    np.testing.assert_array_equal(loaded.next_obs, ds.next_obs)
    assert loaded.n_actions == 7


def test_failed_save_keeps_the_old_file(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    save_dataset(make_dataset(), "data.npz")
    before = Path("data.npz").read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        save_dataset(make_dataset(n=8), "data.npz")
    assert Path("data.npz").read_bytes() == before
    assert os.listdir(in_tmp) == ["data.npz"]


def test_data_that_fits_the_env_passes() -> None:
    base = make_dataset(obs_shape=(4,))
    small = {"obs": base.obs * 0.1, "next_obs": base.next_obs * 0.1, "actions": base.actions % 2}
    cartpole = TransitionDataset(**(base.columns() | small), n_actions=2)  # in CartPole's bounds
    check_fits_env(cartpole, gym.make("CartPole-v1"))
    check_fits_env(make_dataset(discrete=False), gym.make("Pendulum-v1"))


# ---------------------------------------------------------------------------------- bad input
def columns(n: int = 6) -> dict[str, np.ndarray]:
    """Valid discrete columns (3 actions); the bad-input cases break one thing."""
    rng = np.random.default_rng(1)
    seq = rng.uniform(-1, 1, (n + 1, 3)).astype(np.float32)
    terminals = np.zeros(n, bool)
    terminals[-1] = True
    return {"obs": seq[:-1], "actions": np.arange(n) % 3, "rewards": np.ones(n, np.float32),
            "next_obs": seq[1:].copy(), "terminals": terminals, "timeouts": np.zeros(n, bool)}


def write_hdf5(path: str, cols: dict[str, np.ndarray]) -> str:
    with h5py.File(path, "w") as f:
        for name, col in cols.items():
            f[D4RL_NAMES.get(name, name)] = col
    return path


def write_parquet(path: str, cols: dict[str, list | np.ndarray]) -> str:
    table = pa.table({k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in cols.items()})
    pq.write_table(table, path)
    return path


def write_npz(path: str, cols: dict[str, np.ndarray]) -> str:
    np.savez(path, **cols)
    return path


def random_bytes(path: str) -> str:
    Path(path).write_bytes(np.random.default_rng(0).bytes(512))
    return path


def nan_rewards() -> None:
    cols = columns()
    cols["rewards"][3] = np.nan
    load_dataset_file(write_npz("nan_rewards.npz", cols))


def inf_obs() -> None:
    cols = columns()
    cols["obs"][2, 1] = np.inf
    load_dataset_file(write_hdf5("inf_obs.hdf5", cols))


def nan_obs_derived_next_obs() -> None:
    cols = columns()
    del cols["next_obs"]
    cols["timeouts"][1] = True  # row 1 is dropped: no next observation
    cols["obs"][4, 0] = np.nan
    load_dataset_file(write_hdf5("no_next_obs.hdf5", cols))


def length_mismatch() -> None:
    cols = columns()
    cols["rewards"] = cols["rewards"][:-1]
    load_dataset_file(write_npz("short_rewards.npz", cols))


def huge_action_ids() -> None:
    cols = columns()
    cols["actions"] = cols["actions"].astype(np.int64)
    cols["actions"][2] = 2**40
    load_dataset_file(write_npz("huge_ids.npz", cols))


def flat_float_actions() -> None:
    cols = columns()
    cols["actions"] = cols["actions"].astype(np.float32)
    load_dataset_file(write_npz("flat_float_actions.npz", cols))


def bytes_actions_hdf5() -> None:
    cols = columns()
    cols["actions"] = np.array([b"a", b"b", b"c", b"a", b"b", b"c"])
    load_dataset_file(write_hdf5("bytes_actions.hdf5", cols))


def scalar_rewards_hdf5() -> None:
    cols = columns()
    cols["rewards"] = np.float32(1.0)
    load_dataset_file(write_hdf5("scalar_rewards.hdf5", cols))


def group_rewards_hdf5() -> None:
    cols = columns()
    rewards = cols.pop("rewards")
    path = write_hdf5("group_rewards.hdf5", cols)
    with h5py.File(path, "a") as f:
        f.create_group("rewards")["values"] = rewards
    load_dataset_file(path)


def flat_obs() -> None:
    cols = columns()
    cols["obs"] = cols["obs"][:, 0]
    load_dataset_file(write_npz("flat_obs.npz", cols))


def float_actions_discrete() -> None:
    cols = columns()
    cols["actions"] = cols["actions"].astype(np.float32)
    load_dataset_file(write_npz("float_actions.npz", cols), n_actions=3)


def action_out_of_range() -> None:
    cols = columns()
    cols["actions"][4] = 3
    load_dataset_file(write_npz("action_3.npz", cols), n_actions=3)


def terminal_two() -> None:
    cols = columns()
    cols["terminals"] = cols["terminals"].astype(np.int64)
    cols["terminals"][1] = 2
    load_dataset_file(write_npz("terminals_2.npz", cols))


def empty_parquet() -> None:
    floats = pa.list_(pa.float32())
    table = pa.table({"obs": pa.array([], floats), "actions": pa.array([], pa.int64()),
                      "rewards": pa.array([], pa.float32()), "next_obs": pa.array([], floats),
                      "terminals": pa.array([], pa.bool_()), "timeouts": pa.array([], pa.bool_())})
    pq.write_table(table, "empty.parquet")
    load_dataset_file("empty.parquet")


def object_extra_save() -> None:
    cols = columns()
    save_dataset(TransitionDataset(**cols, extras={"user": np.array(list("abcdef"), dtype=object)}), "objects.npz")


def null_extra_parquet() -> None:
    cols = columns()
    propensities = [0.5] * 6
    propensities[2] = None
    load_dataset_file(write_parquet("null_propensity.parquet", cols | {"extra__propensities": propensities}))


def missing_npz() -> None:
    cols = columns()
    del cols["rewards"]
    load_dataset_file(write_npz("no_rewards.npz", cols))


def missing_hdf5() -> None:
    cols = columns()
    del cols["terminals"], cols["timeouts"]
    load_dataset_file(write_hdf5("no_flags.hdf5", cols))


def missing_parquet() -> None:
    cols = columns()
    del cols["next_obs"], cols["timeouts"]
    load_dataset_file(write_parquet("no_next_obs.parquet", cols))


def both_obs_names() -> None:
    cols = columns()
    load_dataset_file(write_npz("two_obs.npz", cols | {"observations": cols["obs"]}))


def ragged_parquet() -> None:
    cols = columns()
    obs = cols["obs"].tolist()
    obs[2] = obs[2][:2]
    load_dataset_file(write_parquet("ragged.parquet", cols | {"obs": obs}))


def null_parquet() -> None:
    cols = columns()
    rewards = cols["rewards"].tolist()
    rewards[1] = None
    load_dataset_file(write_parquet("null_reward.parquet", cols | {"rewards": rewards}))


def duplicate_column_parquet() -> None:
    cols = columns()
    table = pa.table({k: v.tolist() for k, v in cols.items()})
    table = table.append_column("rewards", pa.array(np.full(len(cols["rewards"]), 7.0, np.float32)))
    pq.write_table(table, "duplicate.parquet")
    load_dataset_file("duplicate.parquet")


def null_in_list_parquet() -> None:
    cols = columns()
    obs = cols["next_obs"].tolist()
    obs[3][1] = None
    load_dataset_file(write_parquet("null_in_list.parquet", cols | {"next_obs": obs}))


def object_array_npz() -> None:
    cols = columns()
    cols["actions"] = np.array([0, 1, "jump", 0, 1, 2], dtype=object)
    load_dataset_file(write_npz("objects.npz", cols))


def bad_meta_npz() -> None:
    load_dataset_file(write_npz("bad_meta.npz", columns() | {"meta": np.array("{env_id: CartPole}")}))


def unknown_extension() -> None:
    Path("data.csv").write_text("obs,actions\n")
    load_dataset_file("data.csv")


def missing_file() -> None:
    load_dataset_file("missing.npz")


def corrupt(ext: str) -> Callable[[], None]:
    return lambda: load_dataset_file(random_bytes(f"corrupt.{ext}"))


def minari_unknown() -> None:
    load_dataset_file("minari:test/unknown-v0")


def minari_inconsistent_next_obs() -> None:
    cols = columns()
    cols["next_obs"][2] += 1.0
    save_minari(TransitionDataset(**cols), "test/jumpy-v0")


def fit(env_id: str, discrete: bool = True, obs_dim: int = 3, obs: tuple | None = None,
        action: tuple | None = None, action_dim: int = 1) -> Callable[[], None]:
    """A case: data made for ``env_id`` but with one thing wrong (obs[row, i] or actions[row] set)."""
    def run() -> None:
        cols = columns()
        cols["obs"] = np.resize(cols["obs"], (6, obs_dim)) * 0.1  # within CartPole's bounds too
        cols["next_obs"] = np.resize(cols["next_obs"], (6, obs_dim)) * 0.1
        cols["actions"] %= 2
        if not discrete:
            cols["actions"] = np.full((6, action_dim), 0.5, np.float32)
        if obs is not None:
            cols["obs"][obs[0], obs[1]] = obs[2]
        if action is not None:
            cols["actions"][action[0]] = action[1]
        n_actions = int(cols["actions"].max()) + 1 if discrete else None
        ds = TransitionDataset(**cols, n_actions=n_actions, source="data.npz")
        check_fits_env(ds, gym.make(env_id))
    return run


@dataclass
class Case:
    """One malformed input, how to produce it, and the parts its message must contain."""

    name: str
    description: str
    run: Callable[[], None]
    expect: tuple[str, ...]


CASES = [
    Case("nan_rewards", "NaN in `rewards` at row 3 (.npz)", nan_rewards,
         ("nan_rewards.npz", "field 'rewards'", "row 3", "nan")),
    Case("inf_obs", "inf in `obs` at row 2 (.hdf5)", inf_obs,
         ("inf_obs.hdf5", "field 'obs'", "row 2", "inf")),
    Case("nan_obs_derived", "NaN in `obs` at file row 4 of a D4RL .hdf5 without `next_observations`, "
         "after a dropped row", nan_obs_derived_next_obs, ("no_next_obs.hdf5", "field 'obs'", "row 4")),
    Case("length_mismatch", "`rewards` one row shorter than `obs`", length_mismatch,
         ("short_rewards.npz", "field 'rewards'", "has 5 rows but 'obs' has 6")),
    Case("scalar_rewards", "`rewards` a single number instead of one per row (.hdf5)", scalar_rewards_hdf5,
         ("scalar_rewards.hdf5", "field 'rewards'", "single value")),
    Case("group_rewards", "`rewards` stored as an HDF5 group instead of an array", group_rewards_hdf5,
         ("group_rewards.hdf5", "field 'rewards'", "HDF5 group")),
    Case("huge_action_ids", "discrete action id 2^40 with no environment to give the action space", huge_action_ids,
         ("huge_ids.npz", "field 'actions'", "1099511627776", "0..65535")),
    Case("flat_float_actions", "1-d float actions (neither integer ids nor (N, action_dim) vectors)",
         flat_float_actions, ("flat_float_actions.npz", "field 'actions'", "(6,) of floats", "integer ids")),
    Case("bytes_actions", "actions stored as byte strings (.hdf5)", bytes_actions_hdf5,
         ("bytes_actions.hdf5", "field 'actions'", "not numeric")),
    Case("flat_obs", "`obs` of shape (N,) instead of (N, obs_dim)", flat_obs,
         ("flat_obs.npz", "field 'obs'", "(6,)")),
    Case("float_actions", "float actions for a discrete action space (n_actions=3)", float_actions_discrete,
         ("float_actions.npz", "field 'actions'", "discrete (3 actions)", "float32")),
    Case("action_range", "discrete action 3 at row 4 with n_actions=3", action_out_of_range,
         ("action_3.npz", "field 'actions'", "row 4", "action 3", "{0, ..., 2}")),
    Case("terminal_2", "`terminals` with value 2 at row 1", terminal_two,
         ("terminals_2.npz", "field 'terminals'", "row 1", "value 2")),
    Case("empty", "empty dataset (a .parquet file with 0 rows)", empty_parquet,
         ("empty.parquet", "empty (0 transitions)")),
    Case("object_extra", "saving an extra column of Python objects", object_extra_save,
         ("objects.npz", "field 'user'", "dtype object")),
    Case("null_extra", "null in the extra column `extra__propensities` at row 2 (.parquet)", null_extra_parquet,
         ("null_propensity.parquet", "field 'propensities'", "row 2", "null")),
    Case("missing_npz", "missing `rewards` (.npz)", missing_npz, ("no_rewards.npz", "'rewards'")),
    Case("missing_hdf5", "missing `terminals` and `timeouts` (.hdf5)", missing_hdf5,
         ("no_flags.hdf5", "'terminals', 'timeouts'")),
    Case("missing_parquet", "missing `next_obs` and `timeouts` columns (.parquet)", missing_parquet,
         ("no_next_obs.parquet", "'next_obs'/'next_observations', 'timeouts'")),
    Case("both_obs", "both `obs` and `observations` in one .npz", both_obs_names,
         ("two_obs.npz", "field 'obs'", "'observations'")),
    Case("ragged", "`obs` lists of different lengths (row 2 has 2 values, .parquet)", ragged_parquet,
         ("ragged.parquet", "field 'obs'", "row 2", "2 values")),
    Case("null", "null `rewards` value at row 1 (.parquet)", null_parquet,
         ("null_reward.parquet", "field 'rewards'", "row 1", "null")),
    Case("duplicate_column", "two `rewards` columns (.parquet)", duplicate_column_parquet,
         ("duplicate.parquet", "'rewards' appear more than once")),
    Case("null_in_list", "null inside the `next_obs` list of row 3 (.parquet)", null_in_list_parquet,
         ("null_in_list.parquet", "field 'next_obs'", "row 3", "null")),
    Case("object_array", "object array (`actions` with a string) in a .npz", object_array_npz,
         ("objects.npz", "field 'actions'", "dtype object")),
    Case("bad_meta", "`meta` that is not valid JSON (.npz)", bad_meta_npz,
         ("bad_meta.npz", "field 'meta'", "metadata is not valid JSON")),
    Case("unknown_ext", "unknown extension (`data.csv`)", unknown_extension, ("data.csv", "'.csv'", ".npz")),
    Case("missing_file", "missing file", missing_file, ("missing.npz", "no such file")),
    Case("corrupt_npz", "random bytes named .npz", corrupt("npz"), ("corrupt.npz", "not a .npz archive")),
    Case("corrupt_hdf5", "random bytes named .hdf5", corrupt("hdf5"), ("corrupt.hdf5", "HDF5")),
    Case("corrupt_parquet", "random bytes named .parquet", corrupt("parquet"),
         ("corrupt.parquet", "Parquet")),
    Case("minari_unknown", "unknown Minari dataset id", minari_unknown,
         ("minari:test/unknown-v0", "local datasets: none")),
    Case("minari_jump", "saving to Minari when `next_obs` at row 2 differs from `obs` at row 3",
         minari_inconsistent_next_obs, ("minari:test/jumpy-v0", "field 'next_obs'", "row 2")),
    Case("obs_shape", "3-dim observations for CartPole-v1 (4-dim)", fit("CartPole-v1"),
         ("data.npz", "field 'obs'", "(3,)", "(4,)")),
    Case("obs_bounds", "observation 9.5 above Pendulum-v1's bound 8 (row 2, index 2)",
         fit("Pendulum-v1", discrete=False, obs=(2, 2, 9.5)),
         ("data.npz", "field 'obs'", "row 2", "9.5", "upper bound 8")),
    Case("discrete_action_env", "action 2 for CartPole-v1 (2 actions) at row 5",
         fit("CartPole-v1", obs_dim=4, action=(5, 2)),
         ("data.npz", "field 'actions'", "row 5", "action 2", "Discrete(2)")),
    Case("box_action_env", "action 2.5 above Pendulum-v1's bound 2 at row 1",
         fit("Pendulum-v1", discrete=False, action=(1, 2.5)),
         ("data.npz", "field 'actions'", "row 1", "2.5", "upper bound 2")),
    Case("action_dim", "2-dim actions for Pendulum-v1 (1-dim)",
         fit("Pendulum-v1", discrete=False, action_dim=2),
         ("data.npz", "field 'actions'", "(2,)", "(1,)")),
    Case("continuous_for_discrete", "continuous actions for CartPole-v1", fit("CartPole-v1", False, 4),
         ("data.npz", "field 'actions'", "discrete", "continuous")),
    Case("discrete_for_box", "discrete actions for Pendulum-v1", fit("Pendulum-v1"),
         ("data.npz", "field 'actions'", "continuous", "discrete")),
]


def message(case: Case) -> str:
    """The error message ``case`` produces (run in the current directory)."""
    with pytest.raises(DatasetError) as err:
        case.run()
    return str(err.value)


def test_boolean_actions_are_the_two_discrete_actions_0_and_1() -> None:
    """A yes/no decision stored as booleans (send a notification or not) is a discrete action space of 2."""
    cols = columns()
    cols["actions"] = np.array([True, False, False, True, False, False])
    ds = TransitionDataset(**cols)
    assert ds.n_actions == 2 and ds.actions.dtype == np.int64 and ds.actions.tolist() == [1, 0, 0, 1, 0, 0]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(in_tmp: Path, case: Case) -> None:
    text = message(case)
    for part in case.expect:
        assert part in text


def bad_input_markdown() -> str:
    """The table of ``docs/bad-input.md``, made by running every case in the current directory."""
    rows = [f"| {c.description} | `{message(c).replace('|', chr(92) + '|')}` |" for c in CASES]
    return "\n".join([
        "# Bad input: what orlkit says",
        "",
        "Every malformed dataset raises `orlkit.errors.DatasetError`, whose message names the file",
        "(or `minari:ID`), the field and the first bad row. The `orlkit` command prints it as",
        "`orlkit: error: <message>` and exits with status 2 (no traceback).",
        "",
        "Generated by running the cases in `tests/data/test_formats.py`",
        "(`python tests/data/test_formats.py > docs/bad-input.md`); a test checks it is current.",
        "",
        "| malformed input | exact message |",
        "|---|---|",
        *rows,
        "",
    ])


def test_bad_input_doc_is_current(in_tmp: Path) -> None:
    assert DOC.read_text(encoding="utf-8") == bad_input_markdown()


def test_readme_bad_input_rows_are_generated_ones() -> None:
    """The README shows a selection of the table: each of its rows must be a row of docs/bad-input.md."""
    readme = (DOC.parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Bad input"):readme.index("Usage errors")]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "`" in line]
    assert len(rows) >= 5
    generated = DOC.read_text(encoding="utf-8").splitlines()
    for row in rows:
        assert row in generated, row


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        os.environ["MINARI_DATASETS_PATH"] = os.path.join(tmp, "minari")
        sys.stdout.write(bad_input_markdown())
