"""Discrete offline RL on the built-in CartPole/Acrobot datasets, several seeds, one table.

``orlkit demo classic`` reproduces the README's table: on ``cartpole-medium`` CQL and DDQN
against BC and the behavior data's own mean return; on the random+expert mixes %BC against BC.
``orlkit demo quickstart`` is its one-seed, one-dataset version (about a minute on 2 cores).
"""

from __future__ import annotations

import json
import tempfile
from typing import Any

import numpy as np

from orlkit.data.registry import make_dataset
from orlkit.train.fit import RunConfig, train

JOBS: dict[str, tuple[str, ...]] = {
    "cartpole-medium": ("cql", "ddqn", "bc"),
    "cartpole-random-expert": ("bc", "pct-bc"),
    "acrobot-random-expert": ("bc", "pct-bc"),
}
STEPS = 10_000


def run(jobs: dict[str, tuple[str, ...]], seeds: int, steps: int, eval_episodes: int = 10,
        progress: bool = True) -> dict[str, Any]:
    """Train every (dataset, algorithm, seed); returns final returns per dataset and algorithm."""
    results: dict[str, Any] = {"steps": steps, "seeds": seeds, "eval_episodes": eval_episodes, "datasets": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, algos in jobs.items():
            ds = make_dataset(name)
            entry: dict[str, Any] = {"behavior_return_mean": float(ds.episode_returns.mean()),
                                     "behavior_return_std": float(ds.episode_returns.std()), "algorithms": {}}
            for algo in algos:
                finals = []
                for seed in range(seeds):
                    run_cfg = RunConfig(algo=algo, dataset=name, steps=steps, seed=seed, eval_every=0,
                                        eval_episodes=eval_episodes, tensorboard=False)
                    summary = train(run_cfg, f"{tmp}/{name}-{algo}-{seed}", progress=progress, dataset=ds)
                    finals.append(summary["final_eval"]["return_mean"])
                entry["algorithms"][algo] = {"return_mean": float(np.mean(finals)),
                                             "return_std": float(np.std(finals)), "per_seed": finals}
            results["datasets"][name] = entry
    return results


def table(results: dict[str, Any]) -> str:
    from orlkit.cli import format_table

    rows = []
    for name, entry in results["datasets"].items():
        for algo, r in entry["algorithms"].items():
            rows.append([name, algo, f"{r['return_mean']:.1f} ± {r['return_std']:.1f}",
                         f"{entry['behavior_return_mean']:.1f}"])
    return (format_table(["dataset", "algorithm", "return (mean ± std over seeds)", "behavior data return"], rows)
            + f"\n\n{results['steps']} updates per run, {results['seeds']} seed(s), final evaluation over "
            f"{results['eval_episodes']} episodes per seed")


def main(json_output: bool = False, seeds: int = 3, progress: bool = True, steps: int = STEPS,
         jobs: dict[str, tuple[str, ...]] | None = None) -> int:
    results = run(jobs or JOBS, seeds, steps, progress=progress and not json_output)
    print(json.dumps(results) if json_output else table(results))
    return 0
