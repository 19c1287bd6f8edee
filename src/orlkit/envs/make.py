"""Making evaluation environments and normalising their returns."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from orlkit.errors import OrlkitError

# Reference returns for normalized_score = 100·(return − random)/(expert − random), as D4RL does.
# CartPole/Acrobot: "random" is the mean episode return of the uniform random policy in the
# cartpole-random / acrobot-random datasets (4485 / 201 episodes, `orlkit data info NAME`), "expert" the best return
# the task allows (CartPole: 500) or the noise-free scripted expert's mean over 20 episodes (Acrobot).
# D4RL numbers: REFERENCES.md.
REFERENCE_RETURNS: dict[str, tuple[float, float]] = {
    "CartPole-v1": (22.3, 500.0),
    "Acrobot-v1": (-497.5, -82.0),
    # Pendulum: uniform random actions and the scripted swing-up + PD expert (data/classic.py), 20 episodes each.
    "Pendulum-v1": (-1220.3, -137.4),
    # D4RL's reference returns (random, expert) for the MuJoCo locomotion tasks, used for every version of
    # the env so scores read like the papers' (D4RL measured them on the -v2 envs; v5 has the same dynamics).
    **{f"{name}-v{v}": ref for name, ref in (("Hopper", (-20.272305, 3234.3)),
                                            ("HalfCheetah", (-280.178953, 12135.0)),
                                            ("Walker2d", (1.629008, 4592.3))) for v in (2, 3, 4, 5)},
}


def _mujoco_warning(msg: str) -> None:
    """MuJoCo's warning handler: never raises (it runs inside a C callback, where an exception, e.g. from
    ``-W error``, would abort the process); falls back to stderr."""
    import sys
    import warnings

    try:
        warnings.warn(f"MuJoCo: {msg}", RuntimeWarning, stacklevel=1)
    except BaseException:  # noqa: BLE001
        print(f"MuJoCo warning: {msg}", file=sys.stderr)


def _route_mujoco_warnings() -> None:
    """Send MuJoCo's warnings to Python's ``warnings`` (shown once per message) instead of its default, which
    also appends them to ``MUJOCO_LOG.TXT`` in the working directory (gymnasium's half_cheetah.xml triggers a
    deprecation warning on every load with MuJoCo >= 3.3). A handler someone else installed is left alone."""
    try:
        import mujoco
    except ImportError:
        return
    if mujoco.get_mju_user_warning() is None:
        mujoco.set_mju_user_warning(_mujoco_warning)


def make_env(env_id: str, env_kwargs: dict[str, Any] | None = None, render_mode: str | None = None) -> gym.Env:
    """``gymnasium.make`` with orlkit's environments registered and a clear error for unknown ids.

    A continuous action space whose bounds are not [-1, 1] (Pendulum's ±2) is rescaled to [-1, 1]
    with gymnasium's ``RescaleAction``: orlkit's policies and datasets use that scale.
    """
    import orlkit.envs  # noqa: F401  (registers orlkit/... ids)

    try:
        uses_mujoco = "mujoco" in str(gym.spec(env_id).entry_point)
    except gym.error.Error:
        uses_mujoco = False  # unknown id: gym.make below says so
    if uses_mujoco:
        _route_mujoco_warnings()
    try:
        env = gym.make(env_id, render_mode=render_mode, **(env_kwargs or {}))
    except gym.error.Error as e:
        raise OrlkitError(f"cannot make environment '{env_id}': {e}") from None
    space = env.action_space
    if isinstance(space, gym.spaces.Box) and not (np.all(space.low == -1.0) and np.all(space.high == 1.0)):
        # orlkit's continuous policies act in [-1, 1]^d; datasets store actions on that scale too.
        ones = np.ones(space.shape, dtype=np.float32)
        env = gym.wrappers.RescaleAction(env, -ones, ones)
    return env


def normalized_score(env_id: str, episode_return: float) -> float | None:
    """100·(return − random)/(expert − random) where reference returns are known, else None."""
    ref = REFERENCE_RETURNS.get(env_id)
    if ref is None:
        return None
    lo, hi = ref
    return 100.0 * (episode_return - lo) / (hi - lo)
