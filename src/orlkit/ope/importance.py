"""Importance sampling estimators of V^π (Precup, Sutton & Singh 2000; Thomas 2015).

With ρ_it = π(a_it|s_it) / μ(a_it|s_it), w_it = Π_{k≤t} ρ_ik, G_i = Σ_t γ^t r_it and n episodes:

    IS     (1/n) Σ_i w_{i,T−1} G_i                       trajectory-wise, unbiased
    WIS    Σ_i w_{i,T−1} G_i / Σ_i w_{i,T−1}             weighted: biased, consistent, lower variance
    PDIS   (1/n) Σ_i Σ_t γ^t w_it r_it                   per-decision: r_t weighted by w up to t only
    WPDIS  Σ_t γ^t Σ_i w_it r_it / Σ_i w_it              weighted per-decision

Assumptions: μ(a|s) > 0 wherever π(a|s) > 0 (coverage), and the propensities are the true μ
(known) for IS and PDIS to be unbiased; estimated ones add their error. Episodes that end at a
time limit are summed only up to their end: these estimators do not see the return after it.

Each formula takes bootstrap counts c (B, E) (see :mod:`orlkit.ope.common`) and returns (B,).
"""

from __future__ import annotations

import numpy as np

from orlkit.data.dataset import TransitionDataset
from orlkit.ope.common import Estimate, OffPolicyData, Policy, bootstrap_counts, prepare


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, and 0 where den is 0 (no episode has weight there, so nothing to average)."""
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def is_estimate(c: np.ndarray, w_end: np.ndarray, G: np.ndarray) -> np.ndarray:
    """(1/n) Σ_i w_i G_i. c (B, E), w_end (E,), G (E,) → (B,)."""
    return c @ (w_end * G) / c.sum(1)


def wis_estimate(c: np.ndarray, w_end: np.ndarray, G: np.ndarray) -> np.ndarray:
    """Σ_i w_i G_i / Σ_i w_i. c (B, E), w_end (E,), G (E,) → (B,)."""
    return _ratio(c @ (w_end * G), c @ w_end)


def pdis_estimate(c: np.ndarray, w: np.ndarray, r: np.ndarray, discounts: np.ndarray) -> np.ndarray:
    """(1/n) Σ_i Σ_t γ^t w_it r_it. c (B, E), w and r (E, T), discounts (T,) → (B,)."""
    return c @ (w * r) @ discounts / c.sum(1)


def wpdis_estimate(c: np.ndarray, w: np.ndarray, r: np.ndarray, discounts: np.ndarray) -> np.ndarray:
    """Σ_t γ^t Σ_i w_it r_it / Σ_i w_it. c (B, E), w and r (E, T), discounts (T,) → (B,)."""
    return _ratio(c @ (w * r), c @ w) @ discounts  # (B, T) per-step weighted means, then discounted


def importance_estimates(data: OffPolicyData, counts: np.ndarray) -> dict[str, Estimate]:
    """IS, WIS, PDIS and WPDIS of prepared data, for bootstrap counts (1 + n_boot, E)."""
    w, r, discounts = data.weights, data.rewards, data.episodes.discounts  # (E, T), (E, T), (T,)
    w_end, G = w[:, -1], r @ discounts  # (E,) trajectory weights, (E,) discounted returns
    return {
        "is": Estimate.from_samples(is_estimate(counts, w_end, G)),
        "wis": Estimate.from_samples(wis_estimate(counts, w_end, G)),
        "pdis": Estimate.from_samples(pdis_estimate(counts, w, r, discounts)),
        "wpdis": Estimate.from_samples(wpdis_estimate(counts, w, r, discounts)),
    }


def importance_sampling(dataset: TransitionDataset, pi: Policy, gamma: float, *,
                        propensities: np.ndarray | None = None, estimate_behavior: bool = True,
                        n_boot: int = 200, seed: int = 0) -> dict[str, Estimate]:
    """``{"is", "wis", "pdis", "wpdis"}`` → :class:`Estimate` (value, bootstrap stderr over episodes).

    Args:
        pi: the target policy, obs (B, *obs_shape) → action probabilities (B, A).
        propensities: μ(a_t|s_t) per row; default ``dataset.extras["propensities"]``, else estimated
            by behavior cloning (unless ``estimate_behavior=False``, which then raises).
        n_boot: bootstrap resamples of the episodes for the standard errors (0: none, stderr NaN).
    """
    data = prepare(dataset, pi, gamma, propensities, estimate_behavior, seed)
    return importance_estimates(data, bootstrap_counts(data.n_episodes, n_boot, seed))
