"""Query selection: ensemble heuristics, the linear-reward posterior, volume removal, information gain,
alignment, and the statistical claim that active queries beat random ones on the driving world."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from orlkit.envs.driving import N_FEATURES, W_TRUE
from orlkit.errors import OrlkitError
from orlkit.rewards.queries import (
    AlignmentConfig,
    QueryError,
    alignment,
    binary_entropy,
    information_gain,
    make_query_pool,
    run_alignment_experiment,
    sample_posterior,
    sample_unit_ball,
    select_disagreement,
    select_entropy,
    select_query,
    select_uniform,
    volume_removal,
)

# Small enough for unit tests (the documented runs use the defaults).
FAST = AlignmentConfig(n_trajectories=1000, n_pairs=2000, n_samples=200, n_chains=40, burn_in=60)
TINY = AlignmentConfig(n_trajectories=800, n_pairs=1200, n_samples=120, n_chains=40, burn_in=50, thin=3)


# ---------------------------------------------------------------------- (a) ensembles
def test_disagreement_picks_the_pairs_with_the_largest_std_across_members():
    member_prefs = np.array([[0.5, 0.1, 0.9, 0.6, 0.2],
                             [0.5, 0.9, 0.8, 0.4, 0.2],
                             [0.5, 0.5, 0.7, 0.5, 0.2]])  # std: 0, 0.327, 0.082, 0.082, 0
    np.testing.assert_array_equal(select_disagreement(member_prefs, 1), [1])
    np.testing.assert_array_equal(select_disagreement(member_prefs, 3), [1, 2, 3])  # ties: lower index first
    np.testing.assert_array_equal(select_disagreement(torch.tensor(member_prefs, requires_grad=True), 1), [1])


def test_entropy_picks_the_mean_probability_closest_to_one_half():
    mean_prefs = np.array([0.9, 0.45, 0.02, 0.7, 0.5, 1.0])
    np.testing.assert_array_equal(select_entropy(mean_prefs, 3), [4, 1, 3])
    assert binary_entropy(np.array([0.0, 1.0]))[0] == 0.0 and binary_entropy(0.5) == pytest.approx(np.log(2))


def test_uniform_draws_distinct_indices_reproducibly():
    a = select_uniform(10, 10, np.random.default_rng(0))
    assert sorted(a) == list(range(10))
    np.testing.assert_array_equal(select_uniform(100, 5, np.random.default_rng(1)),
                                  select_uniform(100, 5, np.random.default_rng(1)))


def test_ensemble_selection_rejects_bad_input():
    with pytest.raises(QueryError, match=r"k must be in \[1, 3\]"):
        select_entropy(np.array([0.1, 0.2, 0.3]), 4)
    with pytest.raises(QueryError, match="probabilities in"):
        select_disagreement(np.array([[0.1, 1.2], [0.1, 0.2]]), 1)
    with pytest.raises(QueryError, match="at least 2 ensemble members"):
        select_disagreement(np.array([[0.1, 0.2]]), 1)
    with pytest.raises(OrlkitError, match=r"member_prefs \(E, N\) must have 2 dimension"):
        select_disagreement(np.array([0.1, 0.2]), 1)


# ---------------------------------------------------------------------- (b) objectives
def test_volume_removal_is_symmetric_under_swapping_and_zero_without_difference():
    rng = np.random.default_rng(0)
    psis, w = rng.normal(size=(20, 5)), sample_unit_ball(100, 5, rng)
    np.testing.assert_allclose(volume_removal(psis, w), volume_removal(-psis, w), rtol=1e-12)
    np.testing.assert_array_equal(volume_removal(np.zeros((1, 5)), w), [0.0])
    # by hand: w·ψ = (1, −2, 3) → min(Σ 1−e^{−relu}, Σ 1−e^{−relu(−)}) = min(2 − e^{−1} − e^{−3}, 1 − e^{−2})
    w3 = np.array([[1.0, 0.0], [-2.0, 0.0], [3.0, 0.0]])
    expected = min(2 - np.exp(-1) - np.exp(-3), 1 - np.exp(-2))
    assert volume_removal(np.array([[1.0, 0.0]]), w3)[0] == pytest.approx(expected)


def test_information_gain_matches_the_mutual_information_formula():
    rng = np.random.default_rng(1)
    psis, w, beta = rng.normal(size=(30, 4)), sample_unit_ball(50, 4, rng), 3.0
    p = 1.0 / (1.0 + np.exp(-beta * psis @ w.T))  # (P, M)
    mi = binary_entropy(p.mean(axis=1)) - binary_entropy(p).mean(axis=1)
    ig = information_gain(psis, w, beta)
    np.testing.assert_allclose(ig, mi, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(information_gain(-psis, w, beta), ig, rtol=1e-9, atol=1e-12)
    assert information_gain(np.zeros((1, 4)), w, beta)[0] == 0.0 and (ig >= 0).all()
    assert np.isfinite(information_gain(1e4 * psis, w, beta)).all()  # no overflow at huge margins


def test_select_query_takes_the_argmax_and_skips_excluded_candidates():
    rng = np.random.default_rng(2)
    psis, w = rng.normal(size=(50, 5)), sample_unit_ball(80, 5, rng)
    best = select_query("volume_removal", psis, w, rng)
    assert best == int(np.argmax(volume_removal(psis, w)))
    exclude = np.zeros(50, dtype=bool)
    exclude[best] = True
    assert select_query("volume_removal", psis, w, rng, exclude=exclude) != best
    assert select_query("information_gain", psis, w, rng) == int(np.argmax(information_gain(psis, w)))
    picks = {select_query("random", psis, w, rng, exclude=~(np.arange(50) < 3)) for _ in range(30)}
    assert picks == {0, 1, 2}
    with pytest.raises(QueryError, match="unknown query method 'greedy'"):
        select_query("greedy", psis, w, rng)
    with pytest.raises(QueryError, match="every candidate is excluded"):
        select_query("random", psis, w, rng, exclude=np.ones(50, dtype=bool))


def test_alignment_is_the_mean_cosine():
    assert alignment(W_TRUE, W_TRUE) == pytest.approx(1.0)
    assert alignment(-0.3 * W_TRUE, W_TRUE) == pytest.approx(-1.0)
    e = np.eye(2)
    assert alignment(np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]), e[0]) == pytest.approx((1 + 0 + 2**-0.5) / 3)
    with pytest.raises(QueryError, match=r"must be \(M, 2\) or \(2,\)"):
        alignment(np.ones((3, 4)), e[0])


# ---------------------------------------------------------------------- (b) posterior
def test_prior_samples_are_uniform_in_the_unit_ball():
    w = sample_posterior(np.empty((0, 3)), np.empty(0), 2000, np.random.default_rng(0))
    norms = np.linalg.norm(w, axis=1)
    assert w.shape == (2000, 3) and (norms <= 1).all()
    assert np.mean(norms**2) == pytest.approx(3 / 5, abs=0.03)  # E‖w‖² = d/(d+2) in the ball
    np.testing.assert_allclose(w.mean(axis=0), 0.0, atol=0.05)


def test_posterior_mean_matches_numerical_integration_in_2d():
    psis = np.array([[1.0, 0.5], [0.2, -1.0], [-0.5, 1.5]])
    labels = np.array([1.0, -1.0, 1.0])
    beta = 2.0
    g = np.linspace(-1, 1, 401)
    grid = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)
    logp = -np.logaddexp(0, -beta * grid @ (labels[:, None] * psis).T).sum(axis=1)
    weights = np.where((grid**2).sum(axis=1) <= 1, np.exp(logp), 0.0)
    exact = weights @ grid / weights.sum()
    w = sample_posterior(psis, labels, 4000, np.random.default_rng(1), beta=beta, thin=3)
    np.testing.assert_allclose(w.mean(axis=0), exact, atol=0.03)


def test_posterior_stays_in_the_ball_and_concentrates_on_w_true_after_consistent_answers():
    rng = np.random.default_rng(3)
    psis = rng.normal(size=(150, N_FEATURES))
    labels = np.where(psis @ W_TRUE >= 0, 1.0, -1.0)  # a deterministic teacher with w*
    w_few = sample_posterior(psis[:5], labels[:5], 300, rng)
    w_many = sample_posterior(psis, labels, 300, rng)
    assert (np.linalg.norm(w_many, axis=1) <= 1).all()
    assert alignment(w_few, W_TRUE) < alignment(w_many, W_TRUE)
    assert alignment(w_many, W_TRUE) > 0.95


def test_posterior_rejects_bad_labels_and_shapes():
    rng = np.random.default_rng(0)
    with pytest.raises(QueryError, match=r"labels must be \+1 \(A preferred\) or -1"):
        sample_posterior(np.ones((2, 3)), np.array([1.0, 0.0]), 10, rng)
    with pytest.raises(QueryError, match="labels has 1 answers but psis has 2 queries"):
        sample_posterior(np.ones((2, 3)), np.array([1.0]), 10, rng)
    with pytest.raises(QueryError, match="non-finite"):
        sample_posterior(np.array([[np.nan, 1.0]]), np.array([1.0]), 10, rng)
    with pytest.raises(QueryError, match="init must be"):
        sample_posterior(np.ones((1, 2)), np.array([1.0]), 10, rng, n_chains=2, init=np.ones((2, 2)))


# ---------------------------------------------------------------------- the driving experiment
def test_query_pool_pairs_distinct_trajectories():
    pool = make_query_pool(50, 200, np.random.default_rng(0))
    assert pool.phi.shape == (50, N_FEATURES) and pool.psis.shape == (200, N_FEATURES)
    assert (pool.pairs[:, 0] != pool.pairs[:, 1]).all()
    np.testing.assert_array_equal(pool.psis, pool.phi[pool.pairs[:, 0]] - pool.phi[pool.pairs[:, 1]])


def test_active_queries_reach_alignment_above_0_9_in_40_queries_and_are_deterministic():
    history = run_alignment_experiment("volume_removal", 40, seed=0, config=FAST)
    assert len(history) == 40 and history[-1] > 0.9
    assert history[:5] == run_alignment_experiment("volume_removal", 5, seed=0, config=FAST)
    with pytest.raises(QueryError, match="unknown query method"):
        run_alignment_experiment("thompson", 5, seed=0)


def permutation_p_value(better: np.ndarray, worse: np.ndarray) -> float:
    """One-sided exact permutation test of mean(better) > mean(worse)."""
    pooled, n = np.concatenate([better, worse]), len(better)
    observed = better.mean() - worse.mean()
    diffs = [pooled[list(idx)].mean() - np.delete(pooled, list(idx)).mean()
             for idx in itertools.combinations(range(len(pooled)), n)]
    return float(np.mean(np.array(diffs) >= observed - 1e-12))


def test_active_queries_beat_random_queries_at_15_queries():
    # 1-2.5 s. Measured with TINY on seeds 0-4 (2026-11-29): random 0.48-0.61 (mean 0.55), volume removal 0.91-0.94,
    # information gain 0.91-0.94.
    seeds = range(5)
    final = {m: np.array([run_alignment_experiment(m, 15, seed=s, config=TINY)[-1] for s in seeds])
             for m in ("random", "volume_removal", "information_gain")}
    for method in ("volume_removal", "information_gain"):
        assert final[method].mean() > final["random"].mean() + 0.1
        assert permutation_p_value(final[method], final["random"]) < 0.05  # 5 vs 5: the smallest p is 1/252
