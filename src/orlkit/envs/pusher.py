"""A 2D block-pushing task: "put the pencil case behind the notebook" (the lecture's goal-classifier example).

A round pusher (the agent) moves a round block on a table with a notebook (a wall) lying across
it. The block starts in front of the notebook; the goal is the region right behind it, so the
block has to be pushed around the notebook's free end. The env's own reward is 0 everywhere: the
task is specified by *examples* (:func:`success_examples`) and a learned goal classifier
(``orlkit.rewards.goal_classifier``) is the reward.

The table (world coordinates = observation coordinates, the square ``[-1, 1]²``)::

    y ↑   +---------------------------+
          |        ( G )              |     G  goal: block centre within GOAL_RADIUS of GOAL_CENTER
          |                           |
          |===============o   ←  the wall's free end at x = WALL_X1
          |        [ b ]              |     b  block start (GOAL_CENTER mirrored across the wall)
          |              p            |     p  pusher start
          +---------------------------+ → x

    The wall is the segment from ``(-1, 0)`` (it touches the table's left edge) to ``(WALL_X1, 0)``,
    thickened by ``WALL_HALF`` on each side. The goal is behind it: the only way there is around
    its right end.

Physics (NumPy/float64, kinematic, quasi-static: nothing moves unless pushed)
    Action ``a ∈ [-1, 1]²`` is the pusher's velocity: one step moves it by ``STEP · a``. Then

    1. the pusher is clamped to the table and pushed out of the wall (it slides along it);
    2. if the pusher overlaps the block, the block is moved along the contact normal (pusher
       centre → block centre) until they touch; the block is clamped to the table and pushed out
       of the wall;
    3. if the block could not move far enough (wall or table edge), the pusher is pushed back out
       of the block. Steps 2–3 repeat up to three times; if the discs still overlap (the block
       jammed in a corner), the step is undone: neither moves.

    ``STEP`` (0.06) is below both discs' radius plus the wall's half-thickness, so neither can
    tunnel through the wall in one step.

Observation (float32, shape (4,), every entry in ``[-1, 1]``)
    ``[pusher_x, pusher_y, block_x, block_y]``. No velocities: the dynamics are kinematic.

Episode
    Reset: the pusher at ``PUSHER_START + U(-0.1, 0.1)²``, the block at ``BLOCK_START + U(-0.08, 0.08)²``
    (``options={"pusher": (x, y), "block": (x, y)}`` starts elsewhere). Reward 0.0 on every step;
    ``info["success"]`` says whether the block is in the goal region and ``info["true_reward"]`` is
    the sparse ``float(success)`` (for evaluation only). The episode never terminates: after
    ``max_steps`` (100) steps it is truncated. An episode *succeeds* when its last state is a success.

Examples
    :func:`success_examples` are the final states of successful scripted demonstrations (the block
    within ``DONE_RADIUS`` of the goal centre, the pusher resting beside it); :func:`failure_examples`
    are random legal states whose block is not in the goal region — anywhere on the table
    (``region="table"``) or only in front of the wall (``region="front"``, the unsolved task).

States a naive policy reaches that a frozen classifier likes, but that are not successes
    (:func:`decoy_states`; "frozen": trained once on 50 success examples against 300 failures, then
    never updated — measured with the default 2×256 MLP, Adam 1e-3, 1000 steps, one seed)
    * ``near_miss``: the block just outside the goal region, the pusher where the demonstrator's
      rests: p > ½ for ~60–70 % of them with ``region="table"`` failures, ~100 % with ``"front"``;
    * ``behind``: the block anywhere behind the wall outside the goal: with ``"front"`` failures
      (never shown such a state) p > ½ for ~25 % (mixup on) to ~65 % (mixup off) of them;
    * ``wrong_side``: the block pushed straight up against the wall under the goal — close to it in
      the plane, on the wrong side of the notebook: p ≈ 0.4–0.5 with mixup, a local optimum of the
      reward on the direct path, far above the p ≈ 0.1 of typical failures.
    An RL policy optimising a frozen classifier can settle in them (the lecture's "exploiting the
    classifier"); VICE adds the states the policy visits to the negatives.

The demonstrator (:func:`scripted_action`)
    A Markov function of the observation. The block's next waypoint depends on where the block is
    (:func:`block_waypoint`): below the wall and left of ``PASS_X`` → ``(CORNER_X, -0.15)`` in front of
    the wall's end; below the wall, right of it → ``(CORNER_X, 0.3)`` beside the end; behind the wall
    but below ``ABOVE_Y`` → straight up; above ``ABOVE_Y`` → the goal centre.
    To push the block towards a waypoint along the unit direction ``d`` the pusher stands at
    ``block − d·(r_p + r_b)`` and moves along ``d``; when it is elsewhere it first walks there, around the
    block on a circle. Once the block is within ``DONE_RADIUS`` of the goal centre the pusher backs
    away and stays still. :func:`make_demos` runs it with Gaussian action noise. Measured: 50 of 50
    episodes succeed at noise 0, 0.1, 0.2 and 0.3 (the block first reaches the goal at step 37–45
    of 100 at noise 0.1); a uniform random policy succeeds in 0 of 200 episodes.

Importing this module registers ``orlkit/Pusher-v0`` with Gymnasium.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from orlkit.data.dataset import TransitionDataset
from orlkit.errors import OrlkitError

ENV_ID = "orlkit/Pusher-v0"

STEP = 0.06  # pusher displacement of a unit action per step
PUSHER_RADIUS = 0.05  # r_p
BLOCK_RADIUS = 0.08  # r_b
WALL_Y, WALL_X0, WALL_X1 = 0.0, -1.0, 0.1  # the wall: segment (WALL_X0, WALL_Y) – (WALL_X1, WALL_Y)
WALL_HALF = 0.02  # half thickness of the wall
GOAL_CENTER = (-0.35, 0.4)
GOAL_RADIUS = 0.15  # success: block centre within this distance of GOAL_CENTER
PUSHER_START = (0.0, -0.8)
BLOCK_START = (-0.35, -0.4)  # GOAL_CENTER mirrored across the wall
PUSHER_START_NOISE, BLOCK_START_NOISE = 0.1, 0.08
WRONG_SIDE = (-0.35, WALL_Y - WALL_HALF - BLOCK_RADIUS)  # the block pushed straight up against the wall
MAX_STEPS = 100

# the scripted demonstrator
PASS_X = 0.25  # below the wall, a block right of this can be pushed straight up past the wall's end
CORNER_X = 0.34  # x of the two corner waypoints beside the wall's end
ABOVE_Y = 0.2  # a block above this is clear of the wall and goes straight to the goal
DONE_RADIUS = 0.06  # the demonstrator stops pushing once the block is this close to the goal centre


# ---------------------------------------------------------------------- geometry and physics
def _clamp(v: float, r: float) -> float:
    """A coordinate of a disc of radius r kept on the table [-1, 1]."""
    return min(max(v, -1.0 + r), 1.0 - r)


def _out_of_wall(x: float, y: float, r: float) -> tuple[float, float]:
    """The disc (x, y, r) pushed out of the wall along the normal from the wall's closest point."""
    qx = min(max(x, WALL_X0), WALL_X1)
    dx, dy = x - qx, y - WALL_Y
    dist = math.hypot(dx, dy)
    m = r + WALL_HALF
    if dist >= m:
        return x, y
    if dist < 1e-12:  # on the segment itself (never from a legal state): out on the near side
        dx, dy, dist = 0.0, -1.0, 1.0
    s = m / dist
    return qx + dx * s, WALL_Y + dy * s


