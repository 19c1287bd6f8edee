"""Sadigh et al.'s driving world: a robot car on a 3-lane road next to one scripted car.

The task of "Active Preference-Based Learning of Reward Functions" (Sadigh, Dragan, Sastry,
Seshia, RSS 2017; code: dsadigh/driving-preferences, ``world.py``/``dynamics.py``), in NumPy.
A person compares two trajectories of the robot car; the reward is linear in trajectory
features, ``R(τ) = w · φ(τ)``, and :mod:`orlkit.rewards.queries` learns ``w`` from the answers.

Dynamics (Euler, ``dt`` = 0.2)
    State ``s = (x, y, θ, v)``, control ``u = (u₁, u₂)`` = (steer, accel) ∈ [−2, 2] × [−1, 1]::

        ẋ = v cos θ,   ẏ = v sin θ,   θ̇ = v · u₁,   v̇ = u₂ − v        s_{t+1} = s_t + dt · ṡ(s_t, u_t)

    (``v̇ = u₂ − v``: friction 1, so a constant ``u₂`` drives the speed to ``u₂``.) Controls
    outside the box are clipped to it, in :func:`rollout` and in :meth:`DrivingEnv.step` alike.

The road
    The road runs along +y (heading ``θ = π/2``); ``x`` is across it, positive to the right.
    Three lanes of width 0.13 are centred at ``x ∈ {−0.13, 0, 0.13}``; the fences sit at
    ``x = ±0.26`` (Sadigh's ``lane.shifted(±2)``). The robot starts at :data:`ROBOT_START`
    ``(0, 0, π/2, 0.5)``: middle lane, half the target speed. The other car (:data:`OTHER_START`)
    starts 0.3 ahead in the right lane at speed 0.5, which it keeps; after two steps it cuts into
    the middle lane (3 steps steering left, 3 right, :func:`other_car_controls`) and is there from
    t ≈ 8 on. A robot that speeds straight ahead meets it at about t = 7; braking, or swerving into
    the left lane, avoids it. The other car is part of the scene, not an agent.

Features (summed over the states after each control, ``t = 1 … T``, as Sadigh's ``Feature.total``)
    ``φ(τ) = Σ_t f(s_t, o_t)`` with ``o_t`` the other car's state, ``f`` =

    0. ``lanes``   ``Σ_lanes exp(−(x − c)² / (2σ²))``, σ = 0.13/4: 1 on a lane centre, 0.27 between two.
    1. ``fences``  the same Gaussian around each fence (``c = ±0.26``): ≈ 0 on the road, 1 on a fence.
    2. ``heading`` ``sin θ``, the heading's alignment with the road direction (0, 1): 1 when driving along it.
    3. ``car``     ``exp(−½ (d_h²/0.07² + d_w²/0.03²))``, the robot's offset from the other car in the
                   other car's frame (``d_h`` along its heading, ``d_w`` across): 1 at a collision.
    4. ``speed``   ``(v − 1)²``, the squared deviation from the target speed 1.

Reward and the true weights
    ``R(τ) = w · φ̃(τ)`` with ``φ̃ = φ / FEATURE_SCALE`` (:func:`scale_features`), the per-feature
    std of φ over random piecewise-constant controls, so that a unit of weight means about as much
    for every feature (only φ(A) − φ(B) enters a preference, so no mean is subtracted).
    :data:`W_TRUE` ``w* = (0.4, −0.4, 0.4, −0.6, −0.4)`` (unit norm): keep to a lane centre (+),
    keep off the fences (−), point along the road (+), keep away from the other car (−, the
    largest), drive at speed 1 (−). The best of 20 000 random control sequences under w* stays in
    the middle lane at speed ≈ 0.5 behind the merging car; the worst runs into it.

Deviations from Sadigh et al.
    - Sadigh samples both cars' start states and optimises the other car's controls per query;
      here the scene is fixed (:data:`ROBOT_START`, the scripted other car), so a query is a pair
      of control sequences from the same start.
    - Horizon :data:`HORIZON` = 10 steps (2 s) instead of 5: in 1 s no random control sequence
      comes near the other car (std of ``car`` over 20 000 of them: 0.001 with 5 steps, 0.115
      with 10) and 1% get near a fence (28% with 10); with a fixed scene those two weights could
      not be learned.
    - Features are divided by fixed scales (:data:`FEATURE_SCALE`), as APReL's examples
      standardise theirs; Sadigh rescales ψ = φ(A) − φ(B) to ``‖ψ‖ ≤ 1`` instead.
    - ``rollout`` and the env clip controls to the box instead of handing the bounds to L-BFGS.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from orlkit.errors import OrlkitError

ENV_ID = "orlkit/Driving-v0"
DT = 0.2  # dt (s)
HORIZON = 10  # T: controls per trajectory (Sadigh: 5; see the module doc)
FRICTION = 1.0  # v̇ = u₂ − FRICTION · v
CONTROL_LOW = np.array([-2.0, -1.0])  # (steer, accel) lower bounds
CONTROL_HIGH = np.array([2.0, 1.0])
LANE_WIDTH = 0.13
LANE_CENTERS = (-LANE_WIDTH, 0.0, LANE_WIDTH)  # x of the three lane centres
FENCE_CENTERS = (-2 * LANE_WIDTH, 2 * LANE_WIDTH)  # x of the two fences
LANE_SIGMA = 0.5 * LANE_WIDTH / 2  # Sadigh's Lane.gaussian(width=0.5): σ = 0.5 · w / 2
CAR_SIGMA = (0.07, 0.03)  # (along, across) the other car's heading: Sadigh's car_gaussian(height, width)
TARGET_SPEED = 1.0
FEATURE_NAMES = ("lanes", "fences", "heading", "car", "speed")
N_FEATURES = len(FEATURE_NAMES)
ROBOT_START = np.array([0.0, 0.0, math.pi / 2, 0.5])  # (x, y, θ, v): middle lane, half speed
OTHER_START = np.array([LANE_WIDTH, 0.3, math.pi / 2, 0.5])  # right lane, 0.3 ahead, speed 0.5
OTHER_MERGE_STEP = 2  # the other car holds its lane this many steps, then cuts into the middle lane
OTHER_MERGE_STEER = 1.5  # u₁ of the cut-in: 3 steps left (+), 3 steps right (−)
# The std of each feature over 20 000 random_controls(n, default_rng(0)) sequences (T = 10), rounded: the reward
# is w · φ / FEATURE_SCALE, so that one unit of weight means about as much for every feature.
FEATURE_SCALE = np.array([2.2, 0.76, 1.1, 0.12, 4.7])
W_TRUE = np.array([0.4, -0.4, 0.4, -0.6, -0.4])  # w*, unit norm (0.16·4 + 0.36 = 1); order FEATURE_NAMES


class DrivingError(OrlkitError, ValueError):
    """Bad input to the driving world: names the argument, the shape or value expected and what came."""


# ---------------------------------------------------------------------- dynamics
def dynamics_step(states: np.ndarray, controls: np.ndarray, dt: float = DT) -> np.ndarray:
    """One Euler step ``s + dt · ṡ(s, u)`` for states (..., 4) and controls (..., 2) (clipped to the box)."""
    u = np.clip(controls, CONTROL_LOW, CONTROL_HIGH)
    x, y, theta, v = np.moveaxis(states, -1, 0)
    deriv = np.stack([v * np.cos(theta), v * np.sin(theta), v * u[..., 0], u[..., 1] - FRICTION * v], axis=-1)
    return states + dt * deriv


def rollout(controls: np.ndarray, x0: np.ndarray | None = None, dt: float = DT) -> np.ndarray:
    """States (..., T+1, 4) of control sequences (..., T, 2) from ``x0`` (4,) or (..., 4); default :data:`ROBOT_START`.

    Vectorised over any leading batch dimensions; ``states[..., 0, :]`` is ``x0``.
    """
    controls = np.asarray(controls, dtype=np.float64)
    if controls.ndim < 2 or controls.shape[-1] != 2 or not np.isfinite(controls).all():
        raise DrivingError(f"controls must be finite of shape (..., T, 2) (steer, accel), got shape {controls.shape}")
    x0 = ROBOT_START if x0 is None else np.asarray(x0, dtype=np.float64)
    if x0.shape[-1:] != (4,) or not np.isfinite(x0).all():
        raise DrivingError(f"x0 must be a finite state (x, y, θ, v) of shape (4,) or (..., 4), got shape {x0.shape}")
    batch = controls.shape[:-2]
    states = np.empty((*batch, controls.shape[-2] + 1, 4))  # (..., T+1, 4)
    states[..., 0, :] = np.broadcast_to(x0, (*batch, 4))
    for t in range(controls.shape[-2]):
        states[..., t + 1, :] = dynamics_step(states[..., t, :], controls[..., t, :], dt)
    return states


def other_car_controls(horizon: int = HORIZON) -> np.ndarray:
    """(T, 2) scripted controls of the other car: speed 0.5 throughout; after
    :data:`OTHER_MERGE_STEP` steps in the right lane it steers left for 3 steps and right for 3,
    which moves it into the middle lane (it ends within 0.01 of ``x = 0``), then drives straight."""
    u = np.zeros((horizon, 2))
    u[:, 1] = OTHER_START[3]  # v̇ = 0.5 − v = 0: constant speed
    k = OTHER_MERGE_STEP
    u[k:k + 3, 0] = OTHER_MERGE_STEER  # θ̇ > 0: turn towards −x (left)
    u[k + 3:k + 6, 0] = -OTHER_MERGE_STEER
    return u


def other_car_states(horizon: int = HORIZON) -> np.ndarray:
    """(T+1, 4) states of the other car's scripted path."""
    return rollout(other_car_controls(horizon), OTHER_START)


