"""Off-policy evaluation on problems with known answers: a 2-context × 3-action bandit whose V^π is
computed by hand, and a small gridworld whose V^π comes from exact policy evaluation.

``python tests/ope/test_ope.py`` prints the gridworld table of ``docs/ope.md`` (estimate vs truth).
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from orlkit.data.dataset import TransitionDataset
from orlkit.envs.gridworld import GridWorld, greedy, make_gridworld_dataset, policy_evaluation, value_iteration
from orlkit.errors import DatasetError, OrlkitError
from orlkit.ope import (
    ESTIMATORS,
    behavior_propensities,
    doubly_robust,
    estimate_propensities,
    evaluate_policy,
    importance_sampling,
    prepare,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# ---------------------------------------------------------------------------------- the bandit
# One-step episodes: a context x (one-hot, P(x) = 1/2 each), an action a, reward MEAN[x, a] + noise.
P_CONTEXT = np.array([0.5, 0.5])
MU = np.array([[0.5, 0.3, 0.2], [0.2, 0.2, 0.6]])  # behavior μ(a|x)
PI = np.array([[0.1, 0.2, 0.7], [0.6, 0.3, 0.1]])  # target π(a|x)
MEAN = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 0.5]])  # E[r | x, a]
V_PI = 0.5 * (0.1 * 1 + 0.7 * 2) + 0.5 * (0.3 * 1 + 0.1 * 0.5)  # 0.925, by hand
V_MU = 0.5 * (0.5 * 1 + 0.2 * 2) + 0.5 * (0.2 * 1 + 0.6 * 0.5)  # 0.7


def bandit(n: int, rng: np.random.Generator, noise: float = 1.0, behavior: np.ndarray = MU) -> TransitionDataset:
    """n one-step episodes of the behavior policy, with its true propensities in ``extras``."""
    x = rng.choice(2, n, p=P_CONTEXT)  # (n,)
    a = (rng.random(n)[:, None] < behavior[x].cumsum(1)).argmax(1)  # (n,) inverse-CDF sample
    r = MEAN[x, a] + noise * rng.normal(size=n)
    obs = np.eye(2, dtype=np.float32)[x]  # (n, 2)
    return TransitionDataset(obs, a, r, obs, np.ones(n, bool), np.zeros(n, bool), n_actions=3,
                             extras={"propensities": behavior[x, a]})


def target(obs: np.ndarray) -> np.ndarray:
    return PI[obs.argmax(1)]  # (B, 3)


def mean_reward_model(obs: np.ndarray) -> np.ndarray:
    return MEAN[obs.argmax(1)]  # (B, 3) the true Q^π of a one-step problem


def test_true_propensities_equal_to_the_target_give_weights_of_one() -> None:
    ds = bandit(200, np.random.default_rng(0), behavior=PI)
    data = prepare(ds, target, gamma=0.9)
    np.testing.assert_allclose(data.weights, 1.0)
    est = importance_sampling(ds, target, 0.9, n_boot=0)
    np.testing.assert_allclose(est["is"].value, ds.rewards.mean(), rtol=1e-6)  # on-policy Monte Carlo
    np.testing.assert_allclose(est["wis"].value, ds.rewards.mean(), rtol=1e-6)


def test_is_pdis_dr_are_unbiased_over_many_datasets() -> None:
    rng = np.random.default_rng(1)
    wrong_model = lambda obs: np.full((len(obs), 3), 0.5)  # noqa: E731 — DR stays unbiased with any model
    values: dict[str, list[float]] = {"is": [], "pdis": [], "dr": []}
    for _ in range(1000):
        ds = bandit(20, rng)
        est = importance_sampling(ds, target, 0.9, n_boot=0) | doubly_robust(ds, target, 0.9, q=wrong_model, n_boot=0)
        for name in values:
            values[name].append(est[name].value)
    for name, v in values.items():
        stderr = np.std(v, ddof=1) / np.sqrt(len(v))
        assert abs(np.mean(v) - V_PI) < 4 * stderr, (name, np.mean(v), stderr)


def test_wis_is_biased_with_one_episode_but_consistent() -> None:
    rng = np.random.default_rng(2)
    # With one episode WIS returns that episode's reward, so its mean is the behavior's value V^μ.
    one = np.array([importance_sampling(bandit(1, rng), target, 0.9, n_boot=0)["wis"].value for _ in range(2000)])
    assert abs(one.mean() - V_MU) < 4 * one.std() / np.sqrt(len(one))
    assert one.mean() < V_PI - 0.1
    big = importance_sampling(bandit(20_000, rng), target, 0.9, n_boot=100)["wis"]
    assert abs(big.value - V_PI) < 0.03
    assert abs(big.value - V_PI) < 4 * big.stderr + 1e-3


def test_dr_with_a_perfect_model_has_no_variance() -> None:
    rng = np.random.default_rng(3)
    errors, is_values = [], []
    for _ in range(50):
        ds = bandit(30, rng, noise=0.0)
        truth_here = (PI * MEAN).sum(1)[ds.obs.argmax(1)].mean()  # V^π averaged over this data's contexts
        errors.append(doubly_robust(ds, target, 0.9, q=mean_reward_model, n_boot=0)["dr"].value - truth_here)
        is_values.append(importance_sampling(ds, target, 0.9, n_boot=0)["is"].value - truth_here)
    np.testing.assert_allclose(errors, 0.0, atol=1e-9)
    assert np.std(is_values) > 0.1  # importance sampling alone is far noisier


# ---------------------------------------------------------------------------------- formulas vs loops
def random_episodes(seed: int = 0) -> tuple[TransitionDataset, np.ndarray, np.ndarray]:
    """Episodes of lengths 1-5 ending in terminals over 4 one-hot states; a random π (S, A) and Q̂ (S, A)."""
    rng = np.random.default_rng(seed)
    lengths = [3, 1, 5, 2, 4, 5]
    n = sum(lengths)
    states = rng.integers(0, 4, n + 1)
    terminals = np.zeros(n, bool)
    terminals[np.cumsum(lengths) - 1] = True
    eye = np.eye(4, dtype=np.float32)
    ds = TransitionDataset(eye[states[:-1]], rng.integers(0, 3, n), rng.normal(size=n), eye[states[1:]], terminals,
                           np.zeros(n, bool), n_actions=3, extras={"propensities": rng.uniform(0.2, 1.0, n)})
    return ds, rng.dirichlet(np.ones(3), size=4), rng.normal(size=(4, 3))


def loop_references(ds: TransitionDataset, pi: np.ndarray, q: np.ndarray, gamma: float) -> dict[str, float]:
    """The papers' formulas, one episode and one step at a time (episodes padded to the longest)."""
    starts, ends = ds.episode_bounds
    n, horizon = len(starts), int((ends - starts).max()) + 1
    s, a, mu = ds.obs.argmax(1), ds.actions, ds.extras["propensities"]
    w = np.ones((n, horizon))  # w_it, carried past the end
    r, q_logged, v = np.zeros((n, horizon)), np.zeros((n, horizon)), np.zeros((n, horizon))
    dr = []
    for i, (b, e) in enumerate(zip(starts, ends, strict=True)):
        for t in range(horizon):
            if b + t <= e:
                k = b + t
                w[i, t] = (w[i, t - 1] if t else 1.0) * pi[s[k], a[k]] / mu[k]
                r[i, t], q_logged[i, t], v[i, t] = ds.rewards[k], q[s[k], a[k]], pi[s[k]] @ q[s[k]]
            else:
                w[i, t] = w[i, t - 1]
        value = 0.0  # Jiang & Li's recursion, backwards: V ← V̂(s_t) + ρ_t (r_t + γ V − Q̂(s_t, a_t))
        for k in range(e, b - 1, -1):
            value = pi[s[k]] @ q[s[k]] + pi[s[k], a[k]] / mu[k] * (ds.rewards[k] + gamma * value - q[s[k], a[k]])
        dr.append(value)
    disc = gamma ** np.arange(horizon)
    G = (r * disc).sum(1)
    w_norm = w / w.sum(0)  # w̃_it = w_it / Σ_j w_jt
    w_norm_prev = np.concatenate([np.full((n, 1), 1.0 / n), w_norm[:, :-1]], axis=1)  # w̃_{i,t−1}, w̃_{i,−1} = 1/n
    return {"is": np.mean(w[:, -1] * G), "wis": np.sum(w[:, -1] * G) / np.sum(w[:, -1]),
            "pdis": np.mean((w * r * disc).sum(1)), "wpdis": np.sum(w_norm * r * disc),
            "dr": np.mean(dr), "wdr": np.sum(disc * (w_norm * r - (w_norm * q_logged - w_norm_prev * v)))}


