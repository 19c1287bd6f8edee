"""Dataset files: read and write npz, D4RL HDF5, Parquet and local Minari datasets.

Every reader returns a validated :class:`~orlkit.data.dataset.TransitionDataset`, and every
problem with a file is a :class:`~orlkit.errors.DatasetError` whose ``source`` is the path
(or ``minari:ID``): an unknown extension, a missing, corrupt or mislabelled file, missing
fields, nulls, ragged lists, pickled objects. Loading never executes code from a file
(``np.load(allow_pickle=False)``, HDF5 and Parquet hold plain arrays).

Layouts (N rows, one per transition; field names as in :data:`~orlkit.data.dataset.FIELDS`):

- ``.npz``: arrays ``obs, actions, rewards, next_obs, terminals, timeouts`` (the D4RL names
  ``observations``/``next_observations`` work too) and an optional 0-d string array ``meta``
  holding a JSON object.
- ``.hdf5``/``.h5``: the D4RL layout ``observations, actions, rewards, terminals, timeouts``
  and optionally ``next_observations``. Without it, next_obs[i] = obs[i+1] inside an episode;
  the last row of an episode cut by a timeout (or the unflagged last row of the file) has no
  next observation and is dropped, as D4RL's ``qlearning_dataset`` does; the row before it
  then ends its episode and is marked a timeout, and ``meta["dropped_rows_without_next_obs"]``
  counts the dropped rows. A terminal row's next_obs is a copy of its own obs (never
  bootstrapped). Metadata: root attributes, a ``metadata`` group's scalars, and our own
  ``orlkit_meta`` attribute (a JSON string).
- ``.parquet``: one row per transition; ``obs``/``next_obs`` fixed-size lists of floats,
  ``actions`` int64 (discrete) or a list of floats (continuous), ``rewards`` float,
  ``terminals``/``timeouts`` bool; metadata JSON in the schema metadata key ``b"orlkit"``.
- ``minari:ID``: a Minari dataset already on this machine (nothing is downloaded).

Extra per-row columns (``TransitionDataset.extras``, e.g. ``propensities`` for off-policy
evaluation) are stored under the name ``extra__NAME``: an array in ``.npz`` and ``.hdf5``, a
column in ``.parquet`` (a list column for 2-d extras). They must be numeric or boolean; the
readers load every ``extra__*`` key back into ``extras``. Minari files do not hold extras.

Metadata is one JSON object; two keys are read by the loaders: ``n_actions`` (size of a
discrete action space; the writers store it) and ``obs_shape`` (Parquet stores flat rows, so
its writer records the shape of non-flat observations).
"""

from __future__ import annotations

import json
import os
import secrets
import warnings
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import h5py
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from orlkit.data.dataset import FIELDS, TransitionDataset
from orlkit.errors import DatasetError

MINARI_PREFIX = "minari:"
_ALIASES = {"obs": ("obs", "observations"), "next_obs": ("next_obs", "next_observations")}
_D4RL_NAMES = {"obs": "observations", "next_obs": "next_observations"}
_META_ATTR = "orlkit_meta"
_PARQUET_META_KEY = b"orlkit"
_TOLERANCE = 1e-6  # slack on env bounds: float32 rounding must not fail a value on the bound
EXTRA_PREFIX = "extra__"  # file key of the extra column NAME: extra__NAME

Columns = dict[str, np.ndarray]


# ---------------------------------------------------------------------------------- public API
def load_dataset_file(path: str | Path, n_actions: int | None = None) -> TransitionDataset:
    """Read a dataset file (``.npz``, ``.hdf5``/``.h5``, ``.parquet``) or ``"minari:ID"``.

    Args:
        path: the file, or ``"minari:DATASET_ID"`` for a local Minari dataset.
        n_actions: size of a discrete action space; overrides ``meta["n_actions"]`` in the file.

    Raises:
        DatasetError: naming the path, and the field and first bad row where there is one.
    """
    if isinstance(path, str) and path.startswith(MINARI_PREFIX):
        return _load_minari(path[len(MINARI_PREFIX):], n_actions)
    path = Path(path)
    source = str(path)
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise DatasetError(f"unknown file extension '{path.suffix}'; expected {_KNOWN_KINDS}", source=source)
    if not path.exists():
        raise DatasetError(f"no such file; expected a {path.suffix} dataset file", source=source)
    if not path.is_file():
        raise DatasetError(f"is not a file; expected a {path.suffix} file", source=source)
    columns, meta, extras = reader(path, source)
    return _build(columns, meta, n_actions, source, extras)