# ---------------------------------------------------------------------- features
def step_features(states: np.ndarray, other_states: np.ndarray) -> np.ndarray:
    """Per-state features f (..., 5) of robot states (..., 4) next to other-car states (broadcastable, 4)."""
    x, _, theta, v = np.moveaxis(states, -1, 0)
    lanes = sum(np.exp(-0.5 * ((x - c) / LANE_SIGMA) ** 2) for c in LANE_CENTERS)
    fences = sum(np.exp(-0.5 * ((x - c) / LANE_SIGMA) ** 2) for c in FENCE_CENTERS)
    heading = np.sin(theta)  # cos θ · 0 + sin θ · 1: alignment with the road direction (0, 1)
    ox, oy, oth = other_states[..., 0], other_states[..., 1], other_states[..., 2]
    dx, dy = x - ox, states[..., 1] - oy
    d_h = np.cos(oth) * dx + np.sin(oth) * dy  # along the other car's heading
    d_w = -np.sin(oth) * dx + np.cos(oth) * dy  # across it
    car = np.exp(-0.5 * ((d_h / CAR_SIGMA[0]) ** 2 + (d_w / CAR_SIGMA[1]) ** 2))
    speed = (v - TARGET_SPEED) ** 2
    return np.stack(np.broadcast_arrays(lanes, fences, heading, car, speed), axis=-1)


