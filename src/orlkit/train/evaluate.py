"""Evaluation in the environment: episodes run in lockstep so the policy acts on one batch per step."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from orlkit.envs.make import make_env, normalized_score
from orlkit.errors import OrlkitError


def evaluate(act: Callable[[np.ndarray], np.ndarray], env_id: str, episodes: int = 10, seed: int = 0,
             env_kwargs: dict[str, Any] | None = None, gamma: float | None = None) -> dict[str, Any]:
    """Run ``episodes`` episodes (env seeds ``seed``, ``seed+1``, ...) with the batch policy ``act``.

    Returns ``return_mean``, ``return_std``, ``returns``, ``length_mean``, ``normalized_score`` /
    ``success_rate`` where the environment defines them (``info["success"]``), and with ``gamma``
    ``discounted_return_mean`` (Σ_t γ^t r_t, the Monte-Carlo value of the policy from the start states).
    """
    envs = [make_env(env_id, env_kwargs) for _ in range(episodes)]
    obs = [env.reset(seed=seed + i)[0] for i, env in enumerate(envs)]
    returns = np.zeros(episodes)
    discounted = np.zeros(episodes)
    lengths = np.zeros(episodes, dtype=np.int64)
    success = np.zeros(episodes, dtype=bool)
    has_success = False
    active = list(range(episodes))
    while active:
        actions = act(np.stack([obs[i] for i in active]))
        still = []
        for a, i in zip(actions, active, strict=True):
            obs[i], r, terminated, truncated, info = envs[i].step(a)
            returns[i] += r
            if gamma is not None:
                discounted[i] += gamma ** lengths[i] * r
            lengths[i] += 1
            if "success" in info:
                has_success = True
                success[i] |= bool(info["success"])
            if not (terminated or truncated):
                still.append(i)
        active = still
    for env in envs:
        env.close()
    out: dict[str, Any] = {
        "return_mean": float(returns.mean()),
        "return_std": float(returns.std()),
        "length_mean": float(lengths.mean()),
        "returns": returns.tolist(),
    }
    if gamma is not None:
        out["discounted_return_mean"] = float(discounted.mean())
    score = normalized_score(env_id, out["return_mean"])
    if score is not None:
        out["normalized_score"] = score
    if has_success:
        out["success_rate"] = float(success.mean())
    return out


def check_policy_fits_env(spec: Any, env_id: str, env_kwargs: dict[str, Any] | None = None, where: str = "") -> None:
    """Raise one OrlkitError unless a policy built for ``spec`` (an ``orlkit.algos.DataSpec``) can act in
    ``env_id``: observations of ``spec.obs_dim`` numbers, and the same number of discrete actions or an action
    vector of the same length. ``where`` names the run in the message."""
    import gymnasium as gym

    env = make_env(env_id, env_kwargs)
    obs_space, act_space = env.observation_space, env.action_space
    env.close()
    prefix = f"{where}: " if where else ""
    obs_dim = int(np.prod(obs_space.shape)) if obs_space.shape else None
    if obs_dim != spec.obs_dim:
        raise OrlkitError(f"{prefix}the policy takes {spec.obs_dim}-dim observations, but {env_id}'s have shape "
                          f"{obs_space.shape}")
    if spec.discrete:
        if not isinstance(act_space, gym.spaces.Discrete) or int(act_space.n) != spec.n_actions:
            raise OrlkitError(f"{prefix}the policy picks one of {spec.n_actions} discrete actions, but {env_id}'s "
                              f"action space is {act_space}")
    elif not isinstance(act_space, gym.spaces.Box) or tuple(act_space.shape) != (spec.action_dim,):
        raise OrlkitError(f"{prefix}the policy outputs {spec.action_dim}-dim continuous actions, but {env_id}'s "
                          f"action space is {act_space}")
