"""Pusher: the API, seeding, the pushing physics and the wall, the demonstrator, and the example sets."""

from __future__ import annotations

import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from orlkit.envs.make import make_env
from orlkit.envs.pusher import (
    BLOCK_RADIUS,
    DECOY_KINDS,
    ENV_ID,
    GOAL_CENTER,
    GOAL_RADIUS,
    MAX_STEPS,
    PUSHER_RADIUS,
    WALL_HALF,
    WALL_Y,
    PusherEnv,
    decoy_states,
    failure_examples,
    is_legal,
    is_success,
    make_demos,
    scripted_action,
    success_examples,
)
from orlkit.errors import OrlkitError

CONTACT = PUSHER_RADIUS + BLOCK_RADIUS


def rollout(env: PusherEnv, policy, seed: int) -> tuple[np.ndarray, list[dict]]:
    """Observations (T + 1, 4) of one episode and the infos of its steps."""
    obs, _ = env.reset(seed=seed)
    states, infos, done = [obs], [], False
    while not done:
        obs, reward, terminated, done, info = env.step(policy(obs))
        assert reward == 0.0 and not terminated
        states.append(obs)
        infos.append(info)
    return np.array(states), infos


# ---------------------------------------------------------------------- API and seeding
def test_spaces_reset_and_info():
    env = PusherEnv()
    obs, info = env.reset(seed=0)
    assert obs.shape == (4,) and obs.dtype == np.float32 and env.observation_space.contains(obs)
    assert env.action_space.shape == (2,) and env.action_space.low.min() == -1.0
    assert info == {"success": False, "true_reward": 0.0}
    assert is_legal(obs) and not is_success(obs)


def test_gymnasium_env_checker_and_registration():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(gymnasium.make(ENV_ID, render_mode="ansi").unwrapped)
    env = make_env(ENV_ID)
    obs, _ = env.reset(seed=1)
    assert obs.shape == (4,)


def test_episodes_are_truncated_after_max_steps_and_then_refuse_to_step():
    states, infos = rollout(PusherEnv(), lambda o: np.zeros(2), seed=0)
    assert len(infos) == MAX_STEPS
    env = PusherEnv(max_steps=3)
    env.reset(seed=0)
    assert [env.step(np.zeros(2))[3] for _ in range(3)] == [False, False, True]
    with pytest.raises(RuntimeError, match="after the episode ended"):
        env.step(np.zeros(2))


def test_same_seed_same_episode_and_different_seeds_differ():
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    a, _ = rollout(PusherEnv(), lambda o: rng_a.uniform(-1, 1, 2), seed=5)
    b, _ = rollout(PusherEnv(), lambda o: rng_b.uniform(-1, 1, 2), seed=5)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(PusherEnv().reset(seed=5)[0], PusherEnv().reset(seed=6)[0])


def test_bad_input_is_named():
    env = PusherEnv()
    with pytest.raises(OrlkitError, match="out of the wall"):
        env.reset(options={"block": (-0.5, 0.0)})  # on the wall
    with pytest.raises(OrlkitError, match=r"options\['pusher'\]"):
        env.reset(options={"pusher": (0.0, np.nan)})
    env.reset(seed=0)
    with pytest.raises(OrlkitError, match="2 finite numbers"):
        env.step(np.zeros(3))
    with pytest.raises(OrlkitError, match="4 entries"):
        is_success(np.zeros((2, 3)))


def test_render_draws_the_scene():
    env = PusherEnv(render_mode="ansi")
    env.reset(seed=0)
    text = env.render()
    assert len(text.splitlines()) == 21 and {"#", "G", "b", "p"} <= set(text)


# ---------------------------------------------------------------------- physics
def test_pushing_moves_the_block_along_the_contact_normal():
    env = PusherEnv()
    env.reset(options={"pusher": (0.5, -0.6), "block": (0.5, -0.6 + CONTACT)})
    for _ in range(5):
        env.step(np.array([0.0, 1.0]))
    assert env.block[1] == pytest.approx(-0.6 + CONTACT + 5 * 0.06)
    assert env.block[0] == pytest.approx(0.5)
    assert np.hypot(*np.subtract(env.block, env.pusher)) == pytest.approx(CONTACT)
    before = env.block
    env.step(np.array([1.0, 0.0]))  # moving sideways, out of contact, leaves the block alone
    assert env.block == before
    env.step(np.array([0.0, -1.0]))  # and so does moving away from it
    assert env.block == before