def _place(x: float, y: float, r: float) -> tuple[float, float]:
    """On the table and out of the wall (the wall touches the left edge, so one pass suffices)."""
    return _out_of_wall(_clamp(x, r), _clamp(y, r), r)


def physics_step(pusher: tuple[float, float], block: tuple[float, float], action: tuple[float, float]
                 ) -> tuple[tuple[float, float], tuple[float, float]]:
    """One step of the kinematic pushing physics (see module doc) on plain floats."""
    px, py = _place(pusher[0] + STEP * action[0], pusher[1] + STEP * action[1], PUSHER_RADIUS)
    bx, by = block
    m = PUSHER_RADIUS + BLOCK_RADIUS
    for _ in range(3):
        dx, dy = bx - px, by - py
        dist = math.hypot(dx, dy)
        if dist >= m - 1e-9:
            break
        if dist < 1e-12:  # concentric (never from a legal state): push along the action
            norm = math.hypot(action[0], action[1]) or 1.0
            dx, dy, dist = action[0] / norm, action[1] / norm, 1.0
        bx, by = _place(px + dx / dist * m, py + dy / dist * m, BLOCK_RADIUS)
        dx, dy = px - bx, py - by
        dist = math.hypot(dx, dy)
        if dist < m - 1e-9:  # the block was stopped: the pusher is pushed back out of it
            dist = max(dist, 1e-12)
            px, py = _place(bx + dx / dist * m, by + dy / dist * m, PUSHER_RADIUS)
    if math.hypot(bx - px, by - py) < m - 1e-9:  # jammed against a wall or an edge: nothing moves
        return pusher, block
    return (px, py), (bx, by)


