"""Preference data: exact JSONL/Parquet round trips, one test per bad input, segment sampling."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from orlkit.data.dataset import TransitionDataset
from orlkit.data.preferences import Pair, PreferenceData, Segment, sample_segments
from orlkit.errors import DatasetError, OrlkitError

T, OBS_DIM, ACT_DIM = 4, 3, 2


def make_data(seed: int = 0, with_rewards: bool = True) -> PreferenceData:
    rng = np.random.default_rng(seed)
    segments = [Segment(rng.normal(size=(T, OBS_DIM)).astype(np.float32),
                        rng.normal(size=(T, ACT_DIM)).astype(np.float32),
                        rng.normal(size=T).astype(np.float32) if with_rewards else None,
                        dataset="toy", episode=k, start=2 * k) for k in range(5)]
    data = PreferenceData(segments, source="toy")
    data.add_pair(0, 1, 1.0, "alice", 1.7e9 + 0.123456789)
    data.add_pair(2, 1, 0.5, "bob", 1.7e9)
    data.add_pair(4, 3, 0, "script", 0.0)
    data.add_ranking([3, [1, 2], 0], "carol", 1.7e9 + 1)
    data.add_ranking([4, 0], "carol", 1.7e9 + 2)
    return data


def assert_same(a: PreferenceData, b: PreferenceData) -> None:
    assert a.n_segments == b.n_segments
    for sa, sb in zip(a.segments, b.segments, strict=True):
        for name in ("obs", "actions", "rewards"):
            x, y = getattr(sa, name), getattr(sb, name)
            if x is None:
                assert y is None
            else:
                assert x.dtype == y.dtype == np.float32
                np.testing.assert_array_equal(x, y)
        assert (sa.dataset, sa.episode, sa.start) == (sb.dataset, sb.episode, sb.start)
    assert a.pairs == b.pairs
    assert a.rankings == b.rankings


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
@pytest.mark.parametrize("with_rewards", [True, False])
def test_round_trip_is_exact(tmp_path: Path, suffix: str, with_rewards: bool):
    data = make_data(with_rewards=with_rewards)
    path = data.save(tmp_path / f"prefs{suffix}")
    loaded = PreferenceData.load(path)
    assert_same(data, loaded)
    assert loaded.source == str(path)
    assert [p for p in tmp_path.iterdir()] == [path]  # the temp file was renamed, nothing left behind


def test_pairs_tensor_includes_ranking_pairs():
    idx_a, idx_b, labels = make_data().pairs_tensor()
    expected = [(0, 1, 1.0), (2, 1, 0.5), (4, 3, 0.0),  # explicit pairs
                (3, 1, 1.0), (3, 2, 1.0), (3, 0, 1.0), (1, 2, 0.5), (1, 0, 1.0), (2, 0, 1.0),  # [3, [1, 2], 0]
                (4, 0, 1.0)]
    assert list(zip(idx_a.tolist(), idx_b.tolist(), labels.tolist(), strict=True)) == expected
    assert len(make_data().pairs_tensor(include_rankings=False)[0]) == 3
    obs, actions = make_data().segment_arrays()
    assert obs.shape == (5, T, OBS_DIM) and actions.shape == (5, T, ACT_DIM)


# ---------------------------------------------------------------------------------- bad input
def seg(t: int = T, obs_dim: int = OBS_DIM, act_dim: int = ACT_DIM) -> Segment:
    return Segment(np.zeros((t, obs_dim), np.float32), np.zeros((t, act_dim), np.float32))


@pytest.mark.parametrize("add, message", [
    (lambda d: d.add_pair(0, 7, 1.0), "field 'pairs': row 3: pair j refers to unknown segment 7"),
    (lambda d: d.add_pair(0, 1, 0.7), "field 'label': row 3: label 0.7 is not one of 0"),
    (lambda d: d.add_pair(0, 1, float("nan")), "field 'label': row 3: label is NaN"),
    (lambda d: d.add_pair(2, 2, 1.0), "compares segment 2 with itself"),
    (lambda d: d.add_pair(0, 1, 1.0, timestamp=float("inf")), "timestamp inf is not a finite number"),
    (lambda d: d.add_ranking([0, [1, 9]]), "field 'rankings': row 2: ranking refers to unknown segment 9"),
    (lambda d: d.add_ranking([0, 1, 0]), "segment 0 appears more than once"),
    (lambda d: d.add_ranking([3]), "ranking [3] has fewer than 2 segments"),
    (lambda d: d.add_segment(seg(t=T + 1)), "segment 5: length 5 differs from segment 0's length 4"),
    (lambda d: d.add_segment(seg(obs_dim=OBS_DIM + 1)), "segment 5: obs_dim 4 differs from segment 0's 3"),
    (lambda d: d.add_segment(seg(act_dim=1)), "segment 5: action_dim 1 differs from segment 0's 2"),
    (lambda d: d.add_segment(Segment(np.zeros((T, OBS_DIM)), np.zeros((T - 1, ACT_DIM)))),
     "actions must have shape"),
    (lambda d: d.add_segment(Segment(np.full((T, OBS_DIM), np.nan), np.zeros((T, ACT_DIM)))),
     "field 'obs': row 5: segment 5: non-finite value"),
    (lambda d: d.add_segment(seg()), "true rewards must be given for every segment or for none"),
])
def test_each_bad_input_is_named(add, message):
    data = make_data()
    with pytest.raises(DatasetError, match=re.escape(message)) as info:
        add(data)
    assert str(info.value).startswith("toy: ")  # the source comes first
    assert isinstance(info.value, OrlkitError)


def test_first_segment_sets_the_shape_and_empty_segments_are_refused():
    with pytest.raises(DatasetError, match=r"obs must have shape \(T, obs_dim\) with T >= 1"):
        PreferenceData([seg(t=0)])


@pytest.mark.parametrize("suffix", [".csv", ".json", ""])
def test_unknown_suffix_is_refused(tmp_path: Path, suffix: str):
    with pytest.raises(DatasetError, match="unknown preference file suffix .*use .jsonl or .parquet"):
        make_data().save(tmp_path / f"prefs{suffix}")
    with pytest.raises(DatasetError, match="unknown preference file suffix"):
        PreferenceData.load(tmp_path / f"prefs{suffix}")


def write_lines(path: Path, records: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def test_bad_jsonl_files_name_the_line(tmp_path: Path):
    good = make_data().save(tmp_path / "good.jsonl")
    lines = good.read_text().splitlines()  # header, 5 segments (lines 2-6), 3 pairs (7-9), 2 rankings

    bad_label = json.loads(lines[7]) | {"label": 2}
    with pytest.raises(DatasetError, match=r"bad\.jsonl: field 'label': row 8: label 2 is not one of"):
        PreferenceData.load(write_lines(tmp_path / "bad.jsonl", lines[:7] + [bad_label]))
    nan_label = lines[6].replace('"label": 1.0', '"label": NaN')
    with pytest.raises(DatasetError, match="row 7: label is NaN"):
        PreferenceData.load(write_lines(tmp_path / "nan.jsonl", lines[:6] + [nan_label]))
    unknown = json.loads(lines[6]) | {"i": 12}
    with pytest.raises(DatasetError, match="row 7: pair i refers to unknown segment 12"):
        PreferenceData.load(write_lines(tmp_path / "unknown.jsonl", lines[:6] + [unknown]))
    with pytest.raises(DatasetError, match="line 3 is not valid JSON"):
        PreferenceData.load(write_lines(tmp_path / "broken.jsonl", lines[:2] + ["{oops"]))
    with pytest.raises(DatasetError, match="line 1: expected the header"):
        PreferenceData.load(write_lines(tmp_path / "noheader.jsonl", lines[1:]))
    shuffled = lines[:1] + lines[2:3] + lines[1:2]
    with pytest.raises(DatasetError, match="field 'id': row 2: segment id 1, expected 0"):
        PreferenceData.load(write_lines(tmp_path / "order.jsonl", shuffled))
    missing = json.loads(lines[6])
    del missing["j"]
    with pytest.raises(DatasetError, match="row 7: pair record is missing 'j'"):
        PreferenceData.load(write_lines(tmp_path / "missing.jsonl", lines[:6] + [missing]))
    with pytest.raises(DatasetError, match="file not found"):
        PreferenceData.load(tmp_path / "nowhere.jsonl")


def test_bad_parquet_rows_are_named(tmp_path: Path):
    path = make_data().save(tmp_path / "prefs.parquet")
    table = pq.read_table(path)
    labels = table.column("label").to_pylist()
    labels[5] = 0.25  # row 5 is the first pair
    bad = table.set_column(table.column_names.index("label"), "label", [labels])
    pq.write_table(bad, tmp_path / "bad.parquet")
    with pytest.raises(DatasetError, match=r"bad\.parquet: field 'label': row 5: label 0.25"):
        PreferenceData.load(tmp_path / "bad.parquet")
    pq.write_table(table.replace_schema_metadata({}), tmp_path / "plain.parquet")
    with pytest.raises(DatasetError, match="not an orlkit preference file"):
        PreferenceData.load(tmp_path / "plain.parquet")


# ---------------------------------------------------------------------------------- sampling
def episodes_dataset(discrete: bool = False) -> TransitionDataset:
    """Episodes of 3, 8, 2 and 6 steps; obs[:, 0] is the row index, so segments show where they came from."""
    lengths = [3, 8, 2, 6]
    n = sum(lengths)
    ends = np.cumsum(lengths) - 1
    terminals, timeouts = np.zeros(n, bool), np.zeros(n, bool)
    terminals[ends[0]], timeouts[ends[1]], terminals[ends[2]] = True, True, True
    obs = np.stack([np.arange(n), np.arange(n) * 2.0], 1).astype(np.float32)
    actions = np.arange(n) % 3 if discrete else np.arange(n, dtype=np.float32)[:, None]
    return TransitionDataset(obs, actions, np.arange(n, dtype=np.float32) / 10, obs + 1, terminals, timeouts,
                             source="episodes", n_actions=3 if discrete else None)


def test_sampled_segments_stay_inside_one_episode():
    ds = episodes_dataset()
    segments = sample_segments(ds, 300, 4, np.random.default_rng(0))
    episode_of_row = ds.episode_ids
    starts, _ = ds.episode_bounds
    seen = set()
    for s in segments:
        rows = s.obs[:, 0].astype(int)
        np.testing.assert_array_equal(rows, np.arange(rows[0], rows[0] + 4))
        assert len(set(episode_of_row[rows])) == 1 and episode_of_row[rows[0]] == s.episode
        assert s.start == rows[0] - starts[s.episode] and s.dataset == "episodes"
        np.testing.assert_array_equal(s.rewards, ds.rewards[rows])
        np.testing.assert_array_equal(s.actions, ds.actions[rows])
        seen.add(rows[0])
    assert seen == {3, 4, 5, 6, 7, 13, 14, 15}  # every valid window; episodes of 3 and 2 steps have none
    data = PreferenceData(segments)
    assert data.segment_arrays()[0].shape == (300, 4, 2)


def test_sampling_is_seeded_and_one_hot_for_discrete_actions():
    ds = episodes_dataset(discrete=True)
    a = sample_segments(ds, 20, 3, np.random.default_rng(5))
    b = sample_segments(ds, 20, 3, np.random.default_rng(5))
    assert [s.obs.tolist() for s in a] == [s.obs.tolist() for s in b]
    rows = a[0].obs[:, 0].astype(int)
    np.testing.assert_array_equal(a[0].actions, np.eye(3, dtype=np.float32)[rows % 3])


def test_sampling_longer_than_every_episode_is_refused():
    with pytest.raises(DatasetError, match=r"episodes: no episode has 9 steps \(longest: 8\)"):
        sample_segments(episodes_dataset(), 5, 9, np.random.default_rng(0))


def test_pair_dataclass_is_what_add_pair_stores():
    data = make_data()
    assert data.pairs[0] == Pair(0, 1, 1.0, "alice", 1.7e9 + 0.123456789)