def features(states: np.ndarray, other_states: np.ndarray | None = None) -> np.ndarray:
    """Trajectory features φ (..., 5) = Σ_{t=1..T} f(s_t, o_t) of robot states (..., T+1, 4).

    ``other_states`` (T+1, 4) or (..., T+1, 4) is the other car's path; default its scripted path
    :func:`other_car_states` for the same T. The start state ``s_0`` is not counted (it is the same
    for every trajectory of a query). Order: :data:`FEATURE_NAMES`.
    """
    states = np.asarray(states, dtype=np.float64)
    if states.ndim < 2 or states.shape[-1] != 4 or states.shape[-2] < 2:
        raise DrivingError(f"states must be of shape (..., T+1, 4) with T >= 1, got shape {states.shape}")
    horizon = states.shape[-2] - 1
    other = other_car_states(horizon) if other_states is None else np.asarray(other_states, dtype=np.float64)
    if other.shape[-2:] != (horizon + 1, 4):
        raise DrivingError(f"other_states must be of shape (..., {horizon + 1}, 4) like states, got shape "
                           f"{other.shape}")
    return step_features(states[..., 1:, :], other[..., 1:, :]).sum(axis=-2)


def scale_features(phi: np.ndarray) -> np.ndarray:
    """φ / :data:`FEATURE_SCALE`: the features the reward weights multiply, ``R(τ) = w · scale_features(φ(τ))``."""
    return np.asarray(phi, dtype=np.float64) / FEATURE_SCALE


def trajectory_features(controls: np.ndarray, x0: np.ndarray | None = None) -> np.ndarray:
    """Raw φ (..., 5) of control sequences (..., T, 2) from ``x0`` next to the scripted other car."""
    return features(rollout(controls, x0))


def random_controls(n: int, rng: np.random.Generator, horizon: int = HORIZON, segments: int = 2) -> np.ndarray:
    """(n, T, 2) piecewise-constant control sequences: the horizon is cut into ``segments`` near-equal
    pieces, each holding one control drawn uniformly from the box (``segments = T``: i.i.d. steps).

    Piecewise-constant controls change lanes, brake or reach the target speed; i.i.d. uniform
    steps average out to creeping straight ahead at low speed, so their features barely vary.
    """
    if n < 1 or horizon < 1 or not 1 <= segments <= horizon:
        raise DrivingError(f"need n >= 1, horizon >= 1 and 1 <= segments <= horizon; got n={n}, horizon={horizon}, "
                           f"segments={segments}")
    held = rng.uniform(CONTROL_LOW, CONTROL_HIGH, size=(n, segments, 2))
    piece = np.arange(horizon) * segments // horizon  # (T,) which segment each step belongs to
    return held[:, piece, :]


