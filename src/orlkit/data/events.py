"""Event logs of notification decisions: simulate them, write them, and read any such log into transitions.

A production notification system logs one row per decision. The schema (one row per decision,
rows sorted by user, then time; the columns of :data:`REQUIRED` must be there):

=================  =======  ==============================================================  =========
column             type     meaning                                                         required
=================  =======  ==============================================================  =========
``user_id``        int64    the user (any integer or string id works)                       yes
``timestamp``      float    hours since the week's start (any monotone time unit works)     yes
*features*         float    one numeric column per observation feature (for the simulator:  yes (≥ 1)
                            :data:`~orlkit.envs.notifications.FEATURES`)
``action``         int      0 drop, 1 send                                                  yes
``reward``         float    the step's reward (``reward_column`` names another column)      yes
``propensity``     float    the logging policy's probability of the logged action, (0, 1]   no
``sessions``       int      sessions caused or following this decision (until the next)     no
``clicks``         int      1 if the notification was clicked                               no
``sent``           int      1 if it was delivered (send and notifications not disabled)     no
``disables``       int      1 if the user disabled notifications after it                   no
``episode_end``    bool     the user's week (episode) ended at this row                     no
=================  =======  ==============================================================  =========

Every column that is not one of these names is a feature (or give ``features=`` explicitly).

From a log to transitions (:func:`read_event_log`)
    ``obs`` is a row's features; ``next_obs`` is the same user's next row's features. The last
    row of a user has no next row: its ``next_obs`` is a copy of its own ``obs`` and it is a
    timeout (a truncation, so bootstrapping uses that copy: a small bias at the end of each
    user's log, where the week was cut anyway). A row with ``episode_end`` that is not the user's
    last row (a log spanning several weeks) is a timeout whose ``next_obs`` is the next row's
    features. ``terminals`` are all False: a user's week has no terminal state. ``extras`` holds
    ``user_id``, ``timestamps``, ``propensities`` and the outcome columns present.

Reading executes nothing from the file: Parquet and CSV hold plain values (``pyarrow``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from orlkit.data.dataset import TransitionDataset
from orlkit.data.formats import _atomic_write
from orlkit.envs.notifications import ENV_ID, FEATURES, NotificationConfig, NotificationPopulation, logging_policy
from orlkit.errors import DatasetError

REQUIRED = ("user_id", "timestamp", "action", "reward")
OUTCOME_COLUMNS = ("sessions", "clicks", "sent", "disables")
OPTIONAL = ("propensity", *OUTCOME_COLUMNS, "episode_end")
RESERVED = frozenset(REQUIRED + OPTIONAL)
_META_KEY = b"orlkit"

Policy = Callable[[np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray]]


# ---------------------------------------------------------------------- making a log
def log_events(n_users: int, seed: int = 0, config: NotificationConfig | None = None,
               policy: Policy = logging_policy) -> pa.Table:
    """Simulate one week of ``n_users`` users under ``policy`` and log every decision.

    ``policy(obs (N, d), rng) -> (actions (N,), propensities (N,))``; its generator is
    ``SeedSequence(seed, spawn_key=(1,))``, as in :func:`~orlkit.envs.notifications.logging_batch_policy`.
    Returns a table with the module's schema, sorted by user then time, whose schema metadata
    (key ``b"orlkit"``) holds ``env_id``, ``features``, ``seed`` and the config as JSON.
    """
    cfg = config if config is not None else NotificationConfig()
    pop = NotificationPopulation(n_users, cfg)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,)))
    obs, steps = pop.reset(seed), []
    while not pop.done.all():
        active, t = ~pop.done, pop.current_time
        actions, propensities = policy(obs, rng)
        actions = np.asarray(actions, dtype=np.int64)
        step_obs = obs
        obs, reward, _, truncated, info = pop.step(actions)
        steps.append({"user_id": np.flatnonzero(active), "timestamp": t[active], "obs": step_obs[active],
                      "action": actions[active], "propensity": np.asarray(propensities, np.float64)[active],
                      "reward": reward[active].astype(np.float64), "episode_end": truncated[active],
                      **{k: info[k][active].astype(np.int64) for k in OUTCOME_COLUMNS}})
    cols = {k: np.concatenate([s[k] for s in steps]) for k in steps[0]}
    order = np.lexsort((cols["timestamp"], cols["user_id"]))  # by user, then time
    cols = {k: v[order] for k, v in cols.items()}
    obs_cols = cols.pop("obs")
    arrays = {"user_id": cols["user_id"].astype(np.int64), "timestamp": cols["timestamp"]}
    arrays |= {name: obs_cols[:, j] for j, name in enumerate(FEATURES)}
    arrays |= {k: cols[k] for k in ("action", "propensity", "reward", *OUTCOME_COLUMNS, "episode_end")}
    meta = {"env_id": ENV_ID, "features": list(FEATURES), "seed": seed, "n_users": n_users,
            "config": cfg.to_dict()}
    table = pa.table(arrays)
    return table.replace_schema_metadata({_META_KEY: json.dumps(meta)})


def write_event_log(table: pa.Table, path: str | Path) -> Path:
    """Write an event log to ``.parquet`` (or ``.csv``) atomically (temp file + rename); returns the path."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise ValueError(f"event logs are written as .parquet or .csv, got {path.name!r}")
    if suffix == ".parquet":
        _atomic_write(path, lambda tmp: pq.write_table(table, tmp))
    else:
        _atomic_write(path, lambda tmp: pacsv.write_csv(table, tmp))
    return path