def is_success(obs: np.ndarray) -> np.ndarray:
    """(...) bool: the block (entries 2:4 of observations (..., 4)) lies in the goal region."""
    obs = np.asarray(obs, dtype=np.float64)
    if obs.shape[-1:] != (4,):
        raise OrlkitError(f"Pusher observations have 4 entries (pusher xy, block xy), got shape {obs.shape}")
    return np.hypot(obs[..., 2] - GOAL_CENTER[0], obs[..., 3] - GOAL_CENTER[1]) <= GOAL_RADIUS


def wall_distance(xy: np.ndarray) -> np.ndarray:
    """(...) distance of points (..., 2) from the wall's centre segment."""
    xy = np.asarray(xy, dtype=np.float64)
    qx = np.clip(xy[..., 0], WALL_X0, WALL_X1)
    return np.hypot(xy[..., 0] - qx, xy[..., 1] - WALL_Y)


def is_legal(obs: np.ndarray, tol: float = 1e-6) -> np.ndarray:
    """(...) bool: both discs on the table, out of the wall and not overlapping each other."""
    obs = np.asarray(obs, dtype=np.float64)
    p, b = obs[..., 0:2], obs[..., 2:4]
    on_table = (np.abs(p) <= 1 - PUSHER_RADIUS + tol).all(-1) & (np.abs(b) <= 1 - BLOCK_RADIUS + tol).all(-1)
    off_wall = ((wall_distance(p) >= PUSHER_RADIUS + WALL_HALF - tol)
                & (wall_distance(b) >= BLOCK_RADIUS + WALL_HALF - tol))
    apart = np.linalg.norm(p - b, axis=-1) >= PUSHER_RADIUS + BLOCK_RADIUS - tol
    return on_table & off_wall & apart


