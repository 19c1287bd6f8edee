"""Doubly robust estimators of V^π: a Q-model as a control variate for importance sampling
(Jiang & Li 2016; weighted: Thomas & Brunskill 2016).

With a model Q̂ (by default FQE's), V̂(s) = Σ_a π(a|s) Q̂(s,a), the TD error of the model on each
logged step δ_it = r_it + γ (1 − terminal_it) V̂(s'_it) − Q̂(s_it, a_it), and w_it as in
:mod:`orlkit.ope.importance`:

    DR   (1/n) Σ_i V̂(s_0^i) + (1/n) Σ_i Σ_t γ^t w_it δ_it
    WDR  (1/n) Σ_i V̂(s_0^i) + Σ_t γ^t Σ_i w_it δ_it / Σ_i w_it

Expanding the sums gives the papers' form Σ_t γ^t [w_t r_t − (w_t Q̂(s_t,a_t) − w_{t−1} V̂(s_t))],
w_{−1} = 1 (DR) or per-step normalised weights with w̃_{−1} = 1/n (WDR). DR is unbiased when
the propensities are the true μ, whatever Q̂ is; with Q̂ = Q^π and deterministic rewards and
transitions every δ is 0 and DR is exactly the mean of V^π over the data's starts (no variance
beyond that of the starts). WDR is biased but consistent, and steadier than DR when weights are large.

Deviation: the papers end every episode at the horizon. Here only ``terminals`` end the sum with
V̂ = 0; an episode cut by a time limit (``timeouts``, or an unflagged last row) keeps the term
γ^{t+1} w_t V̂(s'_t), so the model estimates the return after the cut, as FQE does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from orlkit.data.dataset import TransitionDataset
from orlkit.errors import OrlkitError
from orlkit.ope.common import Estimate, OffPolicyData, Policy, bootstrap_counts, prepare
from orlkit.ope.importance import pdis_estimate, wpdis_estimate

QFunction = Callable[[np.ndarray], np.ndarray]  # obs (B, *obs_shape) → Q-values (B, A)


def dr_estimate(c: np.ndarray, v0: np.ndarray, w: np.ndarray, delta: np.ndarray,
                discounts: np.ndarray) -> np.ndarray:
    """(1/n) Σ_i [V̂(s_0^i) + Σ_t γ^t w_it δ_it]. c (B, E), v0 (E,), w and delta (E, T) → (B,)."""
    return c @ v0 / c.sum(1) + pdis_estimate(c, w, delta, discounts)


def wdr_estimate(c: np.ndarray, v0: np.ndarray, w: np.ndarray, delta: np.ndarray,
                 discounts: np.ndarray) -> np.ndarray:
    """(1/n) Σ_i V̂(s_0^i) + Σ_t γ^t Σ_i w_it δ_it / Σ_i w_it. Shapes as :func:`dr_estimate`."""
    return c @ v0 / c.sum(1) + wpdis_estimate(c, w, delta, discounts)


def q_values(q: QFunction, obs: np.ndarray, n_actions: int) -> np.ndarray:
    """Q̂(s, ·) for every row of ``obs``, (N, A) float64; raises on a wrong shape or non-finite values."""
    values = np.concatenate([np.asarray(q(obs[i:i + 65_536]), dtype=np.float64)
                             for i in range(0, len(obs), 65_536)])
    if values.shape != (len(obs), n_actions):
        raise OrlkitError(f"the Q-model returned shape {values.shape}; expected ({len(obs)}, {n_actions})")
    if not np.isfinite(values).all():
        row = int(np.flatnonzero(~np.isfinite(values).all(1))[0])
        raise OrlkitError(f"the Q-model returned non-finite values at row {row}: {values[row].tolist()}")
    return values


def model_terms(data: OffPolicyData, q: QFunction) -> tuple[np.ndarray, np.ndarray]:
    """``(v0, delta)``: V̂ at the episode starts (E,), and the model's TD errors δ (E, T), 0 after the end."""
    ds, n_actions = data.dataset, data.dataset.n_actions
    q_obs, q_next = q_values(q, ds.obs, n_actions), q_values(q, ds.next_obs, n_actions)  # (N, A) each
    v_obs = (data.pi_obs * q_obs).sum(1)  # (N,) V̂(s_t)
    v_next = (data.pi_next * q_next).sum(1)  # (N,) V̂(s'_t)
    q_logged = q_obs[np.arange(len(ds)), ds.actions]  # (N,) Q̂(s_t, a_t)
    delta = ds.rewards + data.gamma * (~ds.terminals) * v_next - q_logged  # (N,)
    return v_obs[data.episodes.starts], data.episodes.pad(delta, 0.0)


def doubly_robust_estimates(data: OffPolicyData, q: QFunction, counts: np.ndarray) -> dict[str, Estimate]:
    """DR and WDR of prepared data with the model ``q``, for bootstrap counts (1 + n_boot, E).

    The bootstrap resamples episodes with the model held fixed: it leaves out the model's own
    fitting noise.
    """
    v0, delta = model_terms(data, q)
    w, discounts = data.weights, data.episodes.discounts
    return {"dr": Estimate.from_samples(dr_estimate(counts, v0, w, delta, discounts)),
            "wdr": Estimate.from_samples(wdr_estimate(counts, v0, w, delta, discounts))}


def doubly_robust(dataset: TransitionDataset, pi: Policy, gamma: float, q: QFunction | None = None, *,
                  propensities: np.ndarray | None = None, estimate_behavior: bool = True, n_boot: int = 200,
                  seed: int = 0, fqe_kwargs: dict[str, Any] | None = None) -> dict[str, Estimate]:
    """``{"dr", "wdr"}`` → :class:`Estimate`, with the model ``q`` (default: fitted by FQE).

    Args:
        q: Q-values of π, obs (B, *obs_shape) → (B, A); ``None`` fits :func:`orlkit.ope.fqe.fqe`
            on the same data (with ``fqe_kwargs``).
        propensities, estimate_behavior, n_boot, seed: as in :func:`orlkit.ope.importance.importance_sampling`.
    """
    from orlkit.ope.fqe import fqe

    data = prepare(dataset, pi, gamma, propensities, estimate_behavior, seed)
    if q is None:
        q = fqe(dataset, pi, gamma, seed=seed, pi_obs=data.pi_obs, pi_next=data.pi_next,
                **(fqe_kwargs or {})).q
    return doubly_robust_estimates(data, q, bootstrap_counts(data.n_episodes, n_boot, seed))
