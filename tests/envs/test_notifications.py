"""Notification simulator: shapes, determinism, population = single-user env, fatigue effects, policies."""

from __future__ import annotations

import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import orlkit.envs  # noqa: F401  (registers the gym id)
from orlkit.envs.make import make_env
from orlkit.envs.notifications import (
    DEFAULT_REWARD_WEIGHTS,
    ENV_ID,
    FEATURES,
    SCORE,
    NotificationConfig,
    NotificationEnv,
    NotificationPopulation,
    click_probability,
    disable_probability,
    fatigue_aware_policy,
    immediate_send_value,
    logging_batch_policy,
    logging_policy,
    send_all_policy,
    simulate,
    summarize,
)
from orlkit.train.evaluate import evaluate

D = len(FEATURES)


def rollout(pop: NotificationPopulation, seed: int, policy) -> list[tuple]:
    """Every step's (obs, reward, truncated, info) until all weeks end."""
    obs, steps = pop.reset(seed), []
    while not pop.done.all():
        nxt, reward, terminated, truncated, info = pop.step(policy(obs))
        assert not terminated.any()
        steps.append((obs, reward, truncated, info))
        obs = nxt
    return steps


def test_shapes_dtypes_and_episode_structure():
    pop = NotificationPopulation(5)
    obs = pop.reset(0)
    assert obs.shape == (5, D) and obs.dtype == np.float32
    steps = rollout(pop, 0, send_all_policy)
    n_truncated = sum(s[2].astype(int) for s in steps)
    np.testing.assert_array_equal(n_truncated, 1)  # each user's week ends exactly once
    decisions = sum(s[3]["active"].astype(int) for s in steps)
    np.testing.assert_array_equal(decisions, pop.outcomes()["decisions"])
    assert 30 < decisions.mean() < 90  # ~168 h / 3 h candidates
    _, reward, truncated, info = steps[0]
    assert reward.shape == (5,) and truncated.dtype == np.bool_
    assert set(info) >= {"sessions", "clicks", "sent", "disables", "hour", "active"}
    with pytest.raises(RuntimeError, match="ended"):
        pop.step(np.ones(5, dtype=int))


def test_reward_is_the_weighted_outcomes_and_totals_add_up():
    cfg = NotificationConfig(reward_weights={"volume": 0.2})
    pop = NotificationPopulation(50, cfg)
    steps = rollout(pop, 1, send_all_policy)
    w = {**DEFAULT_REWARD_WEIGHTS, "volume": 0.2}
    for _, reward, _, info in steps:
        expected = (w["sessions"] * info["sessions"] + w["clicks"] * info["clicks"] - w["volume"] * info["sent"]
                    - w["disables"] * info["disables"])
        np.testing.assert_allclose(reward, expected)
    out = pop.outcomes()
    np.testing.assert_allclose(out["return"], sum(s[1] for s in steps))
    np.testing.assert_array_equal(out["clicks"], sum(s[3]["clicks"] for s in steps))
    assert (out["sessions"] >= sum(s[3]["sessions"] for s in steps)).all()  # plus sessions before the 1st candidate
    with pytest.raises(ValueError, match="reward_weights"):
        NotificationConfig(reward_weights={"visits": 1.0})


def test_same_seed_same_week_other_seed_other_week():
    a = rollout(NotificationPopulation(20), 7, fatigue_aware_policy)
    b = rollout(NotificationPopulation(20), 7, fatigue_aware_policy)
    c = rollout(NotificationPopulation(20), 8, fatigue_aware_policy)
    assert len(a) == len(b)
    for (oa, ra, *_), (ob, rb, *_) in zip(a, b, strict=True):
        np.testing.assert_array_equal(oa, ob)
        np.testing.assert_array_equal(ra, rb)
    assert not np.array_equal(a[0][0], c[0][0])


def test_population_user_i_equals_the_single_user_env():
    """User i of a population is the env reset with options={"user": i}: same draws, same dynamics."""
    pop_steps = rollout(NotificationPopulation(3), 11, fatigue_aware_policy)
    env = NotificationEnv()
    for i in range(3):
        obs, _ = env.reset(seed=11, options={"user": i})
        active = [s for s in pop_steps if s[3]["active"][i]]
        for t, (pobs, preward, ptrunc, pinfo) in enumerate(active):
            np.testing.assert_array_equal(obs, pobs[i], err_msg=f"user {i} step {t}")
            obs, reward, terminated, truncated, info = env.step(int(fatigue_aware_policy(obs[None])[0]))
            assert reward == preward[i] and truncated == ptrunc[i] and not terminated
            assert {k: info[k] for k in ("sessions", "clicks", "sent", "disables")} == \
                {k: int(pinfo[k][i]) for k in ("sessions", "clicks", "sent", "disables")}
        assert truncated


def test_gymnasium_env_checks_and_evaluation():
    env = gymnasium.make(ENV_ID).unwrapped
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*infinity.*")  # counts have no upper bound
        check_env(env, skip_render_check=True)
    assert env.action_space.n == 2 and env.observation_space.shape == (D,)
    custom = make_env(ENV_ID, {"reward_weights": {"volume": 0.5}, "mean_gap_hours": 6.0}).unwrapped
    assert custom.config.reward_weights["volume"] == 0.5 and custom.config.mean_gap_hours == 6.0
    with pytest.raises(ValueError, match="action"):
        env.reset(seed=0)
        env.step(2)
    result = evaluate(fatigue_aware_policy, ENV_ID, episodes=2, seed=0)
    assert np.isfinite(result["return_mean"]) and result["length_mean"] > 10


