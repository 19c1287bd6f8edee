"""Event logs: the simulated log's schema, Parquet/CSV round trips into transitions, and every bad log."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from orlkit.data.events import OPTIONAL, REQUIRED, log_events, read_event_log, write_event_log
from orlkit.data.registry import DATASETS, dataset_names
from orlkit.envs.notifications import ENV_ID, FEATURES, LOGGING_THRESHOLD, fatigue_aware_policy
from orlkit.errors import DatasetError


@pytest.fixture(scope="module")
def log() -> pa.Table:
    return log_events(6, seed=0)


def col(table: pa.Table, name: str) -> np.ndarray:
    return table.column(name).to_numpy()


def test_log_schema_order_and_propensities(log):
    assert log.column_names == ["user_id", "timestamp", *FEATURES, "action", "propensity", "reward", "sessions",
                                "clicks", "sent", "disables", "episode_end"]
    assert log.schema.field("user_id").type == pa.int64() and log.schema.field("episode_end").type == pa.bool_()
    user, time = col(log, "user_id"), col(log, "timestamp")
    assert sorted(set(user)) == list(range(6))
    assert (np.diff(user) >= 0).all() and (np.diff(time)[np.diff(user) == 0] > 0).all()
    last = np.r_[user[1:] != user[:-1], True]
    np.testing.assert_array_equal(col(log, "episode_end"), last)
    p_send = np.where(col(log, "score") > LOGGING_THRESHOLD, 0.95, 0.05)
    np.testing.assert_allclose(col(log, "propensity"), np.where(col(log, "action") == 1, p_send, 1 - p_send))
    assert (col(log, "sent") <= col(log, "action")).all()
    assert log_events(6, seed=0).equals(log) and not log_events(6, seed=1).equals(log)


def check_dataset(ds, log: pa.Table) -> None:
    """obs = the rows' features, next_obs = the same user's next row, timeouts at users' ends."""
    obs = np.stack([col(log, f) for f in FEATURES], axis=1)
    np.testing.assert_allclose(ds.obs, obs, rtol=1e-6)
    last = np.r_[col(log, "user_id")[1:] != col(log, "user_id")[:-1], True]
    np.testing.assert_array_equal(ds.timeouts, last)
    assert not ds.terminals.any() and ds.n_episodes == 6
    np.testing.assert_array_equal(ds.next_obs[:-1][~last[:-1]], ds.obs[1:][~last[:-1]])
    np.testing.assert_array_equal(ds.next_obs[last], ds.obs[last])
    np.testing.assert_array_equal(ds.actions, col(log, "action"))
    np.testing.assert_allclose(ds.rewards, col(log, "reward"), rtol=1e-6)
    np.testing.assert_allclose(ds.extras["propensities"], col(log, "propensity"), rtol=1e-6)
    np.testing.assert_array_equal(ds.extras["user_id"], col(log, "user_id"))
    assert ds.meta["env_id"] == ENV_ID and ds.meta["features"] == list(FEATURES) and ds.n_actions == 2


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_round_trip_through_a_file(log, tmp_path, suffix):
    path = write_event_log(log, tmp_path / f"log{suffix}")
    assert [p.name for p in tmp_path.iterdir()] == [f"log{suffix}"]  # no temporary file left behind
    ds = read_event_log(path)
    check_dataset(ds, log)
    assert ds.source == str(path)


def test_table_input_chosen_features_and_reward_column(log):
    check_dataset(read_event_log(log), log)
    table = log.append_column("clicks_only", pc.cast(log.column("clicks"), pa.float64()))
    ds = read_event_log(table, features=["score", "sent_24h"], reward_column="clicks_only")
    assert ds.obs.shape == (log.num_rows, 2) and "env_id" not in ds.meta
    np.testing.assert_array_equal(ds.rewards, col(log, "clicks"))


def test_a_log_without_optional_columns_and_with_two_weeks_per_user(log):
    table = log.select(["user_id", "timestamp", "score", "action", "reward"])
    ds = read_event_log(table)
    assert "propensities" not in ds.extras and ds.meta["features"] == ["score"]
    # One user, two weeks: the first week's end is a timeout that still chains to the next row.
    two = pa.table({"user_id": [1, 1, 1, 1], "timestamp": [0.0, 1.0, 170.0, 171.0], "score": [0.1, 0.2, 0.3, 0.4],
                    "action": [1, 0, 1, 1], "reward": [0.0, 1.0, 0.0, 0.5],
                    "episode_end": [False, True, False, True]})
    ds = read_event_log(two)
    np.testing.assert_array_equal(ds.timeouts, [False, True, False, True])
    np.testing.assert_allclose(ds.next_obs[:, 0], [0.2, 0.3, 0.4, 0.4])
    assert ds.n_episodes == 2


def test_the_notifications_logs_dataset_is_registered():
    assert "notifications-logs" in dataset_names()
    maker = DATASETS["notifications-logs"]
    assert maker.env_id == ENV_ID


def test_the_cached_notifications_logs_keep_propensities_and_user_ids(tmp_path, monkeypatch):
    from orlkit.data.registry import make_dataset

    monkeypatch.setenv("ORLKIT_CACHE", str(tmp_path))
    made = make_dataset("notifications-logs")
    assert list((tmp_path / "datasets").glob("notifications-logs-*.npz"))
    cached = make_dataset("notifications-logs")  # read back from the .npz cache
    assert sorted(cached.extras) == sorted(made.extras)
    for name in ("propensities", "user_id"):
        assert np.array_equal(cached.extras[name], made.extras[name])
    assert np.array_equal(cached.obs, made.obs) and np.array_equal(cached.actions, made.actions)