def save_dataset(ds: TransitionDataset, path: str | Path) -> Path:
    """Write ``ds`` to ``.npz``, ``.hdf5``/``.h5`` or ``.parquet``, atomically; returns the path.

    The file is written next to ``path`` under a temporary name and renamed over it, so a crash
    leaves either the old file or the new one. Reading it back gives identical arrays.
    """
    path = Path(path)
    writer = _WRITERS.get(path.suffix.lower())
    if writer is None:
        raise DatasetError(f"cannot save: unknown file extension '{path.suffix}'; expected .npz, .hdf5, "
                           ".h5 or .parquet", source=str(path))
    meta_json = _meta_json(ds, str(path))
    _check_extras_storable(ds, path)
    _atomic_write(path, lambda tmp: writer(ds, meta_json, tmp))
    return path


def save_minari(ds: TransitionDataset, dataset_id: str, env_id: str | None = None) -> None:
    """Store ``ds`` as a local Minari dataset (one episode buffer per episode of ``ds``).

    Each episode's observations are its ``obs`` rows then the last row's ``next_obs``, so
    ``next_obs[i]`` must equal ``obs[i+1]`` inside an episode. With ``env_id`` the dataset
    records that environment's spec (the data must fit it); without, its spaces are unbounded
    Boxes (or Discrete) of the data's shapes. ``ds.meta`` is kept in Minari's metadata.
    """
    import minari
    from minari.data_collector.episode_buffer import EpisodeBuffer

    source = MINARI_PREFIX + dataset_id
    _check_one_obs_sequence(ds, source)
    meta_json = _meta_json(ds, source)
    starts, ends = ds.episode_bounds
    buffers = [EpisodeBuffer(id=k, observations=np.concatenate([ds.obs[s:e + 1], ds.next_obs[e:e + 1]]),
                             actions=ds.actions[s:e + 1], rewards=ds.rewards[s:e + 1],
                             terminations=ds.terminals[s:e + 1], truncations=ds.timeouts[s:e + 1])
               for k, (s, e) in enumerate(zip(starts, ends, strict=True))]
    spaces = _spaces_of(ds) if env_id is None else {"env": _make_fitting_env(ds, env_id, source)}
    try:
        with warnings.catch_warnings():  # minari warns about every optional field left empty
            warnings.simplefilter("ignore", UserWarning)
            data = minari.create_dataset_from_buffers(dataset_id, buffers, **spaces, jpeg_encoding=False)
        data.storage.update_metadata({_META_ATTR: meta_json})
    except (ValueError, OSError, gym.error.Error) as e:
        raise DatasetError(f"cannot create the Minari dataset: {e}", source=source) from e
    finally:
        if "env" in spaces:
            spaces["env"].close()


def check_fits_env(ds: TransitionDataset, env: gym.Env, source: str | None = None) -> None:
    """Raise :class:`DatasetError` unless ``ds``'s observations and actions fit ``env``'s spaces.

    Observations: a Box space of the same shape; every ``obs``/``next_obs`` value within the
    finite bounds. Actions: integers in a Discrete space, or vectors of the Box's shape within
    its bounds (tolerance 1e-6).
    """
    source = source if source is not None else ds.source
    _check_obs_fit(ds, env.observation_space, source)
    if isinstance(env.action_space, gym.spaces.Discrete):
        _check_discrete_fit(ds, env.action_space, source)
    elif isinstance(env.action_space, gym.spaces.Box):
        _check_box_action_fit(ds, env.action_space, source)
    else:
        raise DatasetError(f"the env's action space {env.action_space} is not supported; orlkit handles "
                           "Discrete and Box action spaces", source=source, field="actions")