def test_estimators_equal_the_papers_formulas_written_as_loops() -> None:
    ds, pi, q = random_episodes()
    policy, model = (lambda obs: pi[obs.argmax(1)]), (lambda obs: q[obs.argmax(1)])
    est = importance_sampling(ds, policy, 0.8, n_boot=0) | doubly_robust(ds, policy, 0.8, q=model, n_boot=0)
    expected = loop_references(ds, pi, q, 0.8)
    for name, value in expected.items():
        np.testing.assert_allclose(est[name].value, value, rtol=1e-6, err_msg=name)


def test_bootstrap_stderr_of_is_matches_a_resampling_loop() -> None:
    ds, pi, _ = random_episodes(1)
    policy = lambda obs: pi[obs.argmax(1)]  # noqa: E731
    est = importance_sampling(ds, policy, 0.8, n_boot=2000, seed=5)["is"]
    data = prepare(ds, policy, 0.8)
    per_episode = data.weights[:, -1] * (data.rewards @ data.episodes.discounts)  # (E,)
    rng = np.random.default_rng(0)
    loop = [per_episode[rng.integers(0, len(per_episode), len(per_episode))].mean() for _ in range(2000)]
    assert abs(est.stderr - np.std(loop, ddof=1)) < 0.1 * np.std(loop)


