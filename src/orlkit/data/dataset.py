"""A columnar dataset of transitions, validated on construction, sampled with one index tensor.

Fields (N rows, one per transition):
    obs        (N, *obs_shape) float32
    actions    (N,) int64 for discrete action spaces, (N, action_dim) float32 for continuous ones
    rewards    (N,) float32
    next_obs   (N, *obs_shape) float32
    terminals  (N,) bool   the episode ended in a terminal state: no bootstrapping past it
    timeouts   (N,) bool   the episode was cut by a time limit: bootstrapping continues

Terminal and time-limit truncation are kept apart and never merged into one mask. An
episode ends at a row whose ``terminals`` or ``timeouts`` is set, or at the last row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from orlkit.errors import DatasetError

FIELDS = ("obs", "actions", "rewards", "next_obs", "terminals", "timeouts")


@dataclass
class Batch:
    """A batch of transitions as tensors: the fields of :data:`FIELDS`, plus the dataset's numeric
    ``extras`` (e.g. ``returns_to_go`` that an algorithm added in ``prepare_dataset``)."""

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_obs: torch.Tensor
    terminals: torch.Tensor
    timeouts: torch.Tensor
    extras: dict[str, torch.Tensor] = field(default_factory=dict)

    def to(self, device: torch.device | str) -> Batch:
        moved = {name: getattr(self, name).to(device) for name in FIELDS}
        return Batch(**moved, extras={k: v.to(device) for k, v in self.extras.items()})

    def unsqueeze(self) -> Batch:
        """This batch as the one seed's of a several-seeds batch (``orlkit.train.seeds``): fields (1, B, ...), views."""
        return Batch(**{name: getattr(self, name).unsqueeze(0) for name in FIELDS},
                     extras={k: v.unsqueeze(0) for k, v in self.extras.items()})


def _first_bad_row(bad: np.ndarray) -> int | None:
    """Index of the first row that has any True entry in a (N, ...) mask, or None."""
    rows = bad.reshape(len(bad), -1).any(axis=1)
    hit = np.flatnonzero(rows)
    return int(hit[0]) if len(hit) else None


def _as_flags(x: Any, name: str, source: str | None) -> np.ndarray:
    """Terminal/timeout flags: bool, or integers/floats that are exactly 0 or 1."""
    arr = np.asarray(x)
    if arr.dtype == np.bool_:
        return arr
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise DatasetError(f"dtype {arr.dtype} is not boolean or 0/1 numeric", source=source, field=name)
    row = _first_bad_row(~np.isin(arr, (0, 1)))
    if row is not None:
        raise DatasetError(f"value {arr.reshape(len(arr), -1)[row][0].item()!r} is not 0 or 1", source=source,
                           field=name, row=row)
    return arr.astype(bool)


def _as_float(x: Any, name: str, source: str | None) -> np.ndarray:
    arr = np.asarray(x)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
            or arr.dtype == np.bool_):
        raise DatasetError(f"dtype {arr.dtype} is not numeric", source=source, field=name)
    arr = arr.astype(np.float32, copy=False)
    row = _first_bad_row(~np.isfinite(arr)) if arr.size else None
    if row is not None:
        bad = arr.reshape(len(arr), -1)[row]
        value = bad[~np.isfinite(bad)][0]
        raise DatasetError(f"non-finite value {value} (NaN or inf)", source=source, field=name, row=row)
    return arr


# The most discrete actions a dataset's action space is inferred to have (0..max id) when nothing gives it:
# a policy has one output per action, so an id of 2**40 would ask for a petabyte-sized output layer.
MAX_INFERRED_ACTIONS = 65_536


def _check_rows(col: Any, n: int, name: str, source: str | None) -> None:
    """A column must hold one value per row: ``n``, as ``obs`` has."""
    if not np.ndim(col):
        raise DatasetError(f"is a single value (shape ()); expected one per row, {n} rows as 'obs' has",
                           source=source, field=name)
    if len(col) != n:
        raise DatasetError(f"has {len(col)} rows but 'obs' has {n}", source=source, field=name)