def test_click_and_disable_probabilities_move_with_fatigue():
    cfg = NotificationConfig()
    f = np.linspace(0, 15, 16)
    p_click = click_probability(cfg, np.full(16, 0.4), np.full(16, 0.3), f, np.full(16, 14.0))
    assert (np.diff(p_click) < 0).all()
    assert (np.diff(disable_probability(cfg, f + 1)) > 0).all()
    assert immediate_send_value(0.1, 0.3, 8.0) < 0 < immediate_send_value(0.5, 0.3, 0.0)


def test_fatigue_lowers_clicks_in_simulation():
    """Same users and candidates (same seed): the 11th candidate is clicked less after 10 sends than after none."""
    def clicks_on_step_10(send_before: bool) -> tuple[int, int]:
        pop = NotificationPopulation(2000)
        pop.reset(3)
        for step in range(11):
            _, _, _, _, info = pop.step(np.full(2000, int(send_before or step == 10)))
        return int(info["clicks"].sum()), int(info["sent"].sum())

    fresh, fresh_sent = clicks_on_step_10(False)
    tired, tired_sent = clicks_on_step_10(True)
    assert fresh_sent == 2000 and tired_sent > 1900
    # Binomial counts near 170 vs 70: the difference is many standard errors.
    assert fresh - tired > 4 * np.sqrt(fresh + tired), (fresh, tired)


def test_fatigue_raises_disables_per_notification():
    """P(disable | delivered) depends only on fatigue: more volume, more fatigue, more disables per send."""
    logged = simulate(logging_batch_policy(0), 800, seed=2)
    flooded = simulate(send_all_policy, 800, seed=2)
    p_log = logged["disables"].sum() / logged["sent"].sum()
    p_all = flooded["disables"].sum() / flooded["sent"].sum()
    pooled = (logged["disables"].sum() + flooded["disables"].sum()) / (logged["sent"].sum() + flooded["sent"].sum())
    se = np.sqrt(pooled * (1 - pooled) * (1 / logged["sent"].sum() + 1 / flooded["sent"].sum()))
    assert (p_all - p_log) / se > 5, (p_log, p_all)


def test_sending_everything_is_worse_than_the_logging_policy():
    """Paired A/B (same seed, same users): send-all loses return, CTR and weekly actives."""
    logged = simulate(logging_batch_policy(0), 800, seed=5)
    flooded = simulate(send_all_policy, 800, seed=5)
    diff = logged["return"] - flooded["return"]  # (users,)
    assert diff.mean() > 5 * diff.std() / np.sqrt(len(diff))
    m_log, m_all = summarize(logged), summarize(flooded)
    assert m_all["sent"] > 1.4 * m_log["sent"]
    assert m_all["ctr"] < 0.6 * m_log["ctr"]
    assert m_all["weekly_active"] < m_log["weekly_active"] - 0.02


def test_fatigue_aware_heuristic_beats_the_logging_policy():
    logged = simulate(logging_batch_policy(0), 800, seed=6)
    better = simulate(fatigue_aware_policy, 800, seed=6)
    diff = better["return"] - logged["return"]
    assert diff.mean() > 3 * diff.std() / np.sqrt(len(diff))
    assert summarize(better)["sent"] < summarize(logged)["sent"]


def test_logging_policy_propensities():
    rng = np.random.default_rng(0)
    obs = np.zeros((20_000, D), dtype=np.float32)
    obs[:10_000, SCORE] = 0.9  # above the threshold
    obs[10_000:, SCORE] = 0.1
    actions, prop = logging_policy(obs, rng, threshold=0.5, epsilon=0.2)
    p_send = np.where(obs[:, SCORE] > 0.5, 0.8, 0.2)
    np.testing.assert_allclose(prop, np.where(actions == 1, p_send, 1 - p_send))
    assert abs(actions[:10_000].mean() - 0.8) < 0.02 and abs(actions[10_000:].mean() - 0.2) < 0.02
    greedy, prop0 = logging_policy(obs, rng, threshold=0.5, epsilon=0.0)
    np.testing.assert_array_equal(greedy, obs[:, SCORE] > 0.5)
    np.testing.assert_array_equal(prop0, 1.0)


def test_logging_policy_sends_about_half_of_the_candidates():
    pop = NotificationPopulation(300)
    obs, rng, sent = pop.reset(0), np.random.default_rng(0), []
    while not pop.done.all():
        actions, _ = logging_policy(obs, rng)
        sent.append(actions[~pop.done])
        obs, *_ = pop.step(actions)
    assert 0.45 < np.concatenate(sent).mean() < 0.55


def test_daily_cap_stops_every_send_above_it_exploration_included():
    rng = np.random.default_rng(0)
    obs = np.zeros((1000, len(FEATURES)), np.float32)
    obs[:, FEATURES.index("score")] = 0.9
    obs[:500, FEATURES.index("sent_24h")] = 0.4  # 4 sent in the last 24 h
    actions, prop = logging_policy(obs, rng, epsilon=0.5, daily_cap=4)
    assert not actions[:500].any() and np.all(prop[:500] == 1.0)
    assert 0.35 < actions[500:].mean() < 0.65  # below the cap: the ε = 0.5 coin
