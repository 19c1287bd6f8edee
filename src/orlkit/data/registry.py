"""Built-in dataset names: made locally and deterministically from a seed, cached after first use.

The cache is ``$ORLKIT_CACHE`` or ``~/.cache/orlkit``; a cached file is keyed by name, seed and
the maker's version, and is written atomically.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from orlkit.data.dataset import TransitionDataset
from orlkit.errors import OrlkitError


@dataclass(frozen=True)
class DatasetMaker:
    name: str
    env_id: str
    description: str
    make: Callable[[int], TransitionDataset]  # seed → dataset
    version: int = 1  # bump when the maker's output changes, so stale caches are not used


DATASETS: dict[str, DatasetMaker] = {}


# Version of each environment's locomotion datasets (part of the cache file's name): 2 = behavior policies exported
# at 150k SAC steps; walker2d 3 = its SAC run continued to 460k steps and re-exported at 430k
# (docs/datasets.md, Locomotion).
LOCOMOTION_VERSIONS = {"hopper": 2, "halfcheetah": 2, "walker2d": 3}
# Both point-maze datasets come from make_pointmaze_dataset: bump this when it changes, so neither cache goes stale.
POINTMAZE_VERSION = 3


def register(maker: DatasetMaker) -> None:
    DATASETS[maker.name] = maker


def _register_builtins() -> None:
    from functools import partial

    from orlkit.data.classic import QUALITIES, make_classic_dataset
    from orlkit.data.events import log_events, read_event_log
    from orlkit.data.locomotion import ENVS, make_locomotion_dataset
    from orlkit.data.locomotion import QUALITIES as LOCOMOTION_QUALITIES
    from orlkit.envs.gridworld import make_gridworld_dataset
    from orlkit.envs.notifications import PRODUCTION_DAILY_CAP, logging_policy
    from orlkit.envs.pointmaze import make_pointmaze_dataset
    from orlkit.envs.pusher import make_demos

    for prefix, env_id in (("cartpole", "CartPole-v1"), ("acrobot", "Acrobot-v1"), ("pendulum", "Pendulum-v1")):
        for quality in QUALITIES:
            register(DatasetMaker(
                f"{prefix}-{quality}", env_id, f"{env_id}, {quality} scripted behavior, 100k transitions",
                lambda seed, env_id=env_id, quality=quality: make_classic_dataset(env_id, quality, seed=seed)))
    register(DatasetMaker(
        "gridworld-missing", "orlkit/GridWorld-v0",
        "gridworld, uniform behavior that never takes some actions in some states, 100k transitions",
        lambda seed: make_gridworld_dataset("missing", n_transitions=100_000, seed=seed)))
    register(DatasetMaker(
        "gridworld-uniform", "orlkit/GridWorld-v0", "gridworld, uniform random behavior, 10k transitions",
        lambda seed: make_gridworld_dataset("uniform", seed=seed)))
    register(DatasetMaker(
        "pointmaze-stitch", "orlkit/PointMaze-v0",
        "point maze (tree maze with junctions and dead ends), noisy PD hops between neighbouring cells "
        "only: no episode goes from start to goal, 100k transitions",
        lambda seed: make_pointmaze_dataset(n_transitions=100_000, seed=seed), version=POINTMAZE_VERSION))
    register(DatasetMaker(
        "pointmaze-stitch-walls", "orlkit/PointMaze-v0",
        "pointmaze-stitch with four wall sensors in the observation (distance to the nearest wall up, right, "
        "down, left, capped at one cell): the same hops, 100k transitions",
        lambda seed: make_pointmaze_dataset(n_transitions=100_000, seed=seed, wall_obs=True),
        version=POINTMAZE_VERSION))
    register(DatasetMaker(
        "pusher-demos", "orlkit/Pusher-v0",
        "2D pusher: 50 scripted demonstrations (action noise 0.1) that push the block around the wall into "
        "the goal; their final states are the goal classifier's success examples; 5k transitions",
        lambda seed: make_demos(50, seed=seed)))
    register(DatasetMaker(
        "notifications-logs", "orlkit/Notifications-v0",
        "notification send/drop decisions of 2,000 user-weeks under the pCTR-threshold logging policy "
        "(ε = 0.05, frequency cap 4 per 24 h), ~112k transitions with propensities and user ids in extras",
        lambda seed: read_event_log(log_events(2000, seed, policy=partial(logging_policy,
                                                                          daily_cap=PRODUCTION_DAILY_CAP)))))


    for env_key, env_id in ENVS.items():
        for quality in LOCOMOTION_QUALITIES:
            size = {"medium-expert": "2M", "medium-replay": "as many as the run took"}.get(quality, "1M")
            register(DatasetMaker(
                f"{env_key}-{quality}", env_id,
                f"{env_id}, D4RL-style {quality} from orlkit's SAC behavior policies, {size} transitions",
                lambda seed, env_key=env_key, quality=quality: make_locomotion_dataset(env_key, quality, seed),
                version=LOCOMOTION_VERSIONS[env_key]))


def dataset_names() -> list[str]:
    if not DATASETS:
        _register_builtins()
    return sorted(DATASETS)


def cache_dir() -> Path:
    return Path(os.environ.get("ORLKIT_CACHE", Path.home() / ".cache" / "orlkit")) / "datasets"


def cache_path(name: str, seed: int = 0) -> Path:
    """Where the cache keeps the built-in dataset ``name`` made with ``seed`` (in its current version)."""
    dataset_names()  # registers the built-in makers
    return cache_dir() / f"{name}-seed{seed}-v{DATASETS[name].version}.npz"


def make_dataset(name: str, seed: int = 0, cache: bool = True) -> TransitionDataset:
    """The built-in dataset ``name`` made with ``seed`` (read from the cache when it is there)."""
    from orlkit.data.formats import load_dataset_file, save_dataset

    if name not in dataset_names():
        raise OrlkitError(f"unknown dataset '{name}'; built-in names: {', '.join(dataset_names())} "
                          "(or give a path to a .npz/.hdf5/.parquet file, a .csv/.parquet event log, or minari:ID)")
    maker = DATASETS[name]
    path = cache_path(name, seed)
    if cache and path.exists():
        ds = load_dataset_file(path)
    else:
        ds = maker.make(seed)
        if cache:
            save_dataset(ds, path)
    ds.meta.setdefault("env_id", maker.env_id)
    ds.meta["name"] = name
    ds.source = name
    return ds


def is_event_log(path: Path) -> bool:
    """A .csv file, or a .parquet file with an ``action`` column and no ``obs`` column (the event-log
    schema of ``docs/notifications.md``, one row per logged decision)."""
    if path.suffix.lower() == ".csv":
        return True
    if path.suffix.lower() != ".parquet" or not path.is_file():
        return False
    import pyarrow.parquet as pq

    try:
        names = set(pq.read_schema(path).names)
    except Exception:  # unreadable: let the transition reader give its message
        return False
    return "action" in names and "obs" not in names


def resolve_dataset(spec: str, seed: int = 0) -> TransitionDataset:
    """A dataset from a built-in name, a file (.npz, .hdf5/.h5, .parquet transitions, or a .parquet/.csv
    event log) or ``minari:ID``."""
    from orlkit.data.events import read_event_log
    from orlkit.data.formats import load_dataset_file

    if spec in dataset_names():
        return make_dataset(spec, seed)
    if is_event_log(Path(spec)):
        return read_event_log(spec)
    if spec.startswith("minari:") or Path(spec).suffix or os.sep in spec:
        return load_dataset_file(spec)
    return make_dataset(spec, seed)  # raises with the list of names
