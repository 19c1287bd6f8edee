"""Where a CQL policy gets stuck on the point maze, and what the critics say there (docs/pointmaze.md, footnote ⁴).

    python benchmarks/stitching_probe.py CQL_RUN_DIR IQL_RUN_DIR

Both are run directories of ``train()`` on ``pointmaze-stitch`` (or ``pointmaze-stitch-walls``) with rewards r − 1
(as ``orlkit demo stitching`` trains them). Rolls out the CQL policy's mode from the start for one episode, takes
the state it ends in, and prints CQL's Q̂ there for its own action and for the maze oracle's action, the Bellman
residual of the step it takes there (with the online critics at the policy's mode, not the target critics at sampled
actions that training uses), the true values (staying forever: −1/(1 − γ); the oracle's way from there), and the IQL
run's V and Q̂ at that state.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from orlkit.envs.make import make_env
from orlkit.envs.pointmaze import OraclePolicy, PointMaze
from orlkit.errors import OrlkitError
from orlkit.train.fit import load_run


def q_min(algo, obs: np.ndarray, action: np.ndarray) -> float:
    with torch.no_grad():
        o = torch.as_tensor(obs[None], dtype=torch.float32, device=algo.device)
        a = torch.as_tensor(np.asarray(action)[None], dtype=torch.float32, device=algo.device)
        return algo.critic(o, a).min(0).values.item()


def env_at(env_id: str, kwargs: dict, maze, obs: np.ndarray):
    env = make_env(env_id, kwargs)
    env.reset(seed=0, options={"pos": tuple(maze.positions(obs[None])[0]), "vel": tuple(maze.velocities(obs[None])[0])})
    return env


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("cql_dir")
    p.add_argument("iql_dir")
    p.add_argument("--seed", type=int, default=123, help="reset seed of the probed episode")
    args = p.parse_args()
    torch.set_num_threads(1)
    try:
        cql, run, env_id = load_run(args.cql_dir)
        iql, iql_run, iql_env_id = load_run(args.iql_dir)
    except OrlkitError as e:
        p.error(str(e))
    if cql.name != "cql-continuous" or iql.name != "iql":
        p.error(f"needs a continuous CQL run and an IQL run, got {cql.name} ({args.cql_dir}) and {iql.name} "
                f"({args.iql_dir})")
    env = make_env(env_id, run.env_kwargs) if env_id else None
    maze = env.unwrapped if env else None
    if not isinstance(maze, PointMaze):
        p.error(f"the runs must be on the point maze (pointmaze-stitch); {args.cql_dir} is on {env_id}")
    if iql_env_id != env_id or iql_run.env_kwargs != run.env_kwargs:
        p.error(f"the two runs are on different mazes or environments ({env_id} and {iql_env_id}, or other layouts)")
    gamma = cql.config.gamma
    obs, _ = env.reset(seed=args.seed)
    traj, terminated, info = [obs], False, {}
    for _ in range(maze.max_steps):
        obs, _, terminated, truncated, info = env.step(cql.act(obs, True))
        traj.append(obs)
        if terminated or truncated:
            break
    pos = maze.positions(np.array(traj))
    s = traj[-1]
    a_pi, a_star = cql.act(s, True), OraclePolicy(maze)(s)
    s2, r2, *_ = env_at(env_id, run.env_kwargs, maze, s).step(a_pi)
    q_s, q_s2 = q_min(cql, s, a_pi), q_min(cql, s2, cql.act(s2, True))
    oracle_env, x, oracle_value = env_at(env_id, run.env_kwargs, maze, s), s, None
    oracle = OraclePolicy(oracle_env.unwrapped)
    for t in range(1, maze.max_steps + 1):
        x, _, done, cut, _ = oracle_env.step(oracle(x))
        if done:
            oracle_value = -(1 - gamma ** (t - 1)) / (1 - gamma)  # r − 1: −1 per step, 0 on the goal step
            break
        if cut:
            break
    print(f"CQL episode: {len(traj) - 1} steps, success {bool(terminated)}, ends in cell {info.get('cell')} at "
          f"{pos[-1].round(2)} (moved {np.abs(pos[-1] - pos[-min(51, len(pos))]).round(2)} in its last 50 steps)")
    print(f"CQL action {np.round(a_pi, 2)}, oracle action {np.round(a_star, 2)}")
    print(f"CQL: Q̂(s, π) = {q_s:.1f}, Q̂(s', π) = {q_s2:.1f}, Bellman residual Q̂(s, π) − (r − 1 + γ Q̂(s', π)) = "
          f"{q_s - (r2 - 1 + gamma * q_s2):.2f}, Q̂(s, oracle) = {q_min(cql, s, a_star):.1f}")
    print(f"true: staying there forever {-1 / (1 - gamma):.1f}; the oracle's way from there "
          f"{'never arrives' if oracle_value is None else f'{oracle_value:.1f}'}")
    with torch.no_grad():
        v = iql.value(torch.as_tensor(s[None], dtype=torch.float32, device=iql.device)).item()
    print(f"IQL at that state: V = {v:.1f}, Q̂(s, CQL's action) = {q_min(iql, s, a_pi):.1f}, "
          f"Q̂(s, oracle) = {q_min(iql, s, a_star):.1f}")


if __name__ == "__main__":
    main()