def test_doubly_robust_bootstraps_past_a_time_limit_and_importance_sampling_does_not() -> None:
    # One state, reward 1 on every step, episodes cut by a time limit after 5 steps: V^π = 1 / (1 − γ).
    n, gamma = 20, 0.8
    obs = np.ones((n, 1), np.float32)
    timeouts = np.arange(n) % 5 == 4
    ds = TransitionDataset(obs, np.arange(n) % 2, np.ones(n), obs, np.zeros(n, bool), timeouts, n_actions=2,
                           extras={"propensities": np.full(n, 0.5)})
    uniform = lambda o: np.full((len(o), 2), 0.5)  # noqa: E731
    exact = lambda o: np.full((len(o), 2), 1 / (1 - gamma))  # noqa: E731
    est = importance_sampling(ds, uniform, gamma, n_boot=0) | doubly_robust(ds, uniform, gamma, q=exact, n_boot=0)
    np.testing.assert_allclose(est["dr"].value, 1 / (1 - gamma))
    np.testing.assert_allclose(est["pdis"].value, (1 - gamma ** 5) / (1 - gamma))  # the sum stops at the cut


# ---------------------------------------------------------------------------------- the gridworld
LAYOUT = ["#####",
          "#..G#",
          "#...#",
          "#S.P#",
          "#####"]
GAMMA, EPSILON = 0.9, 0.5


def gridworld_problem(seed: int, layout: list[str] | None = LAYOUT, n: int = 10_000):
    """Uniform-behavior data with known propensities, the ε-soft greedy policy of Q*, and V^π exact."""
    env = GridWorld(layout=layout)
    P, R, terminal = env.model()
    pi_table = (1 - EPSILON) * greedy(value_iteration(P, R, terminal, GAMMA)) + EPSILON / 4  # (S, 4)
    v_pi = (pi_table * policy_evaluation(P, R, terminal, pi_table, GAMMA)).sum(1)  # (S,)
    ds = make_gridworld_dataset("uniform", n_transitions=n, seed=seed, layout=layout)
    ds.extras["propensities"] = np.full(len(ds), 0.25, np.float32)
    truth = v_pi[ds.obs[ds.episode_bounds[0]].argmax(1)].mean()  # V^π over the data's episode starts
    return ds, (lambda obs: pi_table[np.asarray(obs).argmax(1)]), float(truth)


def run_gridworld(seed: int, layout: list[str] | None = LAYOUT) -> tuple[dict[str, float], float]:
    ds, pi, truth = gridworld_problem(seed, layout)
    return evaluate_policy(ds, pi, GAMMA, fqe_steps=3000, fqe_hidden=(), fqe_kwargs={"lr": 3e-3},
                           n_boot=200, seed=seed), truth


@pytest.fixture(scope="module")
def gridworld() -> tuple[dict[str, float], float]:
    return run_gridworld(seed=0)