# ---------------------------------------------------------------------- the environment
class PusherEnv(gymnasium.Env):
    """Push the block around the wall's end into the goal region behind it (see module doc).

    Args:
        max_steps: episode length; the step that reaches it returns ``truncated=True``.
        render_mode: ``None`` or ``"ansi"`` (a 21×21 character drawing).
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 10}

    def __init__(self, max_steps: int = MAX_STEPS, render_mode: str | None = None):
        if max_steps < 1:
            raise OrlkitError(f"Pusher: max_steps must be positive, got {max_steps}")
        if render_mode not in (None, "ansi"):
            raise OrlkitError(f"Pusher: render_mode must be None or 'ansi', got {render_mode!r}")
        self.max_steps, self.render_mode = int(max_steps), render_mode
        self.observation_space = spaces.Box(-1.0, 1.0, (4,), dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)
        self.pusher = PUSHER_START
        self.block = BLOCK_START
        self._steps = 0
        self._reset_once = False

    def _obs(self) -> np.ndarray:
        return np.array([*self.pusher, *self.block], dtype=np.float32)

    def _info(self) -> dict[str, Any]:
        success = bool(is_success(self._obs()))
        return {"success": success, "true_reward": float(success)}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode; ``options={"pusher": (x, y), "block": (x, y)}`` sets either position."""
        super().reset(seed=seed)
        options = options or {}
        rng = self.np_random
        pusher = np.add(PUSHER_START, rng.uniform(-PUSHER_START_NOISE, PUSHER_START_NOISE, 2))
        block = np.add(BLOCK_START, rng.uniform(-BLOCK_START_NOISE, BLOCK_START_NOISE, 2))
        for name in ("pusher", "block"):
            if name in options:
                xy = np.asarray(options[name], dtype=np.float64)
                if xy.shape != (2,) or not np.isfinite(xy).all():
                    raise OrlkitError(f"Pusher.reset: options['{name}'] must be a finite (x, y), got {options[name]}")
                if name == "pusher":
                    pusher = xy
                else:
                    block = xy
        obs = np.concatenate([pusher, block])
        if not is_legal(obs):
            raise OrlkitError(f"Pusher.reset: pusher {tuple(pusher)} and block {tuple(block)} must lie on the "
                              "table, out of the wall and apart")
        self.pusher = (float(pusher[0]), float(pusher[1]))
        self.block = (float(block[0]), float(block[1]))
        self._steps, self._reset_once = 0, True
        return self._obs(), self._info()

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if not self._reset_once or self._steps >= self.max_steps:
            raise RuntimeError("Pusher.step called before reset() or after the episode ended")
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != (2,) or not np.isfinite(a).all():
            raise OrlkitError(f"Pusher.step: the action must be 2 finite numbers, got {action!r}")
        a = np.clip(a, -1.0, 1.0)
        self.pusher, self.block = physics_step(self.pusher, self.block, (float(a[0]), float(a[1])))
        self._steps += 1
        return self._obs(), 0.0, False, self._steps >= self.max_steps, self._info()

    def render(self) -> str | None:
        """``#`` wall, ``G`` goal region, ``b`` block, ``p`` pusher, on a 21×21 grid (y up)."""
        if self.render_mode != "ansi":
            return None
        n = 21
        coords = np.linspace(-1, 1, n)
        rows = []
        for y in coords[::-1]:
            row = []
            for x in coords:
                ch = "."
                if math.hypot(x - GOAL_CENTER[0], y - GOAL_CENTER[1]) <= GOAL_RADIUS:
                    ch = "G"
                if wall_distance(np.array([x, y])) <= WALL_HALF + 0.05:
                    ch = "#"
                if math.hypot(x - self.block[0], y - self.block[1]) <= BLOCK_RADIUS:
                    ch = "b"
                if math.hypot(x - self.pusher[0], y - self.pusher[1]) <= PUSHER_RADIUS + 0.03:
                    ch = "p"
                row.append(ch)
            rows.append("".join(row))
        return "\n".join(rows)


if ENV_ID not in gymnasium.registry:
    # The env counts its own steps (max_steps); no TimeLimit wrapper on top of it.
    gymnasium.register(id=ENV_ID, entry_point=PusherEnv, max_episode_steps=None)


# ---------------------------------------------------------------------- the scripted demonstrator
def block_waypoint(bx: float, by: float) -> tuple[float, float]:
    """Where the demonstrator pushes a block at (bx, by) next (see module doc)."""
    if by > ABOVE_Y:
        return GOAL_CENTER
    if by > WALL_Y:  # behind the wall but low: straight up first
        return bx, ABOVE_Y + 0.1
    if bx < PASS_X:
        return CORNER_X, -0.15
    return CORNER_X, ABOVE_Y + 0.1


def _towards(px: float, py: float, tx: float, ty: float) -> tuple[float, float]:
    """The action that moves the pusher to (tx, ty), at most one full step (per component)."""
    return (min(max((tx - px) / STEP, -1.0), 1.0), min(max((ty - py) / STEP, -1.0), 1.0))


