"""Trajectory stitching on the point maze: value-based offline RL against imitation, several seeds.

``orlkit demo stitching`` trains BC, %BC, IQL and CQL on ``pointmaze-stitch`` (the tree maze of
``docs/pointmaze.md``; ``--dataset pointmaze-stitch-walls`` for the same hops with wall sensors) and
reports how often each final policy reaches the goal. No episode of the data goes from the start to the
goal (every episode is one noisy hop between two neighbouring cells); the demo counts the episodes that
hold both a start-cell and a goal-cell state and prints that number, 0. Imitation learns "hop to *a*
neighbour": at a junction the data's hops leave in every direction, so BC has no preferred way towards
the goal, and %BC keeps the hops into ``G`` (the only episodes with return 1) plus ties. IQL and CQL can
propagate the goal's reward back through the hops' timeouts.

Settings (found on one seed; every measurement is in ``docs/pointmaze.md``), as config overrides:

- **rewards r − 1 for IQL and CQL** (the IQL paper's AntMaze convention: the goal step pays 0,
  every other step −1). With γ = 0.99 and the sparse 0/1 reward one step's advantage is about
  0.003, so ``exp(β·A)`` with β = 10 weights every action alike and IQL's policy is BC; shifted,
  the values are the sparse ones × 1/(1 − γ) − 100: the same ordering, 100× larger advantages.
  BC ignores rewards and %BC ranks episodes by return, so both train on the unshifted data.
- **IQL**: ``expectile=0.9``, ``beta=10`` (AntMaze), ``reward_scale_by_return_range=false`` (the
  MuJoCo scaling would multiply the 0/1 returns by 1000), ``tau=0.02`` (the start is ~90 steps from
  the goal and each step of value propagation waits ~1/τ updates for the target critic; with the
  default 0.005 the values reached only half-way in 20k updates; 0.05 made them overshoot their
  bound), ``hidden=128,128`` (speed), 40k updates: on dataset version 3 (hop noise 0.8) 3 seeds of 3
  reached the goal in 20/20 final evaluation episodes (on version 2, noise 0.3: 0, 20 and 20 of 20).
- **CQL**: ``alpha=2`` fixed (no Lagrange multiplier), ``tau=0.02``, ``n_action_samples=4`` and
  ``hidden=128,128`` (speed), 20k updates. On ``pointmaze-stitch`` no CQL setting measured reaches the
  goal (16 of them, docs/pointmaze.md): its actor presses into the wall under a junction, which its
  critic, seeing only position and velocity, rates above the way out. ``--dataset pointmaze-stitch-walls``
  is the same data with four wall sensors in the observation; there CQL reaches the goal
  (docs/pointmaze.md, "Wall sensors").
- **BC / %BC**: the defaults (``pct-bc`` keeps the best 10 % of timesteps).
"""

from __future__ import annotations

import json
import tempfile
from typing import Any

import numpy as np

from orlkit.data.dataset import TransitionDataset
from orlkit.data.registry import make_dataset
from orlkit.envs.pointmaze import PointMaze
from orlkit.errors import OrlkitError
from orlkit.train.fit import RunConfig, train

DATASET = "pointmaze-stitch"
DATASETS = ("pointmaze-stitch", "pointmaze-stitch-walls")  # the same hops; the second adds wall sensors
SMALL = {"hidden": [128, 128]}
# name: (algorithm, config overrides, reward shift, updates)
JOBS: dict[str, tuple[str, dict[str, Any], float, int]] = {
    "bc": ("bc", {}, 0.0, 5_000),
    "pct-bc": ("pct-bc", {}, 0.0, 5_000),
    "iql": ("iql", {**SMALL, "expectile": 0.9, "beta": 10.0, "tau": 0.02, "reward_scale_by_return_range": False},
            -1.0, 40_000),
    "cql": ("cql", {**SMALL, "alpha": 2.0, "lagrange": False, "tau": 0.02, "n_action_samples": 4}, -1.0, 20_000),
}
EVAL_EPISODES = 20