# ---------------------------------------------------------------------------------- shared helpers
def _build(columns: Columns, meta: dict[str, Any], n_actions: int | None, source: str,
           extras: Columns | None = None) -> TransitionDataset:
    """The validated dataset; without next_obs it is derived as for D4RL (see module doc)."""
    n_actions = n_actions if n_actions is not None else _meta_n_actions(meta, source)
    extras = extras or {}
    if "next_obs" in columns:
        return TransitionDataset(**columns, n_actions=n_actions, meta=meta, source=source, extras=extras)
    # Validate the file's rows first, so errors name the row numbers of the file.
    raw = TransitionDataset(**columns, next_obs=columns["obs"], n_actions=n_actions, meta=meta, source=source,
                            extras=extras)
    next_obs, keep, timeouts = _derive_next_obs(raw.obs, raw.terminals, raw.timeouts)
    cols = raw.columns() | {"next_obs": next_obs, "timeouts": timeouts}
    meta = raw.meta | {"dropped_rows_without_next_obs": int(len(keep) - keep.sum())}
    return TransitionDataset(**{k: v[keep] for k, v in cols.items()}, n_actions=raw.n_actions, meta=meta,
                             source=source, extras={k: v[keep] for k, v in raw.extras.items()})


def _derive_next_obs(obs: np.ndarray, terminals: np.ndarray, timeouts: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(next_obs, keep, timeouts)`` for rows that have a next observation inside their episode."""
    n = len(obs)
    end = terminals | timeouts
    end[-1] = True
    next_obs = obs.copy()
    next_obs[:-1] = obs[1:]
    next_obs[terminals] = obs[terminals]  # a terminal row is never bootstrapped
    keep = ~end | terminals
    # A row whose successor is dropped now ends its episode, cut by the time limit.
    before_dropped = np.zeros(n, dtype=bool)
    before_dropped[:-1] = ~keep[1:] & ~end[:-1]
    return next_obs, keep, timeouts | before_dropped


def _meta_n_actions(meta: dict[str, Any], source: str) -> int | None:
    value = meta.get("n_actions")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DatasetError(f"n_actions must be a positive integer, got {value!r}", source=source,
                           field="meta")
    return value


def _resolve(available: set[str], kind: str, source: str, optional: tuple[str, ...] = ()) -> dict[str, str]:
    """Map each field to its name in the file; one error names every missing required field."""
    names, missing = {}, []
    for field in FIELDS:
        found = [a for a in _ALIASES.get(field, (field,)) if a in available]
        if len(found) > 1:
            raise DatasetError(f"both {found[0]!r} and {found[1]!r} are present; keep one", source=source,
                               field=field)
        if found:
            names[field] = found[0]
        elif field not in optional:
            missing.append("/".join(repr(a) for a in _ALIASES.get(field, (field,))))
    if missing:
        kinds = kind + ("s" if len(missing) > 1 else "")
        present = ", ".join(repr(a) for a in sorted(available)) or "none"
        raise DatasetError(f"missing required {kinds} {', '.join(missing)}; the file has {present}",
                           source=source)
    return names


def _parse_meta(raw: Any, source: str) -> dict[str, Any]:
    """A metadata dict from a JSON string (str, bytes or 0-d string array)."""
    if isinstance(raw, np.ndarray):
        if raw.ndim != 0 or raw.dtype.kind not in "US":
            raise DatasetError(f"expected a 0-d string array holding JSON, got dtype {raw.dtype} and shape "
                               f"{raw.shape}", source=source, field="meta")
        raw = raw.item()
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    try:
        meta = json.loads(raw)
    except (TypeError, ValueError) as e:
        raise DatasetError(f"metadata is not valid JSON ({e})", source=source, field="meta") from e
    if not isinstance(meta, dict):
        raise DatasetError(f"metadata must be a JSON object, got {type(meta).__name__}", source=source,
                           field="meta")
    return meta


def _meta_json(ds: TransitionDataset, source: str) -> str:
    """``ds.meta`` (plus ``n_actions`` for discrete data) as a JSON string."""
    meta = dict(ds.meta)
    if ds.discrete:
        meta["n_actions"] = ds.n_actions
    try:
        return json.dumps(meta, default=_json_default)
    except (TypeError, ValueError) as e:
        raise DatasetError(f"metadata is not JSON-serialisable: {e}", source=source, field="meta") from e


def _json_default(x: Any) -> Any:
    if isinstance(x, np.generic | np.ndarray):
        return x.tolist()
    raise TypeError(f"object of type {type(x).__name__} is not JSON serializable")


def _jsonable(x: Any) -> Any:
    """A plain JSON value for a scalar attribute, or None for anything bigger."""
    if isinstance(x, np.ndarray):
        if x.ndim != 0:
            return None
        x = x.item()
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, bytes):
        return x.decode("utf-8", errors="replace")
    return x if isinstance(x, str | int | float | bool) else None


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write through ``write(tmp)`` to a temporary file beside ``path``, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # The temporary name keeps the suffix, so numpy does not append '.npz' to it.
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp{path.suffix}")
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _first_true(mask: np.ndarray) -> int | None:
    """The first row with any True entry in a (N, ...) mask, or None."""
    hit = np.flatnonzero(mask.reshape(len(mask), -1).any(axis=1))
    return int(hit[0]) if len(hit) else None


def _check_extras_storable(ds: TransitionDataset, path: Path) -> None:
    """Extras must be numeric or boolean (no pickled objects, no strings); Parquet takes 1-d or 2-d ones."""
    for name, col in ds.extras.items():
        if col.dtype.kind not in "biuf":
            raise DatasetError(f"cannot save: dtype {col.dtype} is not numeric or boolean; dataset files hold "
                               "numeric and boolean extra columns", source=str(path), field=name)
        if path.suffix.lower() == ".parquet" and col.ndim > 2:
            raise DatasetError(f"cannot save: shape {col.shape} has more than 2 dimensions; Parquet holds 1-d "
                               "and 2-d extra columns", source=str(path), field=name)


def _extra_keys(available: set[str] | list[str]) -> dict[str, str]:
    """``{NAME: "extra__NAME"}`` for the file keys that hold extra columns."""
    return {k[len(EXTRA_PREFIX):]: k for k in sorted(available) if k.startswith(EXTRA_PREFIX) and
            len(k) > len(EXTRA_PREFIX)}


# ---------------------------------------------------------------------------------- npz
def _read_npz(path: Path, source: str) -> tuple[Columns, dict[str, Any], Columns]:
    if not zipfile.is_zipfile(path):
        raise DatasetError("is not a .npz archive (no zip signature); expected named arrays saved with "
                           "numpy.savez", source=source)
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise DatasetError(f"cannot read as a .npz archive ({e})", source=source) from e
    with archive:
        names = _resolve(set(archive.files), "array", source)
        columns = {field: _npz_array(archive, key, field, source) for field, key in names.items()}
        extras = {name: _npz_array(archive, key, name, source) for name, key in _extra_keys(archive.files).items()}
        meta = _parse_meta(_npz_array(archive, "meta", "meta", source), source) if "meta" in archive else {}
    return columns, meta, extras


def _npz_array(archive: Any, key: str, field: str, source: str) -> np.ndarray:
    try:
        return archive[key]
    except ValueError as e:
        if "allow_pickle" in str(e):
            raise DatasetError(f"array {key!r} holds Python objects (dtype object), which loading would have "
                               "to unpickle; store plain numeric arrays", source=source, field=field) from e
        raise DatasetError(f"array {key!r} is unreadable ({e})", source=source, field=field) from e
    except (OSError, zipfile.BadZipFile, zlib.error, EOFError) as e:
        raise DatasetError(f"array {key!r} is unreadable ({e})", source=source, field=field) from e


def _write_npz(ds: TransitionDataset, meta_json: str, tmp: Path) -> None:
    with open(tmp, "wb") as f:
        extras = {EXTRA_PREFIX + name: col for name, col in ds.extras.items()}
        np.savez(f, **ds.columns(), **extras, meta=np.array(meta_json))


# ---------------------------------------------------------------------------------- HDF5 (D4RL)
def _read_hdf5(path: Path, source: str) -> tuple[Columns, dict[str, Any], Columns]:
    try:
        with h5py.File(path, "r") as f:
            available = {k for k in f.keys() if isinstance(f[k], h5py.Dataset)}
            for field in FIELDS:  # a column stored as a group would otherwise read as missing
                group = next((a for a in _ALIASES.get(field, (field,)) if isinstance(f.get(a), h5py.Group)), None)
                if group is not None:
                    raise DatasetError(f"{group!r} is an HDF5 group, not a dataset; store the column as an array "
                                       "(an HDF5 dataset) at the file's root, as D4RL files do", source=source,
                                       field=field)
            names = _resolve(available, "dataset", source, optional=("next_obs",))
            columns = {field: _hdf5_array(f[key], field, source) for field, key in names.items()}
            extras = {name: _hdf5_array(f[key], name, source) for name, key in _extra_keys(available).items()}
            meta = _hdf5_meta(f, source)
    except (OSError, KeyError, TypeError, RuntimeError) as e:
        raise DatasetError(f"cannot read as an HDF5 file ({e})", source=source) from e
    return columns, meta, extras


def _hdf5_array(dset: h5py.Dataset, field: str, source: str) -> np.ndarray:
    try:
        return dset[()]
    except (OSError, TypeError, ValueError) as e:
        raise DatasetError(f"dataset {dset.name!r} is unreadable ({e})", source=source, field=field) from e


def _hdf5_meta(f: h5py.File, source: str) -> dict[str, Any]:
    """Root attributes and the scalars of a D4RL ``metadata`` group; ``orlkit_meta`` wins."""
    meta: dict[str, Any] = {}
    group = f.get("metadata")
    if isinstance(group, h5py.Group):
        def visit(name: str, obj: Any) -> None:
            if isinstance(obj, h5py.Dataset) and obj.shape == ():
                value = _jsonable(obj[()])
                if value is not None:
                    meta[name] = value
        meta.update({k: v for k, v in ((k, _jsonable(v)) for k, v in group.attrs.items()) if v is not None})
        group.visititems(visit)
    for key, raw in f.attrs.items():
        value = _jsonable(raw)
        if key != _META_ATTR and value is not None:
            meta[key] = value
    if _META_ATTR in f.attrs:
        meta.update(_parse_meta(_jsonable(f.attrs[_META_ATTR]), source))
    return meta


def _write_hdf5(ds: TransitionDataset, meta_json: str, tmp: Path) -> None:
    with h5py.File(tmp, "w") as f:
        for field, col in ds.columns().items():
            f.create_dataset(_D4RL_NAMES.get(field, field), data=col)
        for name, col in ds.extras.items():
            f.create_dataset(EXTRA_PREFIX + name, data=col)
        f.attrs[_META_ATTR] = meta_json


# ---------------------------------------------------------------------------------- Parquet
def _read_parquet(path: Path, source: str) -> tuple[Columns, dict[str, Any], Columns]:
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError, ValueError) as e:
        raise DatasetError(f"cannot read as a Parquet file ({e})", source=source) from e
    with parquet:
        column_names = parquet.schema_arrow.names
        schema_meta = parquet.schema_arrow.metadata or {}
        duplicates = sorted({n for n in column_names if column_names.count(n) > 1})
        if duplicates:
            raise DatasetError(f"column name(s) {', '.join(map(repr, duplicates))} appear more than once",
                               source=source)

        def read(key: str, name: str) -> np.ndarray:
            # One column at a time: after reading the whole table at once, mimalloc kept ~50 MB of the freed
            # table for 100 MB of arrays (RSS 1.52x the arrays for 1M transitions; 1.21x this way).
            try:  # by name from the result: pyarrow also matches `key` as a path into a struct column
                column = parquet.read(columns=[key], use_threads=False).column(key)
            except (pa.ArrowException, OSError, ValueError, KeyError) as e:
                raise DatasetError(f"cannot read column '{key}' ({e})", source=source, field=name) from e
            x = _arrow_to_numpy(column, name, source)
            del column
            pa.default_memory_pool().release_unused()
            return x

        names = _resolve(set(column_names), "column", source)
        columns = {field: read(key, field) for field, key in names.items()}
        extras = {name: read(key, name) for name, key in _extra_keys(column_names).items()}
    meta = _parse_meta(schema_meta[_PARQUET_META_KEY], source) if _PARQUET_META_KEY in schema_meta else {}
    if "obs_shape" in meta and len(columns["obs"]):
        shape = meta["obs_shape"]
        if not (isinstance(shape, list) and all(isinstance(d, int) and d > 0 for d in shape)):
            raise DatasetError(f"obs_shape must be a list of positive integers, got {shape!r}", source=source,
                               field="meta")
        for field in ("obs", "next_obs"):
            columns[field] = _reshape_rows(columns[field], shape, field, source)
    return columns, meta, extras


def _reshape_rows(x: np.ndarray, shape: list[int], field: str, source: str) -> np.ndarray:
    if int(np.prod(shape)) != x.shape[1]:
        raise DatasetError(f"rows of {x.shape[1]} values do not fit meta obs_shape {list(shape)}",
                           source=source, field=field)
    return x.reshape(len(x), *shape)


def _arrow_to_numpy(column: pa.ChunkedArray, field: str, source: str) -> np.ndarray:
    """A NumPy array from a scalar column or a column of equal-length lists (as rows)."""
    arr = column.combine_chunks()
    _raise_on_null(arr, field, source)
    if not (pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type)
            or pa.types.is_fixed_size_list(arr.type)):
        return arr.to_numpy(zero_copy_only=False, writable=True)
    if len(arr) == 0:
        return np.zeros((0, 0), dtype=np.float32)
    lengths = pc.list_value_length(arr).to_numpy(zero_copy_only=False)
    row = _first_true(lengths != lengths[0])
    if row is not None:
        raise DatasetError(f"list of {lengths[row]} values, but row 0 has {lengths[0]}; lists must have "
                           "one length", source=source, field=field, row=row)
    values = arr.flatten()
    if values.null_count:
        first = int(np.flatnonzero(pc.is_null(values).to_numpy(zero_copy_only=False))[0])
        row = int(pc.list_parent_indices(arr)[first].as_py())
        raise DatasetError("null value inside the list", source=source, field=field, row=row)
    return values.to_numpy(zero_copy_only=False, writable=True).reshape(len(arr), int(lengths[0]))  # (N, k)


def _raise_on_null(arr: pa.Array, field: str, source: str) -> None:
    if arr.null_count:
        row = int(np.flatnonzero(pc.is_null(arr).to_numpy(zero_copy_only=False))[0])
        raise DatasetError("null value", source=source, field=field, row=row)


def _arrow_rows(x: np.ndarray) -> pa.Array:
    """(N, ...) array as a column of fixed-size lists, one flat row per list."""
    flat = x.reshape(len(x), -1)  # (N, k)
    return pa.FixedSizeListArray.from_arrays(pa.array(flat.reshape(-1)), flat.shape[1])


def _write_parquet(ds: TransitionDataset, meta_json: str, tmp: Path) -> None:
    if len(ds.obs_shape) > 1:
        meta_json = json.dumps(json.loads(meta_json) | {"obs_shape": list(ds.obs_shape)})
    columns = ds.columns() | {EXTRA_PREFIX + name: col for name, col in ds.extras.items()}
    arrays = {name: _arrow_rows(col) if col.ndim > 1 else pa.array(col) for name, col in columns.items()}
    table = pa.table(arrays).replace_schema_metadata({_PARQUET_META_KEY: meta_json.encode()})
    pq.write_table(table, tmp)


# ---------------------------------------------------------------------------------- Minari
def _load_minari(dataset_id: str, n_actions: int | None) -> TransitionDataset:
    import minari

    source = MINARI_PREFIX + dataset_id
    try:
        data = minari.load_dataset(dataset_id)
    except FileNotFoundError as e:
        local = ", ".join(sorted(minari.list_local_datasets())) or "none"
        raise DatasetError(f"no local Minari dataset with this id (local datasets: {local}); orlkit does not "
                           "download: run 'minari download ID' first", source=source) from e
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DatasetError(f"cannot read the Minari dataset ({e})", source=source) from e
    _check_minari_spaces(data.observation_space, data.action_space, source)
    columns, unflagged = _minari_columns(data, source)
    meta = _minari_meta(data, source)
    if unflagged:
        meta["unflagged_episode_ends_marked_timeout"] = unflagged
    if n_actions is None and isinstance(data.action_space, gym.spaces.Discrete):
        n_actions = int(data.action_space.n)
    return _build(columns, meta, n_actions, source)


def _check_minari_spaces(obs_space: gym.Space, action_space: gym.Space, source: str) -> None:
    if not (isinstance(obs_space, gym.spaces.Box) and len(obs_space.shape) == 1):
        raise DatasetError(f"observation space {obs_space} is not supported; orlkit reads flat Box "
                           "observations", source=source, field="obs")
    discrete = isinstance(action_space, gym.spaces.Discrete) and int(action_space.start) == 0
    flat_box = isinstance(action_space, gym.spaces.Box) and len(action_space.shape) == 1
    if not (discrete or flat_box):
        raise DatasetError(f"action space {action_space} is not supported; orlkit reads Discrete (from 0) "
                           "and flat Box actions", source=source, field="actions")


def _minari_columns(data: Any, source: str) -> tuple[Columns, int]:
    """Concatenated episodes, and how many unflagged episode ends before the last became timeouts."""
    parts: dict[str, list[np.ndarray]] = {name: [] for name in FIELDS}
    unflagged = 0
    episodes = list(data.iterate_episodes())
    for k, ep in enumerate(episodes):
        steps = len(ep.actions)
        if len(ep.observations) != steps + 1:
            raise DatasetError(f"episode {ep.id} has {len(ep.observations)} observations for {steps} "
                               f"actions; expected {steps + 1}", source=source, field="obs")
        timeouts = np.asarray(ep.truncations, dtype=bool).copy()
        if steps and k < len(episodes) - 1 and not (ep.terminations[-1] or timeouts[-1]):
            timeouts[-1] = True
            unflagged += 1
        for name, col in (("obs", ep.observations[:-1]), ("next_obs", ep.observations[1:]),
                          ("actions", ep.actions), ("rewards", ep.rewards),
                          ("terminals", ep.terminations), ("timeouts", timeouts)):
            parts[name].append(np.asarray(col))
    if not episodes:
        raise DatasetError("the dataset is empty (0 episodes)", source=source)
    return {name: np.concatenate(cols) for name, cols in parts.items()}, unflagged


def _minari_meta(data: Any, source: str) -> dict[str, Any]:
    """Metadata saved by :func:`save_minari`, then the dataset id and its env's id (these win)."""
    raw = data.storage.metadata.get(_META_ATTR)
    meta = _parse_meta(raw, source) if raw is not None else {}
    meta["minari_dataset_id"] = data.spec.dataset_id
    if data.spec.env_spec is not None:
        meta["env_id"] = data.spec.env_spec.id
    return meta


def _spaces_of(ds: TransitionDataset) -> dict[str, gym.Space]:
    """Unbounded spaces of the data's shapes, for a Minari dataset without an env."""
    obs_space = gym.spaces.Box(-np.inf, np.inf, ds.obs_shape, np.float32)
    action_space = (gym.spaces.Discrete(ds.n_actions) if ds.discrete
                    else gym.spaces.Box(-np.inf, np.inf, (ds.action_dim,), np.float32))
    return {"observation_space": obs_space, "action_space": action_space}


def _make_fitting_env(ds: TransitionDataset, env_id: str, source: str) -> gym.Env:
    try:
        env = gym.make(env_id)
    except gym.error.Error as e:
        raise DatasetError(f"cannot make env {env_id!r}: {e}", source=source) from e
    check_fits_env(ds, env, source)
    return env


def _check_one_obs_sequence(ds: TransitionDataset, source: str) -> None:
    """Minari keeps one observation sequence per episode: next_obs[i] must be obs[i+1] inside it."""
    inside = np.ones(len(ds) - 1, dtype=bool)
    inside[ds.episode_bounds[1][:-1]] = False  # (N-1,) rows whose successor is in the same episode
    row = _first_true((ds.next_obs[:-1] != ds.obs[1:]) & inside.reshape(-1, *[1] * len(ds.obs_shape)))
    if row is not None:
        raise DatasetError("next_obs differs from the next row's obs inside an episode; Minari stores one "
                           "observation sequence per episode, so this cannot be saved without loss",
                           source=source, field="next_obs", row=row)


# ---------------------------------------------------------------------------------- env checks
def _check_obs_fit(ds: TransitionDataset, space: gym.Space, source: str | None) -> None:
    if not isinstance(space, gym.spaces.Box):
        raise DatasetError(f"the env's observation space {space} is not a Box; orlkit checks Box "
                           "observation spaces only", source=source, field="obs")
    if ds.obs_shape != space.shape:
        raise DatasetError(f"observations have shape {ds.obs_shape} but the env's observation space has "
                           f"shape {space.shape}", source=source, field="obs")
    for field in ("obs", "next_obs"):
        _check_bounds(getattr(ds, field), space, field, "observation", source)


def _check_bounds(x: np.ndarray, space: gym.spaces.Box, field: str, what: str, source: str | None) -> None:
    """Every value of (N, *space.shape) ``x`` within the space's finite bounds, with tolerance."""
    low = np.broadcast_to(space.low, space.shape)
    high = np.broadcast_to(space.high, space.shape)
    for bad, side, bound in ((x < low - _TOLERANCE, "below the lower", low),
                             (x > high + _TOLERANCE, "above the upper", high)):
        row = _first_true(bad)
        if row is not None:
            idx = tuple(int(i) for i in np.argwhere(bad[row])[0])
            at = "".join(f"[{i}]" for i in (row, *idx))
            raise DatasetError(f"{field}{at} = {float(x[row][idx]):g} is {side} bound "
                               f"{float(bound[idx]):g} of the env's {what} space", source=source,
                               field=field, row=row)


def _check_discrete_fit(ds: TransitionDataset, space: gym.spaces.Discrete, source: str | None) -> None:
    n, start = int(space.n), int(space.start)
    if not ds.discrete:
        raise DatasetError(f"the env's action space is discrete ({space}) but the dataset's actions are "
                           f"continuous vectors of length {ds.action_dim}", source=source, field="actions")
    row = _first_true((ds.actions < start) | (ds.actions >= start + n))
    if row is not None:
        raise DatasetError(f"action {int(ds.actions[row])} is outside the env's action space {space}",
                           source=source, field="actions", row=row)
    if ds.n_actions > n:
        raise DatasetError(f"the dataset declares {ds.n_actions} actions but the env's action space "
                           f"{space} has {n}", source=source, field="actions")


def _check_box_action_fit(ds: TransitionDataset, space: gym.spaces.Box, source: str | None) -> None:
    if ds.discrete:
        raise DatasetError(f"the env's action space is continuous (Box of shape {space.shape}) but the "
                           f"dataset's actions are discrete ({ds.n_actions} actions)", source=source,
                           field="actions")
    if ds.actions.shape[1:] != space.shape:
        raise DatasetError(f"actions have shape {ds.actions.shape[1:]} but the env's action space has shape "
                           f"{space.shape}", source=source, field="actions")
    _check_bounds(ds.actions, space, "actions", "action", source)


_READERS = {".npz": _read_npz, ".hdf5": _read_hdf5, ".h5": _read_hdf5, ".parquet": _read_parquet}
_WRITERS = {".npz": _write_npz, ".hdf5": _write_hdf5, ".h5": _write_hdf5, ".parquet": _write_parquet}
_KNOWN_KINDS = (".npz, .hdf5, .h5, .parquet, or 'minari:DATASET_ID' for a local Minari dataset (and, through "
                "the CLI or resolve_dataset, a .csv or .parquet event log)")