class TransitionDataset:
    """Validated columnar transitions with episode structure.

    Args:
        obs, actions, rewards, next_obs, terminals, timeouts: the columns (see module doc).
        n_actions: size of a discrete action space; ``None`` for continuous actions. If the
            actions are integers and ``n_actions`` is not given, it is ``max(actions) + 1``.
        meta: free-form JSON-serialisable metadata (``env_id``, how the data was made, ...).
        source: where the data came from (a file path or dataset name), used in error messages.
        extras: optional per-row columns beyond the six fields, e.g. ``propensities`` (the behavior
            policy's probability of the logged action, for off-policy evaluation) or ``user_id``.
            Each must have N rows; float columns are checked for NaN/inf like the others.

    Raises:
        DatasetError: on empty data, length mismatches, wrong shapes or dtypes, NaN/inf,
            flags that are not 0/1, or discrete actions outside ``[0, n_actions)``.
    """

    def __init__(self, obs, actions, rewards, next_obs, terminals, timeouts, *,
                 n_actions: int | None = None, meta: Mapping[str, Any] | None = None,
                 source: str | None = None, extras: Mapping[str, Any] | None = None):
        self.source = source
        self.meta: dict[str, Any] = dict(meta or {})
        obs_arr = np.asarray(obs)
        if obs_arr.ndim < 2:
            raise DatasetError(f"expected shape (N, *obs_shape), got {obs_arr.shape}", source=source,
                               field="obs")
        n = len(obs_arr)
        if n == 0:
            raise DatasetError("the dataset is empty (0 transitions)", source=source, field="obs")
        columns = {"obs": obs, "actions": actions, "rewards": rewards, "next_obs": next_obs,
                   "terminals": terminals, "timeouts": timeouts}
        for name, col in columns.items():
            if col is None:
                raise DatasetError("required field is missing", source=source, field=name)
            _check_rows(col, n, name, source)

        self.obs = _as_float(obs_arr, "obs", source)
        self.next_obs = _as_float(next_obs, "next_obs", source)
        if self.next_obs.shape != self.obs.shape:
            raise DatasetError(f"shape {self.next_obs.shape} differs from obs shape {self.obs.shape}",
                               source=source, field="next_obs")
        self.rewards = _as_float(rewards, "rewards", source)
        if self.rewards.ndim != 1:
            raise DatasetError(f"expected shape ({n},), got {self.rewards.shape}", source=source,
                               field="rewards")
        self.terminals = _as_flags(terminals, "terminals", source)
        self.timeouts = _as_flags(timeouts, "timeouts", source)
        for name in ("terminals", "timeouts"):
            if getattr(self, name).ndim != 1:
                raise DatasetError(f"expected shape ({n},), got {getattr(self, name).shape}",
                                   source=source, field=name)

        act = np.asarray(actions)
        if act.dtype == np.bool_ and act.ndim == 1:  # a yes/no decision: discrete actions 0 and 1
            act = act.astype(np.int64)
            n_actions = 2 if n_actions is None else n_actions
        if act.dtype.kind not in "iuf":
            raise DatasetError(f"dtype {act.dtype} is not numeric; actions are integer ids (discrete) or float "
                               "vectors (continuous)", source=source, field="actions")
        if np.issubdtype(act.dtype, np.integer) and act.ndim == 1:
            if n_actions is None:
                top = int(act.max())
                n_actions = top + 1
                if top >= MAX_INFERRED_ACTIONS:
                    raise DatasetError(
                        f"action ids go up to {top}; without an environment the action space is taken as 0..max id, "
                        f"one policy output per id, so ids must lie in 0..{MAX_INFERRED_ACTIONS - 1}. Number the "
                        "actions 0..K-1 (or give --env, whose action space decides)", source=source, field="actions")
            self.n_actions = int(n_actions)
            row = _first_bad_row((act < 0) | (act >= self.n_actions))
            if row is not None:
                raise DatasetError(f"action {int(act[row])} is outside the action space "
                                   f"{{0, ..., {self.n_actions - 1}}}", source=source, field="actions",
                                   row=row)
            self.actions = act.astype(np.int64, copy=False)
        elif n_actions is not None:
            raise DatasetError(f"the action space is discrete ({n_actions} actions) but actions have "
                               f"dtype {act.dtype} and shape {act.shape}; expected integers of shape ({n},)",
                               source=source, field="actions")
        else:
            if act.ndim != 2:
                kind = " of floats (discrete actions are integer ids)" if act.ndim == 1 else ""
                raise DatasetError(f"continuous actions need shape (N, action_dim), got {act.shape}{kind}",
                                   source=source, field="actions")
            self.n_actions = None
            self.actions = _as_float(act, "actions", source)
        self.extras: dict[str, np.ndarray] = {}
        for name, col in (extras or {}).items():
            arr = np.asarray(col)
            _check_rows(arr, n, name, source)
            if np.issubdtype(arr.dtype, np.floating):
                arr = _as_float(arr, name, source)
            self.extras[name] = arr
        self._episodes: tuple[np.ndarray, np.ndarray] | None = None

    # ------------------------------------------------------------------ structure
    def __len__(self) -> int:
        return len(self.obs)

    @property
    def n_transitions(self) -> int:
        return len(self.obs)

    @property
    def discrete(self) -> bool:
        return self.n_actions is not None

    @property
    def obs_shape(self) -> tuple[int, ...]:
        return tuple(self.obs.shape[1:])

    @property
    def action_dim(self) -> int:
        """Number of actions (discrete) or the action vector's length (continuous)."""
        return self.n_actions if self.discrete else int(self.actions.shape[1])

    def action_vectors(self) -> np.ndarray:
        """Actions as float vectors (N, action_dim): discrete actions one-hot, continuous ones as they are."""
        if self.discrete:
            return np.eye(self.n_actions, dtype=np.float32)[self.actions]
        return self.actions

    def columns(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in FIELDS}

    def digest(self) -> str:
        """A content digest of the data (BLAKE2b, 32 hex digits): the six fields and the extras, their dtypes and
        shapes, and the number of discrete actions. Equal digests mean the same transitions; metadata and the
        source name are not part of it. A run records it so that resuming on changed data is refused. Data with an
        object-dtype column (possible only for extras built in memory) has no stable digest: ``""``, not known."""
        import hashlib

        arrays = [*self.columns().items(), *sorted(self.extras.items())]
        if any(np.asarray(arr).dtype.hasobject for _, arr in arrays):
            return ""
        h = hashlib.blake2b(digest_size=16)
        h.update(repr(self.n_actions).encode())
        for name, arr in arrays:
            arr = np.ascontiguousarray(arr)
            h.update(f"{name}:{arr.dtype.str}:{arr.shape};".encode())
            h.update(arr.reshape(-1).view(np.uint8))
        return h.hexdigest()

    @property
    def episode_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """``(starts, ends)``: first and last row (inclusive) of every episode."""
        if self._episodes is None:
            done = self.terminals | self.timeouts
            done[-1] = True
            ends = np.flatnonzero(done)
            starts = np.concatenate([[0], ends[:-1] + 1])
            self._episodes = (starts, ends)
        return self._episodes

    @property
    def n_episodes(self) -> int:
        return len(self.episode_bounds[0])

    @property
    def episode_ids(self) -> np.ndarray:
        """(N,) index of the episode each row belongs to."""
        starts, ends = self.episode_bounds
        return np.repeat(np.arange(len(starts)), ends - starts + 1)

    @property
    def episode_returns(self) -> np.ndarray:
        """(n_episodes,) undiscounted return of each episode (float64)."""
        starts, _ = self.episode_bounds
        return np.add.reduceat(self.rewards.astype(np.float64), starts)

    def returns_to_go(self, gamma: float = 1.0) -> np.ndarray:
        """(N,) sum of (discounted) rewards from each row to the end of its episode (float64)."""
        r = self.rewards.astype(np.float64)
        if gamma == 1.0:
            c = np.cumsum(r)
            end = np.repeat(self.episode_bounds[1], np.diff(np.r_[self.episode_bounds[0], len(r)]))
            return c[end] - c + r
        out = np.empty_like(r)
        ends = np.zeros(len(r), dtype=bool)
        ends[self.episode_bounds[1]] = True
        acc = 0.0
        for t in range(len(r) - 1, -1, -1):  # plain loop: discounted sums are rare and O(N) once
            acc = r[t] + (0.0 if ends[t] else gamma * acc)
            out[t] = acc
        return out

    # ------------------------------------------------------------------ subsets
    def replace(self, *, extras: Mapping[str, Any] | None = None, **columns: Any) -> TransitionDataset:
        """A new dataset with some of the six columns (and/or the extras) replaced, validated as usual;
        ``n_actions``, ``meta`` and ``source`` carry over."""
        unknown = set(columns) - set(FIELDS)
        if unknown:
            raise TypeError(f"not dataset columns: {', '.join(sorted(unknown))}")
        return TransitionDataset(**{**self.columns(), **columns}, n_actions=self.n_actions, meta=self.meta,
                                 source=self.source, extras=self.extras if extras is None else extras)

    def select(self, rows: np.ndarray) -> TransitionDataset:
        """A new dataset made of the given rows, in order (episode flags are kept as they are)."""
        return self.replace(**{name: col[rows] for name, col in self.columns().items()},
                            extras={k: v[rows] for k, v in self.extras.items()})

    def select_episodes(self, episodes: np.ndarray) -> TransitionDataset:
        starts, ends = self.episode_bounds
        episodes = np.asarray(episodes, dtype=np.int64)
        rows = np.concatenate([np.arange(starts[e], ends[e] + 1) for e in episodes])
        out = self.select(rows)
        # A kept episode that ended at the dataset's last row without a flag is still one episode.
        return out

    def top_fraction(self, pct: float) -> TransitionDataset:
        """The best whole episodes by undiscounted return, while their timesteps stay ≤ pct × all.

        This is %BC's filter as in the Decision Transformer code; at least one episode is kept.
        """
        if not 0.0 < pct <= 1.0:
            raise ValueError(f"pct must be in (0, 1], got {pct}")
        if pct == 1.0:
            return self
        starts, ends = self.episode_bounds
        lengths = ends - starts + 1
        order = np.argsort(-self.episode_returns, kind="stable")
        budget = pct * self.n_transitions
        kept = np.cumsum(lengths[order]) <= budget
        kept[0] = True
        return self.select_episodes(np.sort(order[kept]))

    @staticmethod
    def concatenate(parts: list[TransitionDataset], meta: Mapping[str, Any] | None = None
                    ) -> TransitionDataset:
        """Join datasets end to end. An unflagged last row of a part becomes a timeout."""
        if not parts:
            raise ValueError("nothing to concatenate")
        cols = {name: [] for name in FIELDS}
        for part in parts:
            for name, col in part.columns().items():
                if name == "timeouts" and not (part.terminals[-1] or part.timeouts[-1]):
                    col = col.copy()
                    col[-1] = True
                cols[name].append(col)
        n_actions = parts[0].n_actions
        if n_actions is not None:
            n_actions = max(p.n_actions for p in parts)
        return TransitionDataset(**{k: np.concatenate(v) for k, v in cols.items()}, n_actions=n_actions,
                                 meta=meta if meta is not None else parts[0].meta)

    # ------------------------------------------------------------------ summary and sampling
    def info(self) -> dict[str, Any]:
        """A JSON-ready summary: sizes, return statistics, spaces, and the metadata."""
        returns = self.episode_returns
        action_space = ({"type": "discrete", "n": self.n_actions} if self.discrete
                        else {"type": "box", "shape": [self.action_dim],
                              "low": float(self.actions.min()), "high": float(self.actions.max())})
        return {
            "n_transitions": self.n_transitions,
            "n_episodes": self.n_episodes,
            "return_mean": float(returns.mean()),
            "return_std": float(returns.std()),
            "return_min": float(returns.min()),
            "return_max": float(returns.max()),
            "obs_shape": list(self.obs_shape),
            "action_space": action_space,
            "n_terminals": int(self.terminals.sum()),
            "n_timeouts": int(self.timeouts.sum()),
            "source": self.source,
            "meta": self.meta,
        }

    def sampler(self, batch_size: int, device: torch.device | str = "cpu", seed: int = 0) -> Sampler:
        return Sampler(self, batch_size, device, seed)


