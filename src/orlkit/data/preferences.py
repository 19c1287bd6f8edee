"""Preference data: fixed-length segments of behaviour, and the labels people (or scripts) gave them.

- :class:`Segment`: obs (T, obs_dim), actions (T, action_dim), optional true rewards (T,) (for
  scripted teachers and evaluation), and where it was cut from (dataset, episode, start step).
- :class:`Pair`: segments ``i`` and ``j`` with ``label`` = P(i is preferred to j): 1 (i), 0 (j) or
  0.5 (equally good), plus who labelled it and when (``labeller``, ``timestamp`` in Unix seconds).
- :class:`Ranking`: a k-way ranking of segment ids, best → worst; a nested list is a group of tied
  segments, e.g. ``[3, [1, 2], 0]``. Training uses its C(k, 2) pairs
  (:func:`orlkit.rewards.preference.rankings_to_pairs`).

A segment's id is its position in :attr:`PreferenceData.segments`. All segments of one
:class:`PreferenceData` have the same length T and dims, so they stack into (S, T, ·) arrays.
Skipped queries are not stored: a pair always has a label in {0, 0.5, 1}.

Files (written atomically; chosen by suffix):

- ``.jsonl``: one JSON object per line. The first is ``{"type": "header", "format":
  "orlkit-preferences", "version": 1}``; then ``{"type": "segment", "id", "obs", "actions",
  "rewards", "dataset", "episode", "start"}`` (ids 0, 1, … in order), ``{"type": "pair", "i", "j",
  "label", "labeller", "timestamp"}`` and ``{"type": "ranking", "ranking", "labeller", "timestamp"}``.
- ``.parquet``: one table, one row per segment, pair or ranking; column ``kind`` says which, the
  other kinds' columns are null. ``obs``/``actions`` are lists of lists of float32, ``ranking`` is
  a list of tie groups (a single segment is a group of one).

Every problem (unknown segment id in a pair, a label outside {0, 0.5, 1}, NaN, segments of
different lengths or dims, an unknown suffix) raises :class:`~orlkit.errors.DatasetError` naming
the file, the field and the row (the line, for JSONL).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from orlkit.data.dataset import TransitionDataset
from orlkit.errors import DatasetError
from orlkit.rewards.preference import rankings_to_pairs
from orlkit.train.io import atomic_write, write_jsonl

FORMAT = "orlkit-preferences"
VERSION = 1
SUFFIXES = (".jsonl", ".parquet")
LABELS = (0.0, 0.5, 1.0)


@dataclass
class Segment:
    """T consecutive steps of one episode."""

    obs: np.ndarray  # (T, obs_dim) float32
    actions: np.ndarray  # (T, action_dim) float32; discrete actions one-hot
    rewards: np.ndarray | None = None  # (T,) true rewards, if known
    dataset: str | None = None  # the dataset it was cut from
    episode: int | None = None  # episode index in that dataset
    start: int | None = None  # first step of the segment, counted from the episode's start

    def __len__(self) -> int:
        return len(self.obs)


@dataclass
class Pair:
    """A labelled comparison of segments ``i`` and ``j``; ``label`` = P(i ≻ j) ∈ {0, 0.5, 1}."""

    i: int
    j: int
    label: float
    labeller: str = ""
    timestamp: float = 0.0  # Unix seconds


@dataclass
class Ranking:
    """Segment ids best → worst; a list inside is a group of tied segments."""

    ranking: list[int | list[int]]
    labeller: str = ""
    timestamp: float = 0.0  # Unix seconds


class PreferenceData:
    """Segments plus the pairs and rankings that label them; validated as they are added."""

    def __init__(self, segments: Iterable[Segment] = (), pairs: Iterable[Pair] = (),
                 rankings: Iterable[Ranking] = (), *, source: str | None = None):
        self.source = source
        self.segments: list[Segment] = []
        self.pairs: list[Pair] = []
        self.rankings: list[Ranking] = []
        for seg in segments:
            self.add_segment(seg)
        for p in pairs:
            self.add_pair(p.i, p.j, p.label, p.labeller, p.timestamp)
        for r in rankings:
            self.add_ranking(r.ranking, r.labeller, r.timestamp)

    # ------------------------------------------------------------------ adding
    def add_segment(self, segment: Segment, *, row: int | None = None) -> int:
        """Validate and append ``segment``; returns its id."""
        sid = len(self.segments)
        row = sid if row is None else row

        def fail(msg: str, field: str) -> None:
            raise DatasetError(f"segment {sid}: {msg}", source=self.source, field=field, row=row)

        obs = np.asarray(segment.obs, dtype=np.float32)
        actions = np.asarray(segment.actions, dtype=np.float32)
        if obs.ndim != 2 or len(obs) == 0:
            fail(f"obs must have shape (T, obs_dim) with T >= 1, got {obs.shape}", "obs")
        if actions.ndim != 2 or len(actions) != len(obs):
            fail(f"actions must have shape ({len(obs)}, action_dim) to match obs {obs.shape}, got {actions.shape}",
                 "actions")
        rewards = None if segment.rewards is None else np.asarray(segment.rewards, dtype=np.float32)
        if rewards is not None and rewards.shape != (len(obs),):
            fail(f"rewards must have shape ({len(obs)},), got {rewards.shape}", "rewards")
        for name, arr in (("obs", obs), ("actions", actions), ("rewards", rewards)):
            if arr is not None and not np.isfinite(arr).all():
                fail(f"non-finite value (NaN or inf) at step {int(np.argwhere(~np.isfinite(arr))[0, 0])}", name)
        if self.segments:
            first = self.segments[0]
            if len(obs) != len(first.obs):
                fail(f"length {len(obs)} differs from segment 0's length {len(first.obs)}; all segments need one "
                     "length", "obs")
            if obs.shape[1] != first.obs.shape[1]:
                fail(f"obs_dim {obs.shape[1]} differs from segment 0's {first.obs.shape[1]}", "obs")
            if actions.shape[1] != first.actions.shape[1]:
                fail(f"action_dim {actions.shape[1]} differs from segment 0's {first.actions.shape[1]}", "actions")
            if (rewards is None) != (first.rewards is None):
                fail("true rewards must be given for every segment or for none", "rewards")
        self.segments.append(Segment(obs, actions, rewards, segment.dataset,
                                     None if segment.episode is None else int(segment.episode),
                                     None if segment.start is None else int(segment.start)))
        return sid

    def add_pair(self, i: int, j: int, label: float, labeller: str = "", timestamp: float | None = None, *,
                 row: int | None = None) -> Pair:
        """Validate and append a labelled pair (``label`` = P(i ≻ j) ∈ {0, 0.5, 1})."""
        row = len(self.pairs) if row is None else row
        for name, sid in (("i", i), ("j", j)):
            self._check_id(sid, "pairs", row, f"pair {name}")
        if i == j:
            raise DatasetError(f"pair compares segment {i} with itself", source=self.source, field="pairs", row=row)
        if isinstance(label, bool) or not isinstance(label, (int, float, np.floating, np.integer)):
            raise DatasetError(f"label {label!r} is not a number", source=self.source, field="label", row=row)
        if math.isnan(label):
            raise DatasetError("label is NaN", source=self.source, field="label", row=row)
        if float(label) not in LABELS:
            raise DatasetError(f"label {label!r} is not one of 0 (j preferred), 0.5 (equal), 1 (i preferred)",
                               source=self.source, field="label", row=row)
        pair = Pair(int(i), int(j), float(label), *self._check_meta(labeller, timestamp, row, "pairs"))
        self.pairs.append(pair)
        return pair

    def add_ranking(self, ranking: Sequence[int | Sequence[int]], labeller: str = "",
                    timestamp: float | None = None, *, row: int | None = None) -> Ranking:
        """Validate and append a k-way ranking (ids best → worst; a nested list is a tie group)."""
        row = len(self.rankings) if row is None else row
        try:
            pairs = rankings_to_pairs(ranking)
        except Exception as e:  # OrlkitError from the checks, TypeError for a non-sequence
            raise DatasetError(str(e), source=self.source, field="rankings", row=row) from None
        if not pairs:
            raise DatasetError(f"ranking {list(ranking)!r} has fewer than 2 segments", source=self.source,
                               field="rankings", row=row)
        groups: list[int | list[int]] = []
        for entry in ranking:
            group = [int(x) for x in entry] if isinstance(entry, (list, tuple)) else [int(entry)]
            for sid in group:
                self._check_id(sid, "rankings", row, "ranking")
            groups.append(group[0] if len(group) == 1 else group)  # a group of one is that segment
        rec = Ranking(groups, *self._check_meta(labeller, timestamp, row, "rankings"))
        self.rankings.append(rec)
        return rec

    def _check_id(self, sid: Any, field: str, row: int, what: str) -> None:
        if isinstance(sid, bool) or not isinstance(sid, (int, np.integer)):
            raise DatasetError(f"{what} refers to {sid!r}, not a segment id (an int)", source=self.source,
                               field=field, row=row)
        if not 0 <= sid < len(self.segments):
            raise DatasetError(f"{what} refers to unknown segment {sid} (there are {len(self.segments)} segments, "
                               f"ids 0..{len(self.segments) - 1})", source=self.source, field=field, row=row)

    def _check_meta(self, labeller: Any, timestamp: Any, row: int, field: str) -> tuple[str, float]:
        if not isinstance(labeller, str):
            raise DatasetError(f"labeller {labeller!r} is not a string", source=self.source, field="labeller",
                               row=row)
        ts = time.time() if timestamp is None else timestamp
        if isinstance(ts, bool) or not isinstance(ts, (int, float, np.floating, np.integer)) \
                or not math.isfinite(ts):
            raise DatasetError(f"timestamp {timestamp!r} is not a finite number (Unix seconds)", source=self.source,
                               field="timestamp", row=row)
        return labeller, float(ts)

    # ------------------------------------------------------------------ views
    @property
    def n_segments(self) -> int:
        return len(self.segments)

    @property
    def segment_length(self) -> int:
        return len(self.segments[0]) if self.segments else 0

    def all_pairs(self) -> list[tuple[int, int, float]]:
        """``(i, j, label)`` of every pair, then of every ranking's C(k, 2) pairs."""
        out = [(p.i, p.j, p.label) for p in self.pairs]
        return out + [p for r in self.rankings for p in rankings_to_pairs(r.ranking)]

    def pairs_tensor(self, include_rankings: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(idx_a, idx_b, labels)``: (N,) int64 segment ids and (N,) float32 labels = P(a ≻ b)."""
        rows = self.all_pairs() if include_rankings else [(p.i, p.j, p.label) for p in self.pairs]
        if not rows:
            empty = torch.zeros(0, dtype=torch.int64)
            return empty, empty.clone(), torch.zeros(0)
        return (torch.tensor([r[0] for r in rows], dtype=torch.int64),
                torch.tensor([r[1] for r in rows], dtype=torch.int64),
                torch.tensor([r[2] for r in rows], dtype=torch.float32))

    def segment_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Stacked segments: obs (S, T, obs_dim), actions (S, T, action_dim), float32."""
        if not self.segments:
            raise DatasetError("there are no segments", source=self.source, field="segments")
        return np.stack([s.obs for s in self.segments]), np.stack([s.actions for s in self.segments])

    def segment_rewards(self) -> np.ndarray:
        """(S, T) true rewards of every segment."""
        if not self.segments or self.segments[0].rewards is None:
            raise DatasetError("the segments have no true rewards", source=self.source, field="rewards")
        return np.stack([s.rewards for s in self.segments])

    # ------------------------------------------------------------------ files
    def save(self, path: str | Path) -> Path:
        """Write to ``.jsonl`` or ``.parquet`` (by suffix), atomically."""
        path = Path(path)
        suffix = _check_suffix(path)
        if suffix == ".jsonl":
            return write_jsonl(path, [{"type": "header", "format": FORMAT, "version": VERSION},
                                      *self._segment_rows(), *self._label_rows()])
        table = _to_table(self)
        return atomic_write(path, lambda tmp: pq.write_table(table, tmp))

    @classmethod
    def load(cls, path: str | Path) -> PreferenceData:
        """Read a file written by :meth:`save` (or by hand, in the same format), validating every row."""
        path = Path(path)
        suffix = _check_suffix(path)
        if not path.exists():
            raise DatasetError("file not found", source=str(path))
        return _load_jsonl(path) if suffix == ".jsonl" else _load_parquet(path)

    def _segment_rows(self) -> list[dict[str, Any]]:
        return [{"type": "segment", "id": k, "obs": s.obs.tolist(), "actions": s.actions.tolist(),
                 "rewards": None if s.rewards is None else s.rewards.tolist(), "dataset": s.dataset,
                 "episode": s.episode, "start": s.start} for k, s in enumerate(self.segments)]

    def _label_rows(self) -> list[dict[str, Any]]:
        return ([{"type": "pair", "i": p.i, "j": p.j, "label": p.label, "labeller": p.labeller,
                  "timestamp": p.timestamp} for p in self.pairs]
                + [{"type": "ranking", "ranking": r.ranking, "labeller": r.labeller, "timestamp": r.timestamp}
                   for r in self.rankings])

    def __repr__(self) -> str:
        return (f"PreferenceData({self.n_segments} segments of length {self.segment_length}, "
                f"{len(self.pairs)} pairs, {len(self.rankings)} rankings)")


# ---------------------------------------------------------------------------------- file helpers
def _check_suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DatasetError(f"unknown preference file suffix {path.suffix or '(none)'!r}; use .jsonl or .parquet",
                           source=str(path))
    return suffix


def _add_row(data: PreferenceData, rec: dict[str, Any], row: int) -> None:
    """Add one decoded record (a segment, pair or ranking) to ``data``; ``row`` names it in errors."""
    kind = rec.get("type")
    try:
        if kind == "segment":
            if rec.get("id") != len(data.segments):
                raise DatasetError(f"segment id {rec.get('id')!r}, expected {len(data.segments)} (ids count up from "
                                   "0 in file order)", source=data.source, field="id", row=row)
            data.add_segment(Segment(np.asarray(rec["obs"], dtype=np.float32),
                                     np.asarray(rec["actions"], dtype=np.float32),
                                     None if rec.get("rewards") is None else np.asarray(rec["rewards"], np.float32),
                                     rec.get("dataset"), rec.get("episode"), rec.get("start")), row=row)
        elif kind == "pair":
            data.add_pair(rec["i"], rec["j"], rec["label"], rec.get("labeller", ""), rec.get("timestamp", 0.0),
                          row=row)
        elif kind == "ranking":
            data.add_ranking(rec["ranking"], rec.get("labeller", ""), rec.get("timestamp", 0.0), row=row)
        else:
            raise DatasetError(f"unknown record type {kind!r}; expected 'segment', 'pair' or 'ranking'",
                               source=data.source, field="type", row=row)
    except KeyError as e:
        raise DatasetError(f"{kind} record is missing {e}", source=data.source, row=row) from None
    except (ValueError, TypeError) as e:  # ragged or non-numeric arrays
        raise DatasetError(f"cannot read {kind} record ({e})", source=data.source, row=row) from None


def _load_jsonl(path: Path) -> PreferenceData:
    data = PreferenceData(source=str(path))
    with open(path) as f:
        lines = [(n, line) for n, line in enumerate(f, start=1) if line.strip()]
    for k, (n, line) in enumerate(lines):
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise DatasetError(f"line {n} is not valid JSON ({e.msg})", source=str(path)) from None
        if not isinstance(rec, dict):
            raise DatasetError(f"line {n} is not a JSON object", source=str(path))
        if k == 0:
            if rec.get("type") != "header" or rec.get("format") != FORMAT:
                raise DatasetError(f"line {n}: expected the header {{\"type\": \"header\", \"format\": \"{FORMAT}\", "
                                   f"\"version\": {VERSION}}}", source=str(path))
            if rec.get("version") != VERSION:
                raise DatasetError(f"line {n}: unsupported version {rec.get('version')!r}", source=str(path))
            continue
        _add_row(data, rec, row=n)  # JSONL rows are named by their line number
    if not lines:
        raise DatasetError("the file is empty", source=str(path))
    return data


_ARROW_SCHEMA = pa.schema([
    ("kind", pa.string()), ("id", pa.int64()),
    ("obs", pa.list_(pa.list_(pa.float32()))), ("actions", pa.list_(pa.list_(pa.float32()))),
    ("rewards", pa.list_(pa.float32())), ("dataset", pa.string()), ("episode", pa.int64()), ("start", pa.int64()),
    ("i", pa.int64()), ("j", pa.int64()), ("label", pa.float64()), ("ranking", pa.list_(pa.list_(pa.int64()))),
    ("labeller", pa.string()), ("timestamp", pa.float64()),
])


def _to_table(data: PreferenceData) -> pa.Table:
    rows = data._segment_rows() + data._label_rows()
    for rec in rows:
        rec["kind"] = rec.pop("type")
        if "ranking" in rec:
            rec["ranking"] = [g if isinstance(g, list) else [g] for g in rec["ranking"]]
    columns = {name: [rec.get(name) for rec in rows] for name in _ARROW_SCHEMA.names}
    header = json.dumps({"format": FORMAT, "version": VERSION}).encode()
    return pa.table(columns, schema=_ARROW_SCHEMA.with_metadata({b"orlkit": header}))


def _load_parquet(path: Path) -> PreferenceData:
    source = str(path)
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError, ValueError) as e:
        raise DatasetError(f"cannot read as a Parquet file ({e})", source=source) from None
    meta = (table.schema.metadata or {}).get(b"orlkit")
    if meta is None or json.loads(meta).get("format") != FORMAT:
        raise DatasetError(f"not an orlkit preference file (no '{FORMAT}' schema metadata)", source=source)
    missing = [n for n in ("kind",) if n not in table.column_names]
    if missing:
        raise DatasetError("column is missing", source=source, field=missing[0])
    data = PreferenceData(source=source)
    columns = {name: table.column(name).to_pylist() for name in table.column_names}
    for row in range(table.num_rows):
        rec = {name: col[row] for name, col in columns.items() if col[row] is not None}
        rec["type"] = rec.pop("kind", None)
        if rec["type"] == "segment":
            rec.setdefault("rewards", None)
        if rec["type"] == "ranking" and "ranking" in rec:
            rec["ranking"] = [g[0] if len(g) == 1 else g for g in rec["ranking"]]
        _add_row(data, rec, row=row)
    return data


