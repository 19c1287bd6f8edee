"""What every OPE estimator shares: input checks, the target and behavior probabilities of the
logged actions, episodes laid out as padded (E, T) arrays, and bootstrap over episodes.

Notation: N rows, E episodes (from ``dataset.episode_bounds``), T steps in the longest one, A
actions. Step t of episode i has importance ratio ρ_it = π(a_it|s_it) / μ(a_it|s_it) and
cumulative weight w_it = Π_{k≤t} ρ_ik. After an episode's last step the arrays are padded as
if the episode sat in an absorbing state with zero reward where π = μ: ρ = 1 (so w keeps its
last value), r = 0. This is the convention of the weighted per-decision estimators (Thomas 2015).

Every estimator is written once as a function of bootstrap counts ``c`` (B, E): row b says how
often each episode is drawn. Row 0 is all ones (the estimate on the data itself); rows 1..n_boot
resample episodes with replacement, and their spread is the standard error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from orlkit.data.dataset import TransitionDataset
from orlkit.errors import DatasetError, OrlkitError

Policy = Callable[[np.ndarray], np.ndarray]  # obs (B, *obs_shape) → action probabilities (B, A)
PROPENSITIES = "propensities"  # the extras column holding μ(a_t|s_t) of the logged action
_CHUNK = 65_536  # rows per call of a policy, so a network never sees the whole dataset at once


@dataclass(frozen=True)
class Estimate:
    """An estimate of V^π and its bootstrap standard error (NaN when not computed)."""

    value: float
    stderr: float = float("nan")

    @classmethod
    def from_samples(cls, values: np.ndarray) -> Estimate:
        """values (1 + n_boot,): the estimate on the data, then on each bootstrap resample."""
        stderr = float(np.std(values[1:], ddof=1)) if len(values) > 2 else float("nan")
        return cls(float(values[0]), stderr)


def check_discrete(dataset: TransitionDataset) -> None:
    if not dataset.discrete:
        raise OrlkitError(f"{dataset.source or 'dataset'}: OPE here needs discrete actions; this dataset's "
                          f"actions are continuous vectors of length {dataset.action_dim}")


def check_gamma(gamma: float) -> None:
    if not 0.0 <= gamma <= 1.0:  # NaN fails too
        raise OrlkitError(f"gamma must be in [0, 1], got {gamma}")


def policy_probs(pi: Policy, obs: np.ndarray, n_actions: int) -> np.ndarray:
    """π(·|s) for every row of ``obs``, (N, A) float64; raises unless each row is a distribution."""
    probs = np.concatenate([np.asarray(pi(obs[i:i + _CHUNK]), dtype=np.float64)
                            for i in range(0, len(obs), _CHUNK)])
    if probs.shape != (len(obs), n_actions):
        raise OrlkitError(f"the target policy returned probabilities of shape {probs.shape}; expected "
                          f"({len(obs)}, {n_actions}): one row of {n_actions} action probabilities per observation")
    bad = ~np.isfinite(probs).all(1) | (probs < 0).any(1) | (np.abs(probs.sum(1) - 1.0) > 1e-4)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise OrlkitError(f"the target policy's probabilities at row {row} are not a distribution: "
                          f"{probs[row].tolist()} (need finite values ≥ 0 that sum to 1)")
    return probs


def check_propensities(dataset: TransitionDataset, propensities: np.ndarray) -> np.ndarray:
    """μ(a_t|s_t) as (N,) float64; every value must lie in (0, 1]."""
    p = np.asarray(propensities)
    if p.shape != (len(dataset),) or p.dtype.kind not in "biuf":
        raise DatasetError(f"expected {len(dataset)} numbers (one probability per row), got dtype {p.dtype} and "
                           f"shape {p.shape}", source=dataset.source, field=PROPENSITIES)
    p = p.astype(np.float64)
    bad = np.flatnonzero(~((p > 0) & (p <= 1)))  # NaN fails both comparisons
    if len(bad):
        row = int(bad[0])
        raise DatasetError(f"propensity {p[row]:g} is outside (0, 1]; it must be the behavior policy's "
                           "probability of the logged action", source=dataset.source, field=PROPENSITIES, row=row)
    return p


def behavior_propensities(dataset: TransitionDataset, propensities: np.ndarray | None = None,
                          estimate_behavior: bool = True, seed: int = 0) -> tuple[np.ndarray, bool]:
    """``(μ(a_t|s_t) (N,), estimated)``: given, else ``dataset.extras["propensities"]``, else estimated.

    Estimated propensities come from :func:`orlkit.ope.behavior.estimate_propensities` (a softmax
    MLP fitted on (obs, action), clipped to ≥ 1e-3).
    """
    if propensities is None and PROPENSITIES in dataset.extras:
        propensities = dataset.extras[PROPENSITIES]
    if propensities is not None:
        return check_propensities(dataset, propensities), False
    if not estimate_behavior:
        raise OrlkitError(f"{dataset.source or 'dataset'}: no behavior propensities (extras column "
                          f"'{PROPENSITIES}' is missing) and estimate_behavior=False; add the column or let "
                          "orlkit estimate them by behavior cloning")
    from orlkit.ope.behavior import estimate_propensities

    return estimate_propensities(dataset, seed=seed), True


@dataclass(frozen=True)
class Episodes:
    """The dataset's episodes as (E, T) arrays; step t of episode i is row ``rows[i, t]``."""

    rows: np.ndarray  # (E, T) int64; after an episode's end, its last row repeated
    mask: np.ndarray  # (E, T) bool: True on real steps
    discounts: np.ndarray  # (T,) γ^t

    @classmethod
    def of(cls, dataset: TransitionDataset, gamma: float) -> Episodes:
        starts, ends = dataset.episode_bounds
        lengths = ends - starts + 1  # (E,)
        t = np.arange(lengths.max())  # (T,)
        mask = t[None, :] < lengths[:, None]  # (E, T)
        rows = starts[:, None] + np.minimum(t[None, :], lengths[:, None] - 1)  # (E, T)
        return cls(rows, mask, gamma ** t.astype(np.float64))

    @property
    def starts(self) -> np.ndarray:
        return self.rows[:, 0]  # (E,)

    def pad(self, x: np.ndarray, fill: float) -> np.ndarray:
        """Per-row values (N,) as (E, T), with ``fill`` after each episode's end."""
        return np.where(self.mask, x[self.rows], fill)