def episodes_from_start_to_goal(ds: TransitionDataset) -> tuple[int, int, int]:
    """(episodes with a state in S, episodes with a state in G, episodes with both) of the data."""
    env = PointMaze(**ds.meta.get("env_kwargs", {}))
    cells = env.cells_of(env.positions(np.concatenate([ds.obs, ds.next_obs])))  # (2N, 2) (row, col)
    in_s = np.all(cells == env.start_cell, axis=1).reshape(2, -1).any(axis=0)  # (N,)
    in_g = np.all(cells == env.goal_cell, axis=1).reshape(2, -1).any(axis=0)  # (N,)
    with_s, with_g = set(ds.episode_ids[in_s].tolist()), set(ds.episode_ids[in_g].tolist())
    return len(with_s), len(with_g), len(with_s & with_g)


def shift_rewards(ds: TransitionDataset, shift: float) -> TransitionDataset:
    """A copy of ``ds`` with ``shift`` added to every reward (terminals and timeouts unchanged)."""
    if shift == 0.0:
        return ds
    return ds.replace(rewards=ds.rewards + np.float32(shift))


def run(seeds: int, steps: int | None = None, jobs: dict[str, tuple[str, dict[str, Any], float, int]] | None = None,
        eval_episodes: int = EVAL_EPISODES, progress: bool = True, dataset: str = DATASET) -> dict[str, Any]:
    """Train every (algorithm, seed) on ``dataset`` (one of :data:`DATASETS`); ``steps`` overrides every job's
    updates."""
    if dataset not in DATASETS:
        raise OrlkitError(f"the stitching demo runs on {' or '.join(DATASETS)}, not {dataset!r}")
    jobs = jobs or JOBS
    ds = make_dataset(dataset)
    with_s, with_g, both = episodes_from_start_to_goal(ds)
    results: dict[str, Any] = {
        "dataset": dataset, "seeds": seeds, "eval_episodes": eval_episodes,
        "steps": {name: steps or job[3] for name, job in jobs.items()},
        "data": {"episodes": int(ds.n_episodes), "episodes_in_start_cell": with_s, "episodes_in_goal_cell": with_g,
                 "episodes_start_to_goal": both},
        "algorithms": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (algo, overrides, shift, _) in jobs.items():
            data = shift_rewards(ds, shift)
            per_seed = []
            for seed in range(seeds):
                run_cfg = RunConfig(algo=algo, dataset=dataset, steps=results["steps"][name], seed=seed, eval_every=0,
                                    eval_episodes=eval_episodes, tensorboard=False, config=dict(overrides))
                summary = train(run_cfg, f"{tmp}/{name}-{seed}", progress=progress, dataset=data)
                per_seed.append(float(summary["final_eval"]["success_rate"]))
            results["algorithms"][name] = {"success_rate": float(np.mean(per_seed)),
                                           "success_rate_std": float(np.std(per_seed)), "per_seed": per_seed,
                                           "config": dict(overrides), "reward_shift": shift}
    return results


def table(results: dict[str, Any]) -> str:
    from orlkit.cli import format_table

    rows = [[name, f"{100 * r['success_rate']:.0f} % ± {100 * r['success_rate_std']:.0f} %",
             " ".join(f"{100 * s:.0f}%" for s in r["per_seed"]), str(results["steps"][name])]
            for name, r in results["algorithms"].items()]
    d = results["data"]
    return (format_table(["algorithm", "success (mean ± std over seeds)", "per seed", "updates"], rows)
            + f"\n\n{results['dataset']}: {d['episodes']} episodes, {d['episodes_in_start_cell']} touch the start "
            f"cell, {d['episodes_in_goal_cell']} the goal cell, {d['episodes_start_to_goal']} both: no episode goes "
            f"from start to goal.\n{results['seeds']} seed(s), final evaluation over {results['eval_episodes']} "
            "episodes per seed.")


def main(json_output: bool = False, seeds: int = 3, progress: bool = True, steps: int | None = None,
         jobs: dict[str, tuple[str, dict[str, Any], float, int]] | None = None,
         eval_episodes: int = EVAL_EPISODES, dataset: str = DATASET) -> int:
    results = run(seeds, steps, jobs, eval_episodes, progress=progress and not json_output, dataset=dataset)
    print(json.dumps(results) if json_output else table(results))
    return 0