# ---------------------------------------------------------------------------------- sampling
def sample_segments(dataset: TransitionDataset, n: int, length: int, rng: np.random.Generator) -> list[Segment]:
    """``n`` random segments of ``length`` steps cut from ``dataset``, never across an episode boundary.

    Every window of ``length`` consecutive steps inside one episode is equally likely (drawn with
    replacement). Discrete actions become one-hot vectors. Segments keep the dataset's rewards as
    their true rewards, and ``dataset``/``episode``/``start`` say where they came from.
    """
    if len(dataset.obs_shape) != 1:
        raise DatasetError(f"segments need flat observations, got shape {dataset.obs_shape}", source=dataset.source,
                           field="obs")
    if length < 1 or n < 0:
        raise DatasetError(f"need length >= 1 and n >= 0, got length={length}, n={n}", source=dataset.source)
    starts, ends = dataset.episode_bounds
    windows = np.maximum(ends - starts + 1 - length + 1, 0)  # valid start steps per episode
    if windows.sum() == 0:
        raise DatasetError(f"no episode has {length} steps (longest: {int((ends - starts + 1).max())})",
                           source=dataset.source)
    picks = rng.integers(int(windows.sum()), size=n)
    cum = np.cumsum(windows)
    episodes = np.searchsorted(cum, picks, side="right")
    offsets = picks - (cum[episodes] - windows[episodes])
    actions = dataset.action_vectors()  # (N, action_dim), discrete actions one-hot
    out = []
    for ep, off in zip(episodes.tolist(), offsets.tolist(), strict=True):
        rows = slice(starts[ep] + off, starts[ep] + off + length)
        out.append(Segment(dataset.obs[rows].copy(), actions[rows].copy(), dataset.rewards[rows].copy(),
                           dataset.source, ep, off))
    return out