# ---------------------------------------------------------------------- reading a log
def read_event_log(path_or_table: str | Path | pa.Table, features: Sequence[str] | None = None,
                   reward_column: str = "reward") -> TransitionDataset:
    """A :class:`TransitionDataset` from an event log (``.parquet``, ``.csv`` or a ``pyarrow.Table``).

    Args:
        path_or_table: the log (schema in the module docstring).
        features: the observation columns, in order; default: every column not in :data:`RESERVED`
            (nor ``reward_column``), in the file's order.
        reward_column: the column holding the rewards.

    Raises:
        DatasetError: naming the file, the column and the first bad row: missing columns (all of
            them, with the schema's requirements), non-numeric features, nulls, actions other than
            0/1, a user's rows out of time order or not contiguous, propensities outside (0, 1].
    """
    table, source = _read_table(path_or_table)
    features = _check_columns(table, features, reward_column, source)
    obs = np.stack([_numeric(table, name, source) for name in features], axis=1).astype(np.float32)  # (N, d)
    user = _column(table, "user_id", source)
    time = _numeric(table, "timestamp", source)
    actions = _actions(table, source)
    rewards = _numeric(table, reward_column, source)
    last = _check_users(user, time, source)  # (N,) the user's last row
    ends = _flags(table, "episode_end", source) if "episode_end" in table.column_names else np.zeros(len(obs), bool)
    next_obs = obs.copy()
    next_obs[:-1][~last[:-1]] = obs[1:][~last[:-1]]  # the same user's next row
    extras = {"user_id": user, "timestamps": time}
    if "propensity" in table.column_names:
        extras["propensities"] = _propensities(table, source)
    extras |= {k: _numeric(table, k, source) for k in OUTCOME_COLUMNS if k in table.column_names}
    meta: dict[str, Any] = {"features": list(features), "format": "event-log", "reward_column": reward_column}
    if tuple(features) == FEATURES:
        meta["env_id"] = ENV_ID
    return TransitionDataset(obs, actions, rewards.astype(np.float32), next_obs, np.zeros(len(obs), bool),
                             ends | last, n_actions=2, meta=meta, source=source, extras=extras)


def _read_table(x: str | Path | pa.Table) -> tuple[pa.Table, str]:
    """The table and the name errors use for it."""
    if isinstance(x, pa.Table):
        return x, "<event log table>"
    path = Path(x)
    source = str(path)
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise DatasetError(f"unknown extension {suffix!r}; event logs are .parquet or .csv", source=source)
    if not path.is_file():
        raise DatasetError("no such file", source=source)
    try:
        return (pq.read_table(path) if suffix == ".parquet" else pacsv.read_csv(path)), source
    except (pa.ArrowException, OSError, ValueError) as e:
        kind = "Parquet" if suffix == ".parquet" else "CSV"
        raise DatasetError(f"cannot read as a {kind} file ({e})", source=source) from e