def test_other_policies_can_be_logged():
    table = log_events(3, seed=0, policy=lambda obs, rng: (fatigue_aware_policy(obs), np.ones(len(obs))))
    ds = read_event_log(table)
    np.testing.assert_array_equal(ds.actions, fatigue_aware_policy(ds.obs))


# ---------------------------------------------------------------------- bad logs
def small(log: pa.Table) -> pa.Table:
    """The first 15 rows of users 0 and 1 (30 rows)."""
    user = col(log, "user_id")
    return log.take(np.r_[np.flatnonzero(user == 0)[:15], np.flatnonzero(user == 1)[:15]])


def replace(table: pa.Table, name: str, values) -> pa.Table:
    i = table.column_names.index(name)
    return table.set_column(i, name, pa.array(values))


def set_value(table: pa.Table, name: str, row: int, value) -> pa.Table:
    values = table.column(name).to_pylist()
    values[row] = value
    return replace(table, name, values)


def first_row_of_second_user(table: pa.Table) -> int:
    return int(np.flatnonzero(np.diff(col(table, "user_id")))[0]) + 1


BAD = {
    "missing columns": (lambda t: t.drop_columns(["action", "reward"]), ["'action'", "'reward'", *REQUIRED]),
    "non-numeric feature": (lambda t: replace(t, "score", [f"s{i}" for i in range(t.num_rows)]),
                            ["field 'score'", "not numeric"]),
    "null feature": (lambda t: set_value(t, "sent_24h", 7, None), ["field 'sent_24h'", "row 7", "null"]),
    "NaN reward": (lambda t: set_value(t, "reward", 4, float("nan")), ["field 'reward'", "row 4"]),  # CSV: null
    "action not 0/1": (lambda t: set_value(t, "action", 5, 2), ["field 'action'", "row 5", "action 2"]),
    "time order": (lambda t: set_value(t, "timestamp", 9, -1.0), ["field 'timestamp'", "row 9", "time order"]),
    "propensity 0": (lambda t: set_value(t, "propensity", 3, 0.0), ["field 'propensity'", "row 3", "(0, 1]"]),
    "propensity > 1": (lambda t: set_value(t, "propensity", 6, 1.5), ["field 'propensity'", "row 6", "1.5"]),
    "episode_end not a flag": (lambda t: replace(t, "episode_end", [3] * t.num_rows),
                               ["field 'episode_end'", "row 0"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_bad_log_names_the_file_column_and_row(log, tmp_path, case, suffix):
    corrupt, expected = BAD[case]
    path = write_event_log(corrupt(small(log)), tmp_path / f"bad{suffix}")
    with pytest.raises(DatasetError) as err:
        read_event_log(path)
    message = str(err.value)
    assert str(path) in message
    for part in expected:
        assert part in message, (part, message)


def test_missing_columns_lists_the_schema(log):
    with pytest.raises(DatasetError) as err:
        read_event_log(small(log).drop_columns(["user_id", "timestamp"]))
    message = str(err.value)
    assert "'user_id', 'timestamp'" in message and all(c in message for c in OPTIONAL)
    with pytest.raises(DatasetError, match="'nope'"):
        read_event_log(small(log), features=["score", "nope"])


def test_a_user_split_in_two_blocks(log):
    t = small(log)
    cut = first_row_of_second_user(t)
    users = col(t, "user_id").copy()
    users[cut + 2:] = users[0]  # user 0 again after user 1's first rows
    with pytest.raises(DatasetError, match=f"user_id'.*row {cut + 2}.*not contiguous"):
        read_event_log(replace(t, "user_id", users))


def test_unreadable_files(tmp_path):
    with pytest.raises(DatasetError, match="no such file"):
        read_event_log(tmp_path / "absent.parquet")
    with pytest.raises(DatasetError, match="unknown extension"):
        read_event_log(tmp_path / "log.json")
    (tmp_path / "junk.parquet").write_bytes(b"not parquet")
    with pytest.raises(DatasetError, match="junk.parquet.*cannot read as a Parquet file"):
        read_event_log(tmp_path / "junk.parquet")


def test_the_built_in_dataset_keeps_propensities_and_user_ids():
    from orlkit.data.registry import make_dataset

    ds = make_dataset("notifications-logs", seed=0)
    assert ds.n_episodes == 2000 and ds.meta["env_id"] == ENV_ID
    assert {"propensities", "user_id"} <= set(ds.extras)
    # The frequency cap of 4 per 24 h binds: about a third of candidates are sent, never one above the cap.
    assert 0.30 < ds.actions.mean() < 0.40
    above_cap = np.rint(ds.obs[:, FEATURES.index("sent_24h")] * 10) >= 4
    assert above_cap.any() and not ds.actions[above_cap].any()
    assert np.allclose(ds.extras["propensities"][above_cap], 1.0)


def test_event_logs_resolve_by_path_for_the_cli(tmp_path):
    """A practitioner's own log, as .parquet or .csv, trains through `orlkit train` and feeds `orlkit ope`."""
    from orlkit.cli import main
    from orlkit.data.registry import resolve_dataset

    table = log_events(30, 5)
    for suffix in (".parquet", ".csv"):
        path = write_event_log(table, tmp_path / f"log{suffix}")
        ds = resolve_dataset(str(path))
        assert ds.n_episodes == 30 and "propensities" in ds.extras
    out = tmp_path / "run"
    assert main(["train", "cql", "--dataset", str(tmp_path / "log.csv"), "--steps", "20", "--eval-episodes", "1",
                 "--out", str(out), "--no-tensorboard", "--quiet", "--set", "hidden=16,16"]) == 0
    assert main(["ope", str(out), "--dataset", str(tmp_path / "log.parquet"), "--fqe-steps", "20", "--json"]) == 0
