"""Evaluation in the environment: episodes run in lockstep so the policy acts on one batch per step."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from orlkit.envs.make import make_env, normalized_score


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
