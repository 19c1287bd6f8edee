r"""Which pair of trajectories to ask a person about next.

Two settings share this module.

(a) Learned (neural) reward ensembles over a pool of N candidate pairs (Christiano et al. 2017;
PEBBLE, Lee et al. 2021). ``member_prefs[e, i]`` = P_e[A_i ≻ B_i] = σ(R̂_e(A_i) − R̂_e(B_i)) of
ensemble member e:

    uniform:      k pairs drawn uniformly without replacement
    disagreement: the k pairs with the largest std_e P_e[A ≻ B]
    entropy:      the k pairs with the largest H(P̄),  P̄ = mean_e P_e[A ≻ B],  H(p) = −p log p − (1−p) log(1−p)

(b) Linear rewards R(τ) = w · φ(τ) (Sadigh et al., "Active Preference-Based Learning of Reward
Functions", RSS 2017; Bıyık et al., "Asking Easy Questions", CoRL 2019; APReL). A query is a pair
(A, B) summarised by ψ = φ(A) − φ(B); the answer is y = +1 for A ≻ B and y = −1 for B ≻ A.

    prior:        w uniform in the unit ball ‖w‖ ≤ 1
    likelihood:   P(y | w, ψ) = σ(β · y · w·ψ)                         (Bradley–Terry, rationality β)
    posterior:    p(w | D) ∝ 1[‖w‖ ≤ 1] · Π_i σ(β y_i w·ψ_i)           (Metropolis samples w_1 … w_M)
    volume removal (Sadigh):  max_ψ min( Σ_m [1 − exp(−relu(w_m·ψ))],  Σ_m [1 − exp(−relu(−w_m·ψ))] )
    information gain (Bıyık): max_ψ I(y; w | ψ) ≈ H(p̄) − (1/M) Σ_m H(p_m),  p_m = σ(β w_m·ψ),  p̄ = mean_m p_m
    alignment:    m = (1/M) Σ_m  w_m·w* / (‖w_m‖ ‖w*‖)

:func:`run_alignment_experiment` runs the whole loop on the driving world
(:mod:`orlkit.envs.driving`) against a simulated teacher who answers with the true w*.

Deviations from the papers
    - Likelihood: Bradley–Terry σ(β y w·ψ), not Sadigh's min(1, exp(y w·ψ)) (β = 1, no sharpening).
      The volume-removal objective is still Sadigh's min(...) form as written above (it was derived
      for his likelihood); information gain uses the Bradley–Terry likelihood, as APReL's softmax user.
    - Queries are chosen from a discrete pool of candidate pairs (random control sequences from one
      start state, features precomputed), as APReL's ``QueryOptimizerDiscreteTrajectorySet`` does,
      instead of Sadigh's continuous L-BFGS synthesis over both cars' controls and start states.
    - ψ is not rescaled to ‖ψ‖ ≤ 1 as Sadigh does; instead every feature is divided by a fixed
      scale (:data:`orlkit.envs.driving.FEATURE_SCALE`), as APReL's examples standardise features.
    - Posterior sampling: many parallel random-walk Metropolis chains whose step size adapts during
      burn-in (target acceptance 0.3), optionally warm-started from the previous posterior, instead
      of one pymc AdaptiveMetropolis chain (burn-in 1000, thin 50).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orlkit.envs.driving import (
    HORIZON,
    N_FEATURES,
    W_TRUE,
    random_controls,
    scale_features,
    trajectory_features,
)
from orlkit.errors import OrlkitError

METHODS = ("random", "volume_removal", "information_gain")
DEFAULT_BETA = 5.0  # β of the learner's likelihood when the teacher is deterministic (features scaled to std ≈ 1)


class QueryError(OrlkitError, ValueError):
    """Bad input to query selection or posterior sampling: names the argument and what was expected."""


def _as_numpy(x, name: str, ndim: int) -> np.ndarray:
    """float64 array of ``ndim`` dimensions from a NumPy array, list or (CPU/GPU, grad or not) torch tensor."""
    if hasattr(x, "detach"):  # torch.Tensor
        x = x.detach().cpu().numpy()
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != ndim:
        raise QueryError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise QueryError(f"{name} has non-finite values (NaN or inf)")
    return arr


def _check_k(k: int, n: int) -> None:
    if not 1 <= k <= n:
        raise QueryError(f"k must be in [1, {n}] (the number of candidates), got {k}")


def _check_probs(p: np.ndarray, name: str) -> None:
    if p.size and (p.min() < 0.0 or p.max() > 1.0):
        raise QueryError(f"{name} must be probabilities in [0, 1], got values in [{p.min()}, {p.max()}]")


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices (k,) of the k largest scores, largest first; ties go to the lower index."""
    return np.argsort(-scores, kind="stable")[:k]