def scripted_action(obs: np.ndarray, rng: np.random.Generator | None = None, noise: float = 0.0) -> np.ndarray:
    """The demonstrator's action (float32, (2,)) for one observation, plus ``N(0, noise²)`` per component."""
    px, py, bx, by = (float(v) for v in np.asarray(obs, dtype=np.float64).reshape(4))
    contact = PUSHER_RADIUS + BLOCK_RADIUS
    gx, gy = GOAL_CENTER
    if math.hypot(bx - gx, by - gy) <= DONE_RADIUS:  # done: back away from the block, then stay
        rx, ry = px - bx, py - by
        dist = math.hypot(rx, ry) or 1.0
        away = contact + 0.1
        a = _towards(px, py, bx + rx / dist * away, by + ry / dist * away) if dist < away else (0.0, 0.0)
    else:
        wx, wy = block_waypoint(bx, by)
        dx, dy = wx - bx, wy - by
        togo = math.hypot(dx, dy)
        dx, dy = dx / togo, dy / togo
        rx, ry = px - bx, py - by  # the pusher relative to the block
        along = rx * dx + ry * dy  # −contact when right behind the block
        lateral = -rx * dy + ry * dx
        if along < -0.6 * contact and abs(lateral) < 0.35 * contact:  # behind the block: push along d
            push = min(togo, STEP)
            a = _towards(px, py, bx - dx * contact + dx * push, by - dy * contact + dy * push)
        else:  # walk to the approach point behind the block, around it on a circle
            ring = contact + 0.05
            ax, ay = bx - dx * (contact + 0.02), by - dy * (contact + 0.02)
            cur, goal = math.atan2(ry, rx), math.atan2(-dy, -dx)
            turn = (goal - cur + math.pi) % (2 * math.pi) - math.pi
            if abs(turn) > math.pi / 4:  # not in front of the approach point yet: go around
                ang = cur + math.copysign(math.pi / 4, turn)
                ax, ay = bx + ring * math.cos(ang), by + ring * math.sin(ang)
            a = _towards(px, py, ax, ay)
    out = np.array(a, dtype=np.float64)
    if noise > 0:
        if rng is None:
            raise OrlkitError("scripted_action with noise > 0 needs an rng")
        out = out + rng.normal(0.0, noise, 2)
    return np.clip(out, -1.0, 1.0).astype(np.float32)


