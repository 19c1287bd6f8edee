"""CartPole-v1, Acrobot-v1 and Pendulum-v1 datasets of graded quality, from scripted controllers.

The expert controllers are two-line feedback laws:

- CartPole: push right when θ + 0.5·θ̇ + 0.1·x + 0.2·ẋ > 0 (a PD law on the pole angle with weak
  cart centring); it balances for the full 500 steps from every start we tried.
- Acrobot: torque +1 when the second joint's velocity θ̇₂ > 0, else −1 (energy pumping); mean
  return about −82.
- Pendulum: energy pumping far from upright, a PD law near it (:func:`pendulum_expert`); mean
  return about −137 (uniform random: about −1220). Actions are stored on orlkit's [-1, 1] scale.

Qualities: ``random`` (uniform actions), ``medium`` (the expert with probability ε of a random
action per step: 0.5 for CartPole, 0.8 for Acrobot, 0.6 for Pendulum, which lands near a third
to a half of the expert's return), ``expert`` (ε = 0.05), ``replay`` (ε decays linearly from 1 to 0 over the
dataset, like the replay buffer of a learner), ``random-expert`` (half random episodes, half
expert: the mix on which %BC beats BC).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from orlkit.data.collect import collect
from orlkit.data.dataset import TransitionDataset


def cartpole_expert(obs: np.ndarray) -> int:
    x, x_dot, theta, theta_dot = obs
    return int(theta + 0.5 * theta_dot + 0.1 * x + 0.2 * x_dot > 0)


def acrobot_expert(obs: np.ndarray) -> int:
    return 2 if obs[5] > 0 else 0


def pendulum_expert(obs: np.ndarray) -> np.ndarray:
    """Energy pumping far from upright, a PD law near it. Torque in orlkit's [-1, 1] scale (env: ×2).

    The pendulum's θ̈ = 15·sin θ + 3u conserves E = ½θ̇² + 15·cos θ without torque; upright at rest
    E* = 15. Below E*, push with the motion (u = 2·sign θ̇); near the top, u = −(12θ + 2.5θ̇).
    """
    c, s, w = obs
    theta = np.arctan2(s, c)
    if c > 0.85:
        u = -(12.0 * theta + 2.5 * w)
    else:
        energy = 0.5 * w * w + 15.0 * c
        u = 2.0 * (1.0 if w >= 0 else -1.0) * (1.0 if energy < 15.0 else -0.3)
    return np.clip(np.array([u / 2.0], dtype=np.float32), -1.0, 1.0)


CONTROLLERS = {"CartPole-v1": (cartpole_expert, 0.5), "Acrobot-v1": (acrobot_expert, 0.8),
               "Pendulum-v1": (pendulum_expert, 0.6)}

QUALITIES: dict[str, Callable[[float, float], float]] = {
    # quality → ε(progress, medium_eps)
    "random": lambda progress, medium: 1.0,
    "medium": lambda progress, medium: medium,
    "expert": lambda progress, medium: 0.05,
    "replay": lambda progress, medium: 1.0 - progress,
    "random-expert": lambda progress, medium: 1.0 if progress < 0.5 else 0.05,
}


def make_classic_dataset(env_id: str, quality: str, n_transitions: int = 100_000, seed: int = 0
                         ) -> TransitionDataset:
    """A dataset of ``quality`` (see the module docstring) for CartPole-v1 or Acrobot-v1."""
    controller, medium_eps = CONTROLLERS[env_id]
    schedule = QUALITIES[quality]
    return collect(env_id, controller, n_transitions, seed,
                   epsilon=lambda progress: schedule(progress, medium_eps),
                   meta={"behavior": f"scripted expert, quality {quality}"})