def binary_entropy(p: np.ndarray) -> np.ndarray:
    """H(p) = −p log p − (1 − p) log(1 − p) in nats, elementwise (0 at p ∈ {0, 1})."""
    p = np.asarray(p, dtype=np.float64)
    q = 1.0 - p
    with np.errstate(divide="ignore", invalid="ignore"):
        return -(np.where(p > 0, p * np.log(p), 0.0) + np.where(q > 0, q * np.log(q), 0.0))


# ---------------------------------------------------------------------- (a) learned reward ensembles
def select_uniform(n_candidates: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """k distinct candidate indices (k,) drawn uniformly from ``range(n_candidates)``."""
    _check_k(k, n_candidates)
    return rng.choice(n_candidates, size=k, replace=False)


def select_disagreement(member_prefs, k: int) -> np.ndarray:
    """The k candidates (k,) on which the ensemble disagrees most, most first.

    Args:
        member_prefs: (E, N) P_e[A_i ≻ B_i] of each ensemble member e for each candidate pair i
            (NumPy or torch); E >= 2.
        k: how many to pick.
    Returns the indices of the k largest ``std_e member_prefs[e, i]``.
    """
    p = _as_numpy(member_prefs, "member_prefs (E, N)", 2)
    _check_probs(p, "member_prefs")
    if p.shape[0] < 2:
        raise QueryError(f"member_prefs needs at least 2 ensemble members (rows) to disagree, got shape {p.shape}")
    _check_k(k, p.shape[1])
    return _top_k(p.std(axis=0), k)


def select_entropy(mean_prefs, k: int) -> np.ndarray:
    """The k candidates (k,) whose mean preference probability P̄ (N,) has the largest binary entropy
    (the closest to 0.5), most uncertain first."""
    p = _as_numpy(mean_prefs, "mean_prefs (N,)", 1)
    _check_probs(p, "mean_prefs")
    _check_k(k, p.shape[0])
    return _top_k(binary_entropy(p), k)


# ---------------------------------------------------------------------- (b) linear rewards
def sample_unit_ball(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """(n, d) points uniform in the unit ball: a Gaussian direction times radius U^(1/d)."""
    direction = rng.normal(size=(n, d))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    return direction * rng.uniform(size=(n, 1)) ** (1.0 / d)


def log_posterior(w: np.ndarray, psis: np.ndarray, labels: np.ndarray, beta: float) -> np.ndarray:
    """Unnormalised log p(w | D) (C,) for weights w (C, d): Σ_i log σ(β y_i w·ψ_i), −inf outside ‖w‖ ≤ 1."""
    z = beta * w @ (labels[:, None] * psis).T  # (C, Q)
    lp = -np.logaddexp(0.0, -z).sum(axis=1)  # log σ(z) = −softplus(−z)
    return np.where(np.einsum("cd,cd->c", w, w) <= 1.0, lp, -np.inf)


def sample_posterior(psis, labels, n_samples: int, rng: np.random.Generator, burn_in: int = 200, thin: int = 5,
                     beta: float = DEFAULT_BETA, n_chains: int = 50, step: float = 0.1,
                     init: np.ndarray | None = None) -> np.ndarray:
    """Metropolis samples (n_samples, d) of w from p(w | D) ∝ 1[‖w‖ ≤ 1] Π_i σ(β y_i w·ψ_i).

    Args:
        psis: (Q, d) ψ_i = φ(A_i) − φ(B_i) of the answered queries (Q may be 0: samples from the prior).
        labels: (Q,) y_i = +1 if A_i ≻ B_i, −1 if B_i ≻ A_i.
        n_samples: M, samples returned.
        rng: the only source of randomness.
        burn_in: steps per chain discarded; the step size adapts during them (target acceptance 0.3).
        thin: keep every ``thin``-th step after burn-in.
        beta: β, the rationality of the Bradley–Terry likelihood.
        n_chains: parallel chains (vectorised); each gives ``ceil(M / n_chains)`` samples.
        step: initial std of the Gaussian random-walk proposal.
        init: (n_chains, d) start points inside the unit ball (e.g. the previous posterior's
            samples); default uniform draws from the prior.
    """
    psis = _as_numpy(psis, "psis (Q, d)", 2)
    labels = _as_numpy(labels, "labels (Q,)", 1)
    if labels.shape[0] != psis.shape[0]:
        raise QueryError(f"labels has {labels.shape[0]} answers but psis has {psis.shape[0]} queries")
    if not np.isin(labels, (-1.0, 1.0)).all():
        raise QueryError(f"labels must be +1 (A preferred) or -1 (B preferred), got values {np.unique(labels)}")
    if n_samples < 1 or burn_in < 0 or thin < 1 or n_chains < 1 or not beta > 0 or not step > 0:
        raise QueryError(f"need n_samples >= 1, burn_in >= 0, thin >= 1, n_chains >= 1, beta > 0, step > 0; got "
                         f"{n_samples}, {burn_in}, {thin}, {n_chains}, {beta}, {step}")
    d = psis.shape[1]
    if init is None:
        w = sample_unit_ball(n_chains, d, rng)
    else:
        w = _as_numpy(init, "init (n_chains, d)", 2).copy()
        if w.shape != (n_chains, d) or (np.linalg.norm(w, axis=1) > 1.0).any():
            raise QueryError(f"init must be (n_chains={n_chains}, d={d}) points in the unit ball, got shape {w.shape}")
    lp = log_posterior(w, psis, labels, beta)  # (C,)
    per_chain = -(-n_samples // n_chains)
    kept, accepted = [], 0
    for t in range(burn_in + per_chain * thin):
        proposal = w + step * rng.normal(size=w.shape)
        lp_prop = log_posterior(proposal, psis, labels, beta)
        accept = np.log(rng.uniform(size=n_chains)) < lp_prop - lp
        w[accept], lp[accept] = proposal[accept], lp_prop[accept]
        accepted += int(accept.sum())
        if t < burn_in and (t + 1) % 20 == 0:  # adapt the step towards 30% acceptance
            step *= float(np.exp(accepted / (20 * n_chains) - 0.3))
            accepted = 0
        if t >= burn_in and (t - burn_in + 1) % thin == 0:
            kept.append(w.copy())
    return np.concatenate(kept, axis=0)[:n_samples]  # (per_chain · C, d) → (M, d), sweep by sweep


def volume_removal(psis_candidates, w_samples) -> np.ndarray:
    """Sadigh's objective (P,) per candidate ψ (P, d) under posterior samples w (M, d):
    ``min(Σ_m [1 − exp(−relu(w_m·ψ))], Σ_m [1 − exp(−relu(−w_m·ψ))])``."""
    psis = _as_numpy(psis_candidates, "psis_candidates (P, d)", 2)
    w = _as_numpy(w_samples, "w_samples (M, d)", 2)
    if psis.shape[1] != w.shape[1]:
        raise QueryError(f"psis_candidates have {psis.shape[1]} features but w_samples {w.shape[1]}")
    y = psis @ w.T  # (P, M)
    removed = -np.expm1(-np.abs(y))  # 1 − exp(−|y|): one of the two terms, the other is 0
    removed_if_b = np.where(y > 0, removed, 0.0).sum(axis=1)  # Σ_m 1 − exp(−relu(w_m·ψ))
    removed_if_a = removed.sum(axis=1) - removed_if_b  # Σ_m 1 − exp(−relu(−w_m·ψ))
    return np.minimum(removed_if_b, removed_if_a)


def information_gain(psis_candidates, w_samples, beta: float = DEFAULT_BETA) -> np.ndarray:
    """I(y; w | ψ) (P,) in nats per candidate ψ (P, d), from posterior samples w (M, d):
    ``H(p̄) − mean_m H(p_m)`` with ``p_m = σ(β w_m·ψ)``, ``p̄ = mean_m p_m`` (Bıyık et al. 2019, APReL)."""
    psis = _as_numpy(psis_candidates, "psis_candidates (P, d)", 2)
    w = _as_numpy(w_samples, "w_samples (M, d)", 2)
    if psis.shape[1] != w.shape[1]:
        raise QueryError(f"psis_candidates have {psis.shape[1]} features but w_samples {w.shape[1]}")
    if not beta > 0:
        raise QueryError(f"beta must be positive, got {beta}")
    z = beta * psis @ w.T  # (P, M)
    a = np.abs(z)
    e = np.exp(-a)
    q = e / (1.0 + e)  # σ(−|z|)
    p = np.where(z >= 0, 1.0 - q, q)  # σ(z), overflow-free
    h_each = np.log1p(e) + a * q  # H(σ(z)) = H(σ(|z|)) = softplus(−|z|) + |z| σ(−|z|)
    return np.maximum(binary_entropy(p.mean(axis=1)) - h_each.mean(axis=1), 0.0)


@dataclass
class QueryPool:
    """Candidate queries: pairs of control sequences from one start, features precomputed.

    ``controls`` (N, T, 2), ``phi`` (N, d) scaled features (:func:`~orlkit.envs.driving.scale_features`),
    ``pairs`` (P, 2) indices (A, B) into them, ``psis`` (P, d) = φ(A) − φ(B).
    """

    controls: np.ndarray
    phi: np.ndarray
    pairs: np.ndarray
    psis: np.ndarray


def make_query_pool(n_trajectories: int, n_pairs: int, rng: np.random.Generator, horizon: int = HORIZON
                    ) -> QueryPool:
    """``n_trajectories`` random piecewise-constant control sequences of the driving world
    (:func:`~orlkit.envs.driving.random_controls`) and ``n_pairs`` random pairs of distinct ones."""
    if n_trajectories < 2 or n_pairs < 1:
        raise QueryError(f"need n_trajectories >= 2 and n_pairs >= 1, got {n_trajectories} and {n_pairs}")
    controls = random_controls(n_trajectories, rng, horizon)
    phi = scale_features(trajectory_features(controls))  # (N, d)
    a = rng.integers(0, n_trajectories, n_pairs)
    b = (a + rng.integers(1, n_trajectories, n_pairs)) % n_trajectories  # b ≠ a
    pairs = np.stack([a, b], axis=1)
    return QueryPool(controls, phi, pairs, phi[a] - phi[b])


def select_query(method: str, candidates, w_samples, rng: np.random.Generator, beta: float = DEFAULT_BETA,
                 exclude: np.ndarray | None = None) -> int:
    """Index of the candidate to ask next.

    Args:
        method: ``"random"`` (uniform), ``"volume_removal"`` or ``"information_gain"`` (argmax of the objective).
        candidates: a :class:`QueryPool` or the candidates' ψ (P, d).
        w_samples: (M, d) posterior samples.
        rng: draws the random query (and nothing else).
        beta: β of the likelihood (information gain only).
        exclude: (P,) bool, candidates not to ask (e.g. already asked).
    """
    psis = candidates.psis if isinstance(candidates, QueryPool) else _as_numpy(candidates, "candidates (P, d)", 2)
    allowed = np.ones(len(psis), dtype=bool) if exclude is None else ~np.asarray(exclude, dtype=bool)
    if allowed.shape != (len(psis),):
        raise QueryError(f"exclude must be a bool mask of shape ({len(psis)},), got shape {allowed.shape}")
    if not allowed.any():
        raise QueryError("every candidate is excluded; there is nothing left to ask")
    if method == "random":
        return int(rng.choice(np.flatnonzero(allowed)))
    if method == "volume_removal":
        scores = volume_removal(psis, w_samples)
    elif method == "information_gain":
        scores = information_gain(psis, w_samples, beta)
    else:
        raise QueryError(f"unknown query method {method!r}; choose one of {METHODS}")
    return int(np.argmax(np.where(allowed, scores, -np.inf)))


def alignment(w_samples_or_mean, w_true) -> float:
    """m = mean_m w_m·w* / (‖w_m‖ ‖w*‖) for samples (M, d), or the cosine of one vector w (d,) with w*."""
    w = _as_numpy(w_samples_or_mean, "w_samples_or_mean", np.ndim(w_samples_or_mean))
    w_true = _as_numpy(w_true, "w_true (d,)", 1)
    w = w.reshape(-1, w.shape[-1]) if w.ndim in (1, 2) else None
    if w is None or w.shape[1] != w_true.shape[0]:
        raise QueryError(f"w_samples_or_mean must be (M, {w_true.shape[0]}) or ({w_true.shape[0]},), got shape "
                         f"{np.shape(w_samples_or_mean)}")
    norms = np.linalg.norm(w, axis=1) * np.linalg.norm(w_true)
    if (norms == 0).any():
        raise QueryError("alignment of a zero weight vector is undefined")
    return float(np.mean(w @ w_true / norms))


# ---------------------------------------------------------------------- the experiment
@dataclass
class AlignmentConfig:
    """Settings of :func:`run_alignment_experiment` (defaults: ~1 s for 40 queries)."""

    n_trajectories: int = 2000  # N: random control sequences in the pool
    n_pairs: int = 5000  # P: candidate pairs (A, B) drawn from them
    n_samples: int = 300  # M: posterior samples of w after each answer
    n_chains: int = 50  # parallel Metropolis chains (warm-started from the previous posterior)
    burn_in: int = 100  # Metropolis steps per chain discarded after each answer
    thin: int = 5
    beta: float = DEFAULT_BETA  # β of the learner's likelihood for a deterministic teacher


def run_alignment_experiment(method: str, n_queries: int, seed: int, noise_beta: float | None = None,
                             config: AlignmentConfig | None = None) -> list[float]:
    """Alignment m of the posterior with w* (:data:`~orlkit.envs.driving.W_TRUE`) after each of ``n_queries``
    answers to queries chosen by ``method`` from a fresh pool of the driving world.

    The teacher answers with w*: deterministically (y = sign(w*·ψ)) when ``noise_beta`` is None, else
    y = +1 with probability σ(noise_beta · w*·ψ); the learner then uses β = ``noise_beta`` (it knows
    the teacher's rationality), else ``config.beta``. A candidate is never asked twice. The same
    ``seed`` gives the same pool for every method.
    """
    if method not in METHODS:
        raise QueryError(f"unknown query method {method!r}; choose one of {METHODS}")
    if n_queries < 1:
        raise QueryError(f"n_queries must be positive, got {n_queries}")
    if noise_beta is not None and not noise_beta > 0:
        raise QueryError(f"noise_beta must be positive or None, got {noise_beta}")
    cfg = config or AlignmentConfig()
    pool_seed, run_seed = np.random.SeedSequence(seed).generate_state(2)
    pool = make_query_pool(cfg.n_trajectories, cfg.n_pairs, np.random.default_rng(pool_seed))
    rng = np.random.default_rng(run_seed)
    beta = cfg.beta if noise_beta is None else noise_beta
    asked = np.zeros(len(pool.psis), dtype=bool)
    psis, labels = np.empty((0, N_FEATURES)), np.empty(0)
    w = sample_posterior(psis, labels, cfg.n_samples, rng, cfg.burn_in, cfg.thin, beta, cfg.n_chains)
    history = []
    for _ in range(n_queries):
        i = select_query(method, pool, w, rng, beta, exclude=asked)
        asked[i] = True
        margin = float(W_TRUE @ pool.psis[i])
        if noise_beta is None:
            y = 1.0 if margin >= 0 else -1.0
        else:
            y = 1.0 if rng.uniform() < 1.0 / (1.0 + np.exp(-noise_beta * margin)) else -1.0
        psis, labels = np.vstack([psis, pool.psis[i]]), np.append(labels, y)
        init = w[rng.choice(len(w), cfg.n_chains, replace=len(w) < cfg.n_chains)]
        w = sample_posterior(psis, labels, cfg.n_samples, rng, cfg.burn_in, cfg.thin, beta, cfg.n_chains, init=init)
        history.append(alignment(w, W_TRUE))
    return history