@dataclass(frozen=True)
class OffPolicyData:
    """Everything the estimators read, computed once: see :func:`prepare`."""

    dataset: TransitionDataset
    gamma: float
    episodes: Episodes
    pi_obs: np.ndarray  # (N, A) π(·|s_t)
    pi_next: np.ndarray  # (N, A) π(·|s_{t+1})
    propensities: np.ndarray  # (N,) μ(a_t|s_t)
    estimated_behavior: bool  # True when μ was estimated by behavior cloning
    rewards: np.ndarray  # (E, T) r_it, 0 after the end
    weights: np.ndarray  # (E, T) w_it = Π_{k≤t} ρ_ik, constant after the end

    @property
    def n_episodes(self) -> int:
        return len(self.weights)


def prepare(dataset: TransitionDataset, pi: Policy, gamma: float, propensities: np.ndarray | None = None,
            estimate_behavior: bool = True, seed: int = 0) -> OffPolicyData:
    """Check the input and compute π, μ, the episodes and the importance weights once."""
    check_discrete(dataset)
    check_gamma(gamma)
    pi_obs = policy_probs(pi, dataset.obs, dataset.n_actions)
    pi_next = policy_probs(pi, dataset.next_obs, dataset.n_actions)
    mu, estimated = behavior_propensities(dataset, propensities, estimate_behavior, seed)
    episodes = Episodes.of(dataset, gamma)
    ratios = pi_obs[np.arange(len(dataset)), dataset.actions] / mu  # (N,)
    weights = np.cumprod(episodes.pad(ratios, 1.0), axis=1)  # (E, T)
    rewards = episodes.pad(dataset.rewards.astype(np.float64), 0.0)  # (E, T)
    return OffPolicyData(dataset, gamma, episodes, pi_obs, pi_next, mu, estimated, rewards, weights)


def bootstrap_counts(n_episodes: int, n_boot: int, seed: int = 0) -> np.ndarray:
    """(1 + n_boot, E) float64: a row of ones, then ``n_boot`` resamples of the episodes as counts."""
    rng = np.random.default_rng(seed)
    resamples = rng.multinomial(n_episodes, np.full(n_episodes, 1.0 / n_episodes), size=n_boot)
    return np.concatenate([np.ones((1, n_episodes)), resamples]).astype(np.float64)


def effective_sample_size(weights: np.ndarray) -> float:
    """(Σ w)² / Σ w² of trajectory weights (E,): how many episodes the IS estimate rests on."""
    total = weights.sum()
    return float(total ** 2 / np.sum(weights ** 2)) if total > 0 else 0.0