class Sampler:
    """Uniform minibatches: the columns live on ``device``; one index tensor gathers a batch.

    The cost of :meth:`sample` does not depend on the dataset's size. Its random state is a
    ``torch.Generator`` whose state is saved in checkpoints (:meth:`state_dict`).
    """

    def __init__(self, dataset: TransitionDataset, batch_size: int, device: torch.device | str = "cpu",
                 seed: int = 0):
        self.device = torch.device(device)
        self.batch_size = int(batch_size)
        self.n = dataset.n_transitions
        self.columns = {name: torch.as_tensor(col).to(self.device) for name, col in dataset.columns().items()}
        self.extras = {name: torch.tensor(col, device=self.device) for name, col in dataset.extras.items()
                       if np.issubdtype(col.dtype, np.number) or col.dtype == np.bool_}
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)

    def sample(self) -> Batch:
        idx = torch.randint(0, self.n, (self.batch_size,), generator=self.generator, device=self.device)
        # index_select, not col[idx]: the same rows, about twice as fast for 256 rows of a 1M-row column
        return Batch(**{name: col.index_select(0, idx) for name, col in self.columns.items()},
                     extras={name: col.index_select(0, idx) for name, col in self.extras.items()})

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: Mapping[str, torch.Tensor]) -> None:
        self.generator.set_state(state["generator"])