# ---------------------------------------------------------------------- the environment
class DrivingEnv(gymnasium.Env):
    """The robot car of the driving world, one control per step (see module doc).

    Observation (float32, 8): the robot's state ``(x, y, θ, v)`` then the other car's.
    Action: ``(steer, accel)`` in ``Box([−2, −1], [2, 1])`` (clipped). Reward per step:
    ``w · f(s_{t+1}, o_{t+1}) / FEATURE_SCALE``, so an episode's return is ``w · scale_features(φ(τ))``
    exactly (``info["features"]`` holds the raw ``f``). The episode is cut after ``horizon`` steps
    (``truncated=True``); it never terminates.

    Args:
        horizon: T, steps per episode.
        weights: w, the reward weights (5,); default :data:`W_TRUE`.
        start_noise: the start state is :data:`ROBOT_START` plus ``U(−start_noise, start_noise)``
            per component (from the env's seeded ``np_random``); 0 keeps Sadigh's fixed start.
        render_mode: only ``None``.
    """

    metadata = {"render_modes": []}

    def __init__(self, horizon: int = HORIZON, weights: np.ndarray | None = None, start_noise: float = 0.0,
                 render_mode: str | None = None):
        if horizon < 1:
            raise DrivingError(f"horizon must be positive, got {horizon}")
        w = W_TRUE if weights is None else np.asarray(weights, dtype=np.float64)
        if w.shape != (N_FEATURES,) or not np.isfinite(w).all():
            raise DrivingError(f"weights must be {N_FEATURES} finite numbers {FEATURE_NAMES}, got shape {w.shape}")
        if not start_noise >= 0:
            raise DrivingError(f"start_noise must be >= 0, got {start_noise}")
        if render_mode is not None:
            raise DrivingError(f"DrivingEnv has no render modes, got render_mode={render_mode!r}")
        self.horizon, self.weights, self.start_noise, self.render_mode = int(horizon), w.copy(), start_noise, None
        self.other_path = other_car_states(self.horizon)  # (T+1, 4)
        self.observation_space = spaces.Box(-np.inf, np.inf, (8,), dtype=np.float32)
        self.action_space = spaces.Box(CONTROL_LOW.astype(np.float32), CONTROL_HIGH.astype(np.float32),
                                       dtype=np.float32)
        self.state = ROBOT_START.copy()
        self._t = 0
        self._done = True

    def _obs(self) -> np.ndarray:
        return np.concatenate([self.state, self.other_path[self._t]]).astype(np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start at :data:`ROBOT_START` (plus ``start_noise``); ``options={"state": (x, y, θ, v)}`` starts elsewhere."""
        super().reset(seed=seed)
        options = options or {}
        if "state" in options:
            state = np.asarray(options["state"], dtype=np.float64)
            if state.shape != (4,) or not np.isfinite(state).all():
                raise DrivingError(f"options['state'] must be a finite (x, y, θ, v), got {options['state']!r}")
        else:
            state = ROBOT_START + self.np_random.uniform(-self.start_noise, self.start_noise, 4)
        self.state, self._t, self._done = state.copy(), 0, False
        return self._obs(), {"t": 0}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._done:
            raise DrivingError("DrivingEnv.step called before reset() or after the episode ended")
        a = np.asarray(action, dtype=np.float64)
        if a.shape != (2,) or not np.isfinite(a).all():
            raise DrivingError(f"action must be 2 finite numbers (steer, accel) of shape (2,), got shape {a.shape}: "
                               f"{action!r}")
        self.state = dynamics_step(self.state, a)
        self._t += 1
        f = step_features(self.state, self.other_path[self._t])  # (5,)
        self._done = self._t >= self.horizon
        return self._obs(), float(self.weights @ scale_features(f)), False, self._done, {"t": self._t, "features": f}


if ENV_ID not in gymnasium.registry:
    # The env counts its own steps (horizon); no TimeLimit wrapper on top of it.
    gymnasium.register(id=ENV_ID, entry_point=DrivingEnv, max_episode_steps=None)