# ---------------------------------------------------------------------- data
def _rollout(env: PusherEnv, seed: int, policy_rng: np.random.Generator, noise: float
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One scripted episode: obs (T, 4), actions (T, 2), next_obs (T, 4), success (T,)."""
    obs, _ = env.reset(seed=seed)
    o, a, n, s = [], [], [], []
    done = False
    while not done:
        act = scripted_action(obs, policy_rng, noise)
        nxt, _, _, done, info = env.step(act)
        o.append(obs)
        a.append(act)
        n.append(nxt)
        s.append(info["success"])
        obs = nxt
    return np.array(o), np.array(a), np.array(n), np.array(s)


def _episode_seeds(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    env_seq, pol_seq = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(env_seq), np.random.default_rng(pol_seq)


def make_demos(n: int = 50, seed: int = 0, noise: float = 0.1, max_steps: int = MAX_STEPS) -> TransitionDataset:
    """``n`` scripted episodes (all of them, successful or not), ``n · max_steps`` rows.

    Rewards are the env's (0); ``terminals`` are all False and the last row of every episode is a
    timeout. The extra ``success`` holds ``info["success"]`` of each row's ``next_obs``; ``meta``
    holds ``success_rate`` (the fraction of episodes whose last state is a success).
    """
    if n < 1 or noise < 0:
        raise OrlkitError(f"make_demos: need n >= 1 and noise >= 0, got n={n}, noise={noise}")
    env = PusherEnv(max_steps=max_steps)
    seeds, rng = _episode_seeds(seed)
    parts = [_rollout(env, int(seeds.integers(2**31)), rng, noise) for _ in range(n)]
    obs, act, nxt, succ = (np.concatenate([p[i] for p in parts]) for i in range(4))
    timeouts = np.zeros(len(obs), dtype=bool)
    timeouts[np.cumsum([len(p[0]) for p in parts]) - 1] = True
    meta = {"env_id": ENV_ID, "env_kwargs": {"max_steps": max_steps}, "seed": seed, "noise": noise,
            "n_episodes": n, "success_rate": float(np.mean([p[3][-1] for p in parts])),
            "behavior": "scripted pusher demonstrator (pusher.scripted_action) with Gaussian action noise"}
    return TransitionDataset(obs, act, np.zeros(len(obs), np.float32), nxt, np.zeros(len(obs), bool), timeouts,
                             meta=meta, source="pusher:demos", extras={"success": succ})


def success_examples(n: int, seed: int = 0, noise: float = 0.1) -> np.ndarray:
    """(n, 4) float32: the final states of ``n`` successful scripted episodes (failed ones are skipped)."""
    if n < 1:
        raise OrlkitError(f"success_examples: n must be positive, got {n}")
    env = PusherEnv()
    seeds, rng = _episode_seeds(seed)
    out, tries = [], 0
    while len(out) < n:
        tries += 1
        if tries > 2 * n + 20:
            raise OrlkitError(f"success_examples: only {len(out)} of {tries} scripted episodes succeeded "
                              f"(noise={noise}); lower the noise")
        _, _, nxt, succ = _rollout(env, int(seeds.integers(2**31)), rng, noise)
        if succ[-1]:
            out.append(nxt[-1])
    return np.array(out, dtype=np.float32)


def random_states(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 4) float32 legal states (:func:`is_legal`), pusher and block uniform on the table."""
    out = np.empty((0, 4))
    while len(out) < n:
        p = rng.uniform(-1 + PUSHER_RADIUS, 1 - PUSHER_RADIUS, (2 * n, 2))
        b = rng.uniform(-1 + BLOCK_RADIUS, 1 - BLOCK_RADIUS, (2 * n, 2))
        cand = np.concatenate([p, b], axis=1)  # (2n, 4)
        out = np.concatenate([out, cand[is_legal(cand)]])
    return out[:n].astype(np.float32)


FAILURE_REGIONS = ("table", "front")
DECOY_KINDS = ("near_miss", "wrong_side", "behind")
DEMO_PUSHER_OFFSET = (0.24, -0.08)  # where the demonstrator's pusher rests, relative to the block


def failure_examples(n: int, seed: int = 0, region: str = "table") -> np.ndarray:
    """(n, 4) float32 random legal states whose block is *not* in the goal region.

    ``region="table"``: pusher and block uniform on the whole table. ``region="front"``: the block
    uniform in front of the wall (y < 0), where a person photographing "the task not done yet" would
    put it; a classifier trained on these has never seen a block behind the wall outside the goal.
    """
    if n < 1:
        raise OrlkitError(f"failure_examples: n must be positive, got {n}")
    if region not in FAILURE_REGIONS:
        raise OrlkitError(f"failure_examples: region must be one of {FAILURE_REGIONS}, got {region!r}")
    rng = np.random.default_rng(seed)
    out = np.empty((0, 4), dtype=np.float32)
    while len(out) < n:
        cand = random_states(2 * n, rng)
        keep = ~is_success(cand) & ((cand[:, 3] < WALL_Y) if region == "front" else True)
        out = np.concatenate([out, cand[keep]])
    return out[:n]


def decoy_states(n: int, seed: int = 0, kind: str = "near_miss") -> np.ndarray:
    """(n, 4) float32 legal non-success states a naive policy reaches and a frozen classifier may like.

    ``near_miss``: the block 0.17–0.25 from the goal centre (just outside the goal region, above
    the wall), the pusher where the demonstrator's pusher rests beside it. ``wrong_side``: the block
    against the wall right below the goal (:data:`WRONG_SIDE` ± 0.05 in x), the pusher under it.
    ``behind``: the block anywhere behind the wall (y > 0.15) outside the goal region, the pusher
    anywhere. See the module doc for how frozen classifiers score them.
    """
    if n < 1:
        raise OrlkitError(f"decoy_states: n must be positive, got {n}")
    if kind not in DECOY_KINDS:
        raise OrlkitError(f"decoy_states: kind must be one of {DECOY_KINDS}, got {kind!r}")
    rng = np.random.default_rng(seed)
    out = np.empty((0, 4))
    while len(out) < n:
        m = 4 * n
        if kind == "near_miss":
            ang, rad = rng.uniform(0, 2 * np.pi, m), rng.uniform(GOAL_RADIUS + 0.02, GOAL_RADIUS + 0.1, m)
            block = np.stack([GOAL_CENTER[0] + rad * np.cos(ang), GOAL_CENTER[1] + rad * np.sin(ang)], axis=1)
            cand = np.concatenate([block + DEMO_PUSHER_OFFSET + rng.normal(0, 0.02, (m, 2)), block], axis=1)
        elif kind == "wrong_side":
            bx = WRONG_SIDE[0] + rng.uniform(-0.05, 0.05, m)
            cand = np.stack([bx + rng.uniform(-0.03, 0.03, m), np.full(m, WRONG_SIDE[1] - 0.14),
                             bx, np.full(m, WRONG_SIDE[1])], axis=1)
        else:
            cand = random_states(m, rng).astype(np.float64)
            cand = cand[cand[:, 3] > 0.15]
        out = np.concatenate([out, cand[is_legal(cand) & ~is_success(cand)]])
    return out[:n].astype(np.float32)