def _check_columns(table: pa.Table, features: Sequence[str] | None, reward_column: str, source: str) -> list[str]:
    """The feature names; raises naming every missing column and the schema's requirements."""
    names = table.column_names
    required = [c for c in REQUIRED if c != "reward"] + [reward_column]
    if features is None:
        features = [c for c in names if c not in RESERVED and c != reward_column]
    missing = [c for c in [*required, *features] if c not in names]
    if missing or not features:
        what = (f"missing required column(s) {', '.join(repr(c) for c in missing)}" if missing
                else "no feature columns")
        raise DatasetError(f"{what}; an event log needs the columns {', '.join(required)} and at least one "
                           f"numeric feature column (optional: {', '.join(OPTIONAL)}); found: "
                           f"{', '.join(names) or 'none'}", source=source)
    return list(features)


def _column(table: pa.Table, name: str, source: str) -> np.ndarray:
    """The column as NumPy, after checking for nulls."""
    arr = table.column(name).combine_chunks()
    if arr.null_count:
        row = int(np.flatnonzero(pc.is_null(arr).to_numpy(zero_copy_only=False))[0])
        raise DatasetError("null value (every logged decision needs a value here)", source=source, field=name,
                           row=row)
    return arr.to_numpy(zero_copy_only=False)


def _numeric(table: pa.Table, name: str, source: str) -> np.ndarray:
    """A numeric (int, float or bool) column as float64, checked for nulls and NaN/inf."""
    kind = table.schema.field(name).type
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)):
        raise DatasetError(f"column type {kind} is not numeric; this column must hold numbers", source=source,
                           field=name)
    x = _column(table, name, source).astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(x))
    if len(bad):
        raise DatasetError(f"non-finite value {x[bad[0]]}", source=source, field=name, row=int(bad[0]))
    return x


def _actions(table: pa.Table, source: str) -> np.ndarray:
    x = _numeric(table, "action", source)
    bad = np.flatnonzero(~np.isin(x, (0.0, 1.0)))
    if len(bad):
        raise DatasetError(f"action {x[bad[0]]:g} is not 0 (drop) or 1 (send)", source=source, field="action",
                           row=int(bad[0]))
    return x.astype(np.int64)


def _flags(table: pa.Table, name: str, source: str) -> np.ndarray:
    x = _numeric(table, name, source)
    bad = np.flatnonzero(~np.isin(x, (0.0, 1.0)))
    if len(bad):
        raise DatasetError(f"value {x[bad[0]]:g} is not true/false (or 0/1)", source=source, field=name,
                           row=int(bad[0]))
    return x.astype(bool)


def _propensities(table: pa.Table, source: str) -> np.ndarray:
    x = _numeric(table, "propensity", source)
    bad = np.flatnonzero((x <= 0.0) | (x > 1.0))
    if len(bad):
        raise DatasetError(f"propensity {x[bad[0]]:g} is outside (0, 1]; it is the logging policy's probability "
                           "of the logged action", source=source, field="propensity", row=int(bad[0]))
    return x


def _check_users(user: np.ndarray, time: np.ndarray, source: str) -> np.ndarray:
    """(N,) bool: the row is its user's last. Raises if a user's rows are split or out of time order."""
    change = user[1:] != user[:-1]  # (N - 1,)
    starts = np.concatenate([[0], np.flatnonzero(change) + 1])
    _, first = np.unique(user[starts], return_index=True)
    if len(first) < len(starts):
        row = int(starts[np.setdiff1d(np.arange(len(starts)), first)[0]])
        uid = user[row].item() if isinstance(user[row], np.generic) else user[row]
        raise DatasetError(f"rows of user {uid!r} are not contiguous: they start again here; sort the log "
                           "by user, then timestamp", source=source, field="user_id", row=row)
    back = np.flatnonzero(~change & (time[1:] < time[:-1]))
    if len(back):
        row = int(back[0]) + 1
        raise DatasetError(f"timestamp {time[row]:g} is earlier than the user's previous row ({time[row - 1]:g}); "
                           "a user's rows must be in time order", source=source, field="timestamp", row=row)
    return np.concatenate([change, [True]])