def test_evaluate_policy_returns_every_estimator(gridworld) -> None:
    result, _ = gridworld
    for name in ESTIMATORS:
        assert np.isfinite(result[name]), name
        if name != "fqe":
            assert result[f"{name}_stderr"] > 0, name
    assert 1 < result["ess"] < 10_000


def test_tabular_fqe_is_close_to_the_exact_value(gridworld) -> None:
    result, truth = gridworld
    assert abs(result["fqe"] - truth) < 0.03, (result["fqe"], truth)


@pytest.mark.parametrize("name", ["is", "wis", "pdis", "wpdis", "dr", "wdr"])
def test_importance_and_doubly_robust_within_a_few_stderr(gridworld, name: str) -> None:
    result, truth = gridworld
    assert abs(result[name] - truth) < 3 * result[f"{name}_stderr"], (name, result[name], truth)


def test_dr_has_a_smaller_stderr_than_importance_sampling(gridworld) -> None:
    result, _ = gridworld
    assert result["dr_stderr"] < result["pdis_stderr"] / 2
    assert result["behavior"] < result["fqe"]  # the target policy is better than the uniform behavior


def test_estimated_propensities_of_uniform_behavior_are_near_a_quarter() -> None:
    ds = make_gridworld_dataset("uniform", n_transitions=5000, seed=4, layout=LAYOUT)
    assert "propensities" not in ds.extras
    mu, estimated = behavior_propensities(ds)
    assert estimated
    assert abs(mu.mean() - 0.25) < 0.01
    assert np.abs(mu - 0.25).max() < 0.06
    np.testing.assert_array_equal(estimate_propensities(ds, steps=50), estimate_propensities(ds, steps=50))


# ---------------------------------------------------------------------------------- bad input
def test_missing_propensities_without_estimation_raise() -> None:
    ds = make_gridworld_dataset("uniform", n_transitions=200, seed=0, layout=LAYOUT)
    with pytest.raises(OrlkitError, match="propensities.*estimate_behavior=False"):
        importance_sampling(ds, lambda o: np.full((len(o), 4), 0.25), GAMMA, estimate_behavior=False)


@pytest.mark.parametrize("bad", [0.0, 1.5, -0.2])
def test_propensities_outside_unit_interval_name_the_row(bad: float) -> None:
    ds = bandit(10, np.random.default_rng(0))
    ds.extras["propensities"] = ds.extras["propensities"].copy()
    ds.extras["propensities"][6] = bad
    with pytest.raises(DatasetError, match=r"field 'propensities': row 6: propensity .* outside \(0, 1\]"):
        importance_sampling(ds, target, GAMMA)


def test_continuous_actions_raise() -> None:
    n = 5
    obs = np.zeros((n, 2), np.float32)
    ds = TransitionDataset(obs, np.zeros((n, 1), np.float32), np.zeros(n), obs, np.ones(n, bool), np.zeros(n, bool))
    with pytest.raises(OrlkitError, match="OPE here needs discrete actions"):
        evaluate_policy(ds, target, GAMMA)


def test_a_target_policy_that_is_not_a_distribution_raises() -> None:
    ds = bandit(10, np.random.default_rng(0))
    with pytest.raises(OrlkitError, match="row 0 are not a distribution"):
        importance_sampling(ds, lambda o: np.full((len(o), 3), 0.5), GAMMA)
    with pytest.raises(OrlkitError, match=r"shape \(10, 2\)"):
        importance_sampling(ds, lambda o: np.full((len(o), 2), 0.5), GAMMA)


# ---------------------------------------------------------------------------------- docs/ope.md
def gridworld_markdown(seeds: range = range(5)) -> str:
    """Estimate vs truth on the test's 3×3 gridworld and on the default 5×7 cliff map."""
    lines = ["| map | seed | truth | " + " | ".join(ESTIMATORS) + " | ESS |",
             "|---|---|---|" + "---|" * (len(ESTIMATORS) + 1)]
    for name, layout in (("3×3", LAYOUT), ("5×7 cliff", None)):
        for seed in seeds:
            r, truth = run_gridworld(seed, layout)
            cells = [f"{r[k]:.3f}" + (f" ± {r[k + '_stderr']:.3f}" if k + "_stderr" in r else "") for k in ESTIMATORS]
            lines.append(f"| {name} | {seed} | {truth:.3f} | " + " | ".join(cells) + f" | {r['ess']:.0f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import torch

    torch.set_num_threads(1)
    sys.stdout.write(gridworld_markdown())
