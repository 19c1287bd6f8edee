"""Every estimator of :mod:`orlkit.ope` on one dataset, sharing π, μ, the episodes and one FQE fit."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from orlkit.algos.base import Algorithm
from orlkit.data.dataset import TransitionDataset
from orlkit.ope.common import Estimate, Policy, bootstrap_counts, effective_sample_size, prepare
from orlkit.ope.doubly_robust import doubly_robust_estimates
from orlkit.ope.fqe import fqe
from orlkit.ope.importance import importance_estimates, is_estimate

# The estimators evaluate_policy returns, in the order a table lists them.
ESTIMATORS = ("fqe", "is", "wis", "pdis", "wpdis", "dr", "wdr", "behavior")
DESCRIPTIONS = {
    "fqe": "fitted Q evaluation",
    "is": "trajectory-wise importance sampling",
    "wis": "weighted importance sampling",
    "pdis": "per-decision importance sampling",
    "wpdis": "weighted per-decision importance sampling",
    "dr": "doubly robust (FQE model)",
    "wdr": "weighted doubly robust (FQE model)",
    "behavior": "mean discounted return of the logged episodes (the behavior policy, for reference)",
}


def evaluate_policy(dataset: TransitionDataset, pi: Policy, gamma: float, *, propensities: np.ndarray | None = None,
                    estimate_behavior: bool = True, fqe_steps: int = 5000, fqe_hidden: Sequence[int] = (64, 64),
                    fqe_kwargs: dict[str, Any] | None = None, n_boot: int = 200, seed: int = 0,
                    device: torch.device | str = "cpu") -> dict[str, float]:
    """Estimates of V^π from the dataset's episode starts by every estimator, as one flat dict.

    Keys: each name of :data:`ESTIMATORS`; ``NAME_stderr`` for those with a bootstrap standard
    error over episodes (all but ``fqe``, whose error would need a refit per resample; DR/WDR hold
    the FQE model fixed); ``ess``, the effective sample size (Σw)²/Σw² of the trajectory weights.

    Args:
        pi: the target policy, obs (B, *obs_shape) → action probabilities (B, A).
        propensities: μ(a_t|s_t) per row; default ``dataset.extras["propensities"]``, else estimated
            by behavior cloning (unless ``estimate_behavior=False``, which then raises).
        fqe_steps, fqe_hidden, fqe_kwargs: passed to :func:`orlkit.ope.fqe.fqe`.
        n_boot: bootstrap resamples of the episodes (0: no standard errors).
    """
    data = prepare(dataset, pi, gamma, propensities, estimate_behavior, seed)
    counts = bootstrap_counts(data.n_episodes, n_boot, seed)  # (1 + n_boot, E)
    fit = fqe(dataset, pi, gamma, steps=fqe_steps, hidden=fqe_hidden, seed=seed, device=device,
              pi_obs=data.pi_obs, pi_next=data.pi_next, **(fqe_kwargs or {}))
    returns = data.rewards @ data.episodes.discounts  # (E,) logged discounted returns
    estimates = {
        "fqe": Estimate(fit.estimate),
        **importance_estimates(data, counts),
        **doubly_robust_estimates(data, fit.q, counts),
        "behavior": Estimate.from_samples(is_estimate(counts, np.ones_like(returns), returns)),
    }
    out: dict[str, float] = {}
    for name in ESTIMATORS:
        out[name] = estimates[name].value
        if not math.isnan(estimates[name].stderr):
            out[f"{name}_stderr"] = estimates[name].stderr
    out["ess"] = effective_sample_size(data.weights[:, -1])
    return out


def epsilon_greedy(algo: Algorithm, epsilon: float = 0.0) -> Policy:
    """π(a|s) = (1 − ε)·1[a = greedy(s)] + ε/A for a trained discrete algorithm.

    The greedy action is argmax ``algo.q_values`` for the Q-learners, else ``algo.act`` (deterministic).
    """
    n_actions = algo.spec.n_actions

    def pi(obs: np.ndarray) -> np.ndarray:
        obs = np.asarray(obs, dtype=np.float32).reshape(len(obs), -1)  # (B, obs_dim)
        if hasattr(algo, "q_values"):
            best = algo.q_values(obs).argmax(1)  # (B,)
        else:
            best = np.asarray(algo.act(obs, deterministic=True))  # (B,)
        return (1.0 - epsilon) * np.eye(n_actions)[best] + epsilon / n_actions  # (B, A)

    return pi
