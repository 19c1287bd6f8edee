"""Driving world: the dynamics against hand-computed steps, the features, the scripted car and the env API."""

from __future__ import annotations

import math
import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from orlkit.envs.driving import (
    DT,
    ENV_ID,
    FEATURE_NAMES,
    FEATURE_SCALE,
    HORIZON,
    LANE_CENTERS,
    OTHER_START,
    ROBOT_START,
    W_TRUE,
    DrivingEnv,
    DrivingError,
    dynamics_step,
    features,
    other_car_states,
    random_controls,
    rollout,
    scale_features,
    step_features,
    trajectory_features,
)
from orlkit.errors import OrlkitError


# ---------------------------------------------------------------------- dynamics
def test_one_step_matches_the_equations_by_hand():
    # s = (0.1, 0.2, π/3, 0.8), u = (0.5, −0.3), dt = 0.2:
    # x' = 0.1 + 0.2·0.8·cos(π/3) = 0.18;  y' = 0.2 + 0.2·0.8·sin(π/3) = 0.2 + 0.08·√3
    # θ' = π/3 + 0.2·0.8·0.5 = π/3 + 0.08;  v' = 0.8 + 0.2·(−0.3 − 0.8) = 0.58
    s = np.array([0.1, 0.2, math.pi / 3, 0.8])
    expected = [0.18, 0.2 + 0.08 * math.sqrt(3), math.pi / 3 + 0.08, 0.58]
    np.testing.assert_allclose(dynamics_step(s, np.array([0.5, -0.3])), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(rollout(np.array([[0.5, -0.3]]), s)[1], expected, rtol=0, atol=1e-12)
    assert DT == 0.2


def test_controls_are_clipped_to_the_box():
    s = np.array([0.0, 0.0, math.pi / 2, 1.0])
    np.testing.assert_array_equal(dynamics_step(s, np.array([5.0, -3.0])), dynamics_step(s, np.array([2.0, -1.0])))


def test_rollout_is_vectorised_and_starts_at_x0():
    controls = random_controls(7, np.random.default_rng(0))  # (7, T, 2)
    batch = rollout(controls)
    assert batch.shape == (7, HORIZON + 1, 4)
    np.testing.assert_array_equal(batch[:, 0], np.broadcast_to(ROBOT_START, (7, 4)))
    for i in range(7):
        np.testing.assert_allclose(batch[i], rollout(controls[i]), rtol=0, atol=1e-12)
    with pytest.raises(DrivingError, match=r"controls must be .* \(\.\.\., T, 2\)"):
        rollout(np.zeros((HORIZON, 3)))


def test_random_controls_are_piecewise_constant_in_the_box():
    u = random_controls(50, np.random.default_rng(1), horizon=10, segments=2)
    assert u.shape == (50, 10, 2)
    assert (u[:, :, 0] >= -2).all() and (u[:, :, 0] <= 2).all() and (np.abs(u[:, :, 1]) <= 1).all()
    np.testing.assert_array_equal(u[:, :5], np.repeat(u[:, :1], 5, axis=1))
    np.testing.assert_array_equal(u[:, 5:], np.repeat(u[:, 5:6], 5, axis=1))
    assert not np.array_equal(u[:, 0], u[:, 5])


# ---------------------------------------------------------------------- scene and features
def test_other_car_cuts_from_the_right_lane_into_the_middle_lane():
    path = other_car_states()
    np.testing.assert_array_equal(path[0], OTHER_START)
    assert path[0, 0] == LANE_CENTERS[2] and abs(path[-1, 0] - LANE_CENTERS[1]) < 0.01
    np.testing.assert_allclose(path[:, 3], 0.5)  # constant speed
    assert path[-1, 2] == pytest.approx(math.pi / 2)  # straight again


def test_features_of_driving_straight_along_the_middle_lane_at_target_speed():
    # v = 1 and u = (0, 1): v̇ = 0, θ stays π/2, x stays 0 → lanes ≈ T, fences ≈ 0, heading = T, speed = 0.
    # The two neighbour lanes add 2·exp(−8) per step; the robot passes the other car (t ≈ 3) before
    # it cuts in, so car ≈ 0 (0.011: the car's Gaussian, turned as it starts to merge, grazes the robot).
    states = rollout(np.tile([0.0, 1.0], (HORIZON, 1)), np.array([0.0, 0.0, math.pi / 2, 1.0]))
    np.testing.assert_allclose(states[:, 0], 0.0, atol=1e-12)
    phi = features(states)
    assert phi.shape == (len(FEATURE_NAMES),)
    np.testing.assert_allclose(phi, [HORIZON * (1 + 2 * math.exp(-8)), 0.0, HORIZON, 0.0, 0.0], atol=0.02)


def test_car_feature_is_one_on_the_other_car_and_lane_feature_one_on_a_centre():
    other = other_car_states()[5]
    f = step_features(other, other)
    assert f[FEATURE_NAMES.index("car")] == pytest.approx(1.0)
    on_lane = np.array([LANE_CENTERS[0], 0.0, math.pi / 2, 1.0])
    assert step_features(on_lane, other)[FEATURE_NAMES.index("lanes")] == pytest.approx(1.0, abs=1e-3)


def test_features_are_finite_and_in_range_for_random_controls():
    phi = trajectory_features(random_controls(500, np.random.default_rng(2)))  # (500, 5)
    assert phi.shape == (500, 5) and np.isfinite(phi).all()
    lanes, fences, heading, car, speed = phi.T
    assert (lanes >= 0).all() and (fences >= 0).all() and (car >= 0).all() and (speed >= 0).all()
    assert (np.abs(heading) <= HORIZON).all() and (car <= HORIZON).all()
    assert phi.std(axis=0).min() > 0  # every feature varies over the pool
    with pytest.raises(DrivingError, match="other_states must be of shape"):
        features(rollout(np.zeros((3, 2))), other_car_states(5))


def test_feature_scale_is_the_std_over_random_controls():
    phi = trajectory_features(random_controls(20_000, np.random.default_rng(0)))  # as FEATURE_SCALE was measured
    np.testing.assert_allclose(phi.std(axis=0), FEATURE_SCALE, rtol=0.05)
    np.testing.assert_allclose(scale_features(phi).std(axis=0), 1.0, rtol=0.1)


def test_true_weights_are_unit_norm_with_the_documented_signs():
    assert np.linalg.norm(W_TRUE) == pytest.approx(1.0)
    np.testing.assert_array_equal(np.sign(W_TRUE), [1, -1, 1, -1, -1])  # lanes, fences, heading, car, speed


# ---------------------------------------------------------------------- the environment
def test_gymnasium_env_checker_passes_and_the_id_is_registered():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(gymnasium.make(ENV_ID).unwrapped)
    assert isinstance(gymnasium.make(ENV_ID).unwrapped, DrivingEnv)


def test_episode_return_is_w_dot_scaled_features_of_the_rollout():
    env = DrivingEnv()
    controls = random_controls(1, np.random.default_rng(3))[0]
    obs, info = env.reset(seed=0)
    assert obs.shape == (8,) and obs.dtype == np.float32 and info == {"t": 0}
    np.testing.assert_allclose(obs, np.concatenate([ROBOT_START, OTHER_START]), rtol=1e-6)
    total, done, t = 0.0, False, 0
    while not done:
        obs, r, terminated, truncated, info = env.step(controls[t].astype(np.float32))
        total, done, t = total + r, terminated or truncated, t + 1
        assert not terminated
    assert t == HORIZON and truncated
    np.testing.assert_allclose(obs[4:], other_car_states()[-1], rtol=1e-6)
    states = rollout(controls.astype(np.float32).astype(np.float64))
    np.testing.assert_allclose(obs[:4], states[-1], rtol=1e-5, atol=1e-6)
    assert total == pytest.approx(float(W_TRUE @ scale_features(features(states))), rel=1e-9)
    with pytest.raises(DrivingError, match="after the episode ended"):
        env.step(np.zeros(2))


def test_reset_with_the_same_seed_gives_the_same_episode():
    controls = random_controls(1, np.random.default_rng(4))[0]

    def episode(seed):
        env = DrivingEnv(start_noise=0.05)
        out = [env.reset(seed=seed)[0]]
        out += [env.step(u)[0] for u in controls]
        return np.array(out)

    np.testing.assert_array_equal(episode(7), episode(7))
    assert not np.array_equal(episode(7)[0], episode(8)[0])
    np.testing.assert_array_equal(DrivingEnv().reset(seed=1)[0], DrivingEnv().reset(seed=2)[0])  # no noise: fixed start
    obs, _ = DrivingEnv().reset(options={"state": (0.1, 0.0, 1.5, 0.3)})
    np.testing.assert_allclose(obs[:4], [0.1, 0.0, 1.5, 0.3], rtol=1e-6)


@pytest.mark.parametrize("action", [np.zeros(3), np.zeros((1, 2)), np.array([np.nan, 0.0]), 0.5])
def test_bad_action_gets_a_clear_error(action):
    env = DrivingEnv()
    env.reset(seed=0)
    with pytest.raises(OrlkitError, match=r"action must be 2 finite numbers \(steer, accel\)"):
        env.step(action)


def test_bad_constructor_arguments_and_step_before_reset():
    with pytest.raises(DrivingError, match="weights must be 5 finite numbers"):
        DrivingEnv(weights=np.ones(4))
    with pytest.raises(DrivingError, match="horizon must be positive"):
        DrivingEnv(horizon=0)
    with pytest.raises(DrivingError, match="before reset"):
        DrivingEnv().step(np.zeros(2))
    with pytest.raises(DrivingError, match=r"options\['state'\]"):
        DrivingEnv().reset(options={"state": (0.0, 0.0)})