def test_the_wall_stops_the_block_and_the_pusher():
    env = PusherEnv()
    env.reset(options={"pusher": (-0.35, -0.5), "block": (-0.35, -0.5 + CONTACT)})
    for _ in range(20):  # push straight up into the wall
        env.step(np.array([0.0, 1.0]))
    assert env.block[1] == pytest.approx(WALL_Y - WALL_HALF - BLOCK_RADIUS)  # resting against it
    assert env.pusher[1] < env.block[1]
    assert not is_success(env._obs())  # right below the goal, on the wrong side
    env.reset(options={"pusher": (-0.7, -0.3), "block": (0.6, 0.6)})
    for _ in range(20):
        env.step(np.array([0.0, 1.0]))
    assert env.pusher[1] == pytest.approx(WALL_Y - WALL_HALF - PUSHER_RADIUS)


def test_random_rollouts_never_leave_a_legal_state():
    env, rng = PusherEnv(), np.random.default_rng(0)
    for episode in range(10):
        env.reset(seed=episode)
        done = False
        while not done:  # chase the block and ram it into walls and corners
            d = np.subtract(env.block, env.pusher)
            a = d / np.linalg.norm(d) + rng.normal(0, 0.5, 2) if rng.random() < 0.7 else rng.uniform(-1, 1, 2)
            obs, _, _, done, _ = env.step(a)
            assert is_legal(np.array([*env.pusher, *env.block]), tol=1e-9)


# ---------------------------------------------------------------------- demonstrator and examples
def test_scripted_demos_succeed_and_a_random_policy_does_not():
    demos = make_demos(20, seed=0)
    assert demos.meta["success_rate"] >= 0.9
    env, rng = PusherEnv(), np.random.default_rng(0)
    random_success = [rollout(env, lambda o: rng.uniform(-1, 1, 2), seed=s)[1][-1]["success"] for s in range(20)]
    assert sum(random_success) <= 1


def test_demo_dataset_structure_and_determinism():
    demos = make_demos(4, seed=1)
    assert len(demos) == 4 * MAX_STEPS and demos.n_episodes == 4
    assert demos.obs.shape == (400, 4) and demos.actions.shape == (400, 2)
    assert not demos.terminals.any() and demos.timeouts.sum() == 4 and demos.timeouts[-1]
    assert (demos.rewards == 0).all() and np.abs(demos.actions).max() <= 1.0
    np.testing.assert_array_equal(demos.extras["success"], is_success(demos.next_obs))
    np.testing.assert_array_equal(demos.obs[1:100], demos.next_obs[:99])  # one episode is one chain
    again = make_demos(4, seed=1)
    np.testing.assert_array_equal(demos.obs, again.obs)
    assert not np.array_equal(demos.obs, make_demos(4, seed=2).obs)


def test_scripted_action_is_a_markov_function_with_optional_noise():
    obs = PusherEnv().reset(seed=0)[0]
    np.testing.assert_array_equal(scripted_action(obs), scripted_action(obs.copy()))
    noisy = scripted_action(obs, np.random.default_rng(0), noise=0.5)
    assert noisy.dtype == np.float32 and np.abs(noisy).max() <= 1.0
    with pytest.raises(OrlkitError, match="needs an rng"):
        scripted_action(obs, None, noise=0.1)


def test_success_and_failure_examples():
    pos = success_examples(10, seed=0)
    assert pos.shape == (10, 4) and pos.dtype == np.float32 and is_success(pos).all() and is_legal(pos).all()
    np.testing.assert_array_equal(pos, success_examples(10, seed=0))
    for region in ("table", "front"):
        neg = failure_examples(200, seed=0, region=region)
        assert neg.shape == (200, 4) and not is_success(neg).any() and is_legal(neg).all()
    assert (failure_examples(100, region="front")[:, 3] < WALL_Y).all()
    assert (failure_examples(500, region="table")[:, 3] > 0.1).mean() > 0.3  # blocks behind the wall too
    with pytest.raises(OrlkitError, match="region"):
        failure_examples(5, region="behind")


@pytest.mark.parametrize("kind", DECOY_KINDS)
def test_decoy_states_are_legal_non_successes(kind):
    decoys = decoy_states(30, seed=0, kind=kind)
    assert decoys.shape == (30, 4) and is_legal(decoys).all() and not is_success(decoys).any()
    dist = np.hypot(decoys[:, 2] - GOAL_CENTER[0], decoys[:, 3] - GOAL_CENTER[1])
    if kind == "near_miss":
        assert (dist > GOAL_RADIUS).all() and (dist < GOAL_RADIUS + 0.11).all()
    if kind == "wrong_side":
        assert (decoys[:, 3] < WALL_Y).all() and (dist < 0.6).all()
