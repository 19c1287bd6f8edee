"""The lecture's claims about offline critics, measured against exact answers on a gridworld.

Data: ``gridworld-missing`` — a behavior policy that never moves into a pit or a wall, so those
(s, a) pairs never occur. For BC, DQN, Double DQN and CQL trained on it, with the learned greedy
policy π and its exact Q^π from dynamic programming:

(a) ``max_unseen_overestimation``: max over (s, a) pairs absent from the data, at non-terminal
    dataset states, of Q̂(s, a) − Q^π(s, a). The naive critics overestimate these.
(b) ``violating_states``: how many dataset states break E_π[Q̂(s,·)] ≤ E_π[Q^π(s,·)] (by more
    than ``TOLERANCE``). CQL's guarantee says none, for α large enough.
(c) ``true_return``: V^π(start), exact, the discounted return of the greedy policy.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import numpy as np

from orlkit.algos import default_config, make_algorithm, resolve_algorithm
from orlkit.algos.base import DataSpec
from orlkit.envs.gridworld import GridWorld, make_gridworld_dataset, policy_evaluation, value_iteration

ALGOS = ("bc", "dqn", "ddqn", "cql")
TOLERANCE = 1e-3  # a state "violates" when E_π[Q̂] exceeds E_π[Q^π] by more than this
STEPS = 8_000
N_TRANSITIONS = 100_000
ALPHA = 0.5  # CQL's α (the reward scale is 1: goal +1, pit −1)
# A tabular critic (a linear layer on the one-hot state, no hidden layer) so that DP's exact
# answers are the right yardstick; γ = 0.9 so 8k updates converge; large batches and a small
# learning rate keep the last iterate's SGD noise below the gaps between actions' values.
GAMMA = 0.9
OVERRIDES: dict[str, Any] = {"hidden": (), "lr": 3e-3, "batch_size": 2048, "gamma": GAMMA,
                             "target_update_interval": 100}


def q_table(algo, env: GridWorld) -> np.ndarray:
    """Q̂(s, ·) for every state (S, A), or the policy's logits for BC."""
    import torch

    obs = np.stack([env.one_hot(s) for s in range(env.n_states)])
    if hasattr(algo, "q_values"):
        return algo.q_values(obs).astype(np.float64)
    with torch.no_grad():
        return algo.policy(torch.as_tensor(obs)).numpy().astype(np.float64)


def measure(name: str, seed: int, steps: int = STEPS, alpha: float | None = None) -> dict[str, Any]:
    """Train ``name`` on gridworld-missing and measure (a), (b), (c) against DP."""
    ds = make_gridworld_dataset("missing", n_transitions=N_TRANSITIONS, seed=0)
    env = GridWorld(**ds.meta["env_kwargs"])
    cfg = default_config(resolve_algorithm(name, discrete=True))
    fields = {k: v for k, v in OVERRIDES.items() if hasattr(cfg, k)}
    if name == "cql":
        fields["alpha"] = ALPHA if alpha is None else alpha
    cfg = replace(cfg, **fields)
    algo = make_algorithm(resolve_algorithm(name, discrete=True), DataSpec.from_dataset(ds), cfg, seed=seed)
    sampler = ds.sampler(cfg.batch_size, seed=seed)
    for _ in range(steps):
        algo.update(sampler.sample())

    P, R, terminal = env.model()
    gamma = GAMMA
    q_hat = q_table(algo, env)  # (S, A)
    pi = np.eye(q_hat.shape[1])[q_hat.argmax(1)]  # greedy policy, (S, A)
    q_pi = policy_evaluation(P, R, terminal, pi, gamma)  # exact Q^π, (S, A)
    v_star = value_iteration(P, R, terminal, gamma).max(1)
    states = ds.obs.argmax(1)
    seen = np.zeros_like(q_hat, dtype=bool)
    seen[states, ds.actions] = True
    data_states = np.unique(states[~terminal[states]])
    out: dict[str, Any] = {"true_return": float((pi * q_pi).sum(1)[env.start_state]),
                           "optimal_return": float(v_star[env.start_state])}
    if name == "bc":
        out.update(max_unseen_overestimation=None, violating_states=None)
        return out
    unseen = ~seen[data_states]
    gap = (q_hat - q_pi)[data_states]
    v_hat, v_pi = (pi * q_hat).sum(1)[data_states], (pi * q_pi).sum(1)[data_states]
    out.update(max_unseen_overestimation=float(gap[unseen].max()) if unseen.any() else 0.0,
               violating_states=int((v_hat > v_pi + TOLERANCE).sum()), n_dataset_states=len(data_states))
    return out


def run(seeds: int = 3, steps: int = STEPS, progress: bool = True) -> dict[str, Any]:
    from tqdm.auto import tqdm

    per_algo: dict[str, list[dict[str, Any]]] = {a: [] for a in ALGOS}
    jobs = [(a, s) for a in ALGOS for s in range(seeds)]
    for name, seed in tqdm(jobs, desc="conservatism", disable=not progress):
        per_algo[name].append(measure(name, seed, steps))
    result: dict[str, Any] = {"algorithms": {}, "seeds": seeds, "steps": steps, "tolerance": TOLERANCE,
                              "dataset": "gridworld-missing"}
    for name, runs in per_algo.items():
        agg: dict[str, Any] = {}
        for key in ("max_unseen_overestimation", "violating_states", "true_return"):
            vals = [r[key] for r in runs]
            if vals[0] is None:
                agg[key] = None
                continue
            agg[key] = float(np.mean(vals))
            agg[f"{key}_std"] = float(np.std(vals))
            agg[f"{key}_per_seed"] = vals
        agg["n_dataset_states"] = runs[0].get("n_dataset_states")
        agg["optimal_return"] = runs[0]["optimal_return"]
        result["algorithms"][name] = agg
    return result


def table(result: dict[str, Any]) -> str:
    from orlkit.cli import format_table

    def fmt(agg: dict[str, Any], key: str) -> str:
        if agg[key] is None:
            return "n/a"
        return f"{agg[key]:.3f} ± {agg[key + '_std']:.3f}"

    rows = [[n, fmt(a, "max_unseen_overestimation"), fmt(a, "violating_states"), fmt(a, "true_return")]
            for n, a in result["algorithms"].items()]
    opt = next(iter(result["algorithms"].values()))["optimal_return"]
    return (format_table(["algorithm", "max unseen Q̂ − Q^π", "violating states", "true return V^π(start)"], rows)
            + f"\n\noptimal return V*(start) = {opt:.3f}; mean ± std over {result['seeds']} seeds, "
            f"{result['steps']} updates each, dataset {result['dataset']}")


def main(json_output: bool = False, seeds: int = 3, progress: bool = True) -> int:
    result = run(seeds=seeds, progress=progress and not json_output)
    print(json.dumps(result) if json_output else table(result))
    return 0
