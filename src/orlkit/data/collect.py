"""Rolling out behavior policies in Gymnasium environments into a :class:`TransitionDataset`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from orlkit.data.dataset import TransitionDataset
from orlkit.envs.make import make_env


def collect(env_id: str, policy: Callable[[np.ndarray], int | np.ndarray], n_transitions: int, seed: int,
            epsilon: Callable[[float], float] = lambda progress: 0.0, env_kwargs: dict[str, Any] | None = None,
            meta: dict[str, Any] | None = None) -> TransitionDataset:
    """Whole episodes of an ε-noisy ``policy`` until ``n_transitions`` rows, cut to exactly that many.

    ``epsilon(progress)`` gives each episode's probability of a uniformly random action, where
    ``progress`` ∈ [0, 1) is the fraction of rows collected when the episode starts (a decaying
    schedule makes a replay-buffer-like dataset). A cut last episode ends with ``timeouts = True``.
    Deterministic: the same ``seed`` gives identical arrays.
    """
    env = make_env(env_id, env_kwargs)
    rng = np.random.default_rng(seed)
    space = env.action_space
    if hasattr(space, "n"):
        def random_action() -> int:
            return int(rng.integers(space.n))
    else:
        def random_action() -> np.ndarray:
            return rng.uniform(space.low, space.high).astype(space.dtype)
    obs_l, act_l, rew_l, next_l, term_l, trunc_l = [], [], [], [], [], []
    while len(obs_l) < n_transitions:
        eps = epsilon(len(obs_l) / n_transitions)
        obs, _ = env.reset(seed=int(rng.integers(2**31)))
        done = False
        while not done and len(obs_l) < n_transitions:
            a = random_action() if rng.random() < eps else policy(obs)
            nxt, r, terminated, truncated, _ = env.step(a)
            obs_l.append(obs)
            act_l.append(a)
            rew_l.append(r)
            next_l.append(nxt)
            term_l.append(terminated)
            trunc_l.append(truncated)
            obs, done = nxt, terminated or truncated
    env.close()
    if not (term_l[-1] or trunc_l[-1]):
        trunc_l[-1] = True
    n_actions = int(space.n) if hasattr(space, "n") else None
    return TransitionDataset(np.array(obs_l), np.array(act_l), np.array(rew_l), np.array(next_l),
                             np.array(term_l), np.array(trunc_l), n_actions=n_actions,
                             meta={"env_id": env_id, "env_kwargs": env_kwargs or {}, "seed": seed, **(meta or {})})
