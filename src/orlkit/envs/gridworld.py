"""A tabular gridworld with exact dynamic programming, to show out-of-distribution overestimation.

The environment
    An ASCII map: ``#`` wall, ``S`` start, ``G`` goal (+1, terminal), ``P`` pit (-1, terminal),
    ``.`` free. The states are the non-wall cells (``S``, ``G`` and ``P`` included) in row-major
    order; the observation is the one-hot vector of the state index (float32). Actions are
    0 up, 1 right, 2 down, 3 left. With probability ``slip`` the move goes in a uniformly random
    direction among the four (so the intended direction has probability ``1 - slip + slip/4``).
    Moving into a wall, or off the map, leaves the agent in place. Every step pays ``step_reward``;
    entering ``G`` or ``P`` also pays its reward and ends the episode (``terminated=True``). After
    ``max_steps`` steps without termination the episode is cut (``truncated=True``, never
    ``terminated``).

    The default map (5 x 7 free cells) is a cliff walk: the start and the goal sit at the two ends
    of a row of pits, so the shortest path runs right beside the pits::

        #########
        #.......#
        #.......#
        #.......#
        #.......#
        #SPPPPPG#
        #########

Exact dynamic programming (NumPy float64)
    :meth:`GridWorld.model` gives ``(P, R, terminal)``: ``P[s, a, s']`` transition probabilities,
    ``R[s, a]`` expected immediate reward, and the terminal mask. Terminal states are absorbing
    with zero reward, so their value is 0. :func:`policy_evaluation` solves the linear system
    ``(I - γ P_π) V = r_π`` for the exact ``Q^π``; :func:`value_iteration` gives ``Q*``;
    :func:`greedy` turns a Q-table into a deterministic policy. DP values are infinite-horizon
    discounted values: the ``max_steps`` time limit is ignored by DP (it is a property of the
    data collection, not of the task), so compare them with Monte-Carlo returns from episodes
    long enough that ``γ^max_steps`` is negligible.

Behavior policies and datasets
    :func:`behavior_policy` returns ``(S, A)`` probability matrices. The ``"missing"`` policy never
    takes an action that moves (when nothing slips) into a pit or into a wall, so those
    ``(s, a)`` pairs never appear in its data; a naive offline critic may rate them highly and
    its greedy policy then walks into a pit or bumps a wall forever. :func:`make_gridworld_dataset`
    rolls a behavior policy out into a :class:`~orlkit.data.dataset.TransitionDataset`.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from orlkit.data.dataset import TransitionDataset

ENV_ID = "orlkit/GridWorld-v0"
N_ACTIONS = 4
ACTION_NAMES = ("up", "right", "down", "left")
MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))  # (d_row, d_col) per action
CELL_REWARDS = {"G": 1.0, "P": -1.0}
TERMINAL_CELLS = frozenset(CELL_REWARDS)
BEHAVIORS = ("uniform", "missing", "noisy-optimal")

DEFAULT_LAYOUT = (
    "#########",
    "#.......#",
    "#.......#",
    "#.......#",
    "#.......#",
    "#SPPPPPG#",
    "#########",
)


def _check_layout(layout: tuple[str, ...]) -> None:
    """Raise ValueError on ragged rows, unknown characters or a start count other than one."""
    if not layout or any(len(row) != len(layout[0]) for row in layout):
        raise ValueError(f"layout rows must be non-empty and of equal length, got {list(layout)}")
    bad = {ch for row in layout for ch in row} - set("#SGP.")
    if bad:
        raise ValueError(f"layout has unknown characters {sorted(bad)}; use '#', 'S', 'G', 'P', '.'")
    n_start = sum(row.count("S") for row in layout)
    if n_start != 1:
        raise ValueError(f"layout needs exactly one 'S', found {n_start}")


class GridWorld(gymnasium.Env):
    """Tabular gridworld with slip, one-hot observations and an exact model (see module doc).

    Args:
        layout: the ASCII map, one string per row; ``None`` for :data:`DEFAULT_LAYOUT`.
        slip: probability that the move goes in a uniformly random direction instead.
        step_reward: reward paid on every step (on top of the goal/pit reward).
        max_steps: time limit; the step that reaches it returns ``truncated=True``. ``None``: no limit.
        start: ``"fixed"`` (the ``S`` cell) or ``"uniform"`` (any non-terminal cell, for coverage).
        render_mode: ``None`` or ``"ansi"``.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(self, layout: list[str] | None = None, slip: float = 0.1, step_reward: float = 0.0,
                 max_steps: int | None = 50, start: str = "fixed", render_mode: str | None = None):
        self.layout = tuple(layout) if layout is not None else DEFAULT_LAYOUT
        _check_layout(self.layout)
        if not 0.0 <= slip <= 1.0:
            raise ValueError(f"slip must be in [0, 1], got {slip}")
        if start not in ("fixed", "uniform"):
            raise ValueError(f"start must be 'fixed' or 'uniform', got {start!r}")
        if max_steps is not None and max_steps < 1:
            raise ValueError(f"max_steps must be positive or None, got {max_steps}")
        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        self.slip, self.step_reward, self.max_steps = float(slip), float(step_reward), max_steps
        self.start, self.render_mode = start, render_mode

        self.cells = [(r, c) for r, row in enumerate(self.layout) for c, ch in enumerate(row) if ch != "#"]
        self.index = {cell: i for i, cell in enumerate(self.cells)}
        self.kinds = [self.layout[r][c] for r, c in self.cells]
        self.n_states = len(self.cells)
        self.terminal = np.array([k in TERMINAL_CELLS for k in self.kinds])
        self.start_state = self.kinds.index("S")
        self.observation_space = spaces.Box(0.0, 1.0, (self.n_states,), dtype=np.float32)
        self.action_space = spaces.Discrete(N_ACTIONS)
        self._state: int | None = None
        self._steps = 0
        self._done = False

    # ------------------------------------------------------------------ geometry
    def move(self, state: int, direction: int) -> int:
        """The state reached from ``state`` by moving in ``direction`` with no slip."""
        r, c = self.cells[state]
        dr, dc = MOVES[direction]
        return self.index.get((r + dr, c + dc), state)  # a wall or the map's edge: stay in place

    def initial_distribution(self) -> np.ndarray:
        """(S,) probability of each start state under this env's ``start`` mode (float64)."""
        if self.start == "fixed":
            return np.eye(self.n_states)[self.start_state]
        d0 = (~self.terminal).astype(np.float64)
        return d0 / d0.sum()

    def one_hot(self, state: int) -> np.ndarray:
        obs = np.zeros(self.n_states, dtype=np.float32)
        obs[state] = 1.0
        return obs

    # ------------------------------------------------------------------ Gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode. ``options={"state": i}`` starts in state ``i`` instead."""
        super().reset(seed=seed)
        if options and "state" in options:
            self._state = int(options["state"])
        else:
            self._state = int(self.np_random.choice(self.n_states, p=self.initial_distribution()))
        self._steps, self._done = 0, bool(self.terminal[self._state])
        return self.one_hot(self._state), self._info()

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._state is None or self._done:
            raise RuntimeError("GridWorld.step called before reset() or after the episode ended")
        if not self.action_space.contains(action):
            raise ValueError(f"action must be an integer in {{0, 1, 2, 3}}, got {action!r}")
        direction = int(action)
        if self.np_random.random() < self.slip:
            direction = int(self.np_random.integers(N_ACTIONS))
        self._state = self.move(self._state, direction)
        self._steps += 1
        kind = self.kinds[self._state]
        reward = self.step_reward + CELL_REWARDS.get(kind, 0.0)
        terminated = kind in TERMINAL_CELLS
        truncated = not terminated and self.max_steps is not None and self._steps >= self.max_steps
        self._done = terminated or truncated
        return self.one_hot(self._state), reward, terminated, truncated, self._info()

    def _info(self) -> dict[str, Any]:
        return {"state": self._state, "success": self.kinds[self._state] == "G"}

    def render(self) -> str | None:
        """The map with the agent drawn as ``A`` (``render_mode="ansi"``)."""
        if self.render_mode != "ansi":
            return None
        rows = [list(row) for row in self.layout]
        if self._state is not None:
            r, c = self.cells[self._state]
            rows[r][c] = "A"
        return "\n".join("".join(row) for row in rows)

    # ------------------------------------------------------------------ exact model
    def model(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(P, R, terminal)``: P (S, A, S) and R (S, A) float64, terminal (S,) bool.

        Terminal states are absorbing (``P[t, a, t] = 1``) with zero reward. The time limit is
        not part of the model.
        """
        S = self.n_states
        P = np.zeros((S, N_ACTIONS, S))
        R = np.zeros((S, N_ACTIONS))
        for s in range(S):
            if self.terminal[s]:
                P[s, :, s] = 1.0
                continue
            for a in range(N_ACTIONS):
                for d in range(N_ACTIONS):
                    p = (1.0 - self.slip) * (d == a) + self.slip / N_ACTIONS
                    nxt = self.move(s, d)
                    P[s, a, nxt] += p
                    R[s, a] += p * (self.step_reward + CELL_REWARDS.get(self.kinds[nxt], 0.0))
        return P, R, self.terminal.copy()


if ENV_ID not in gymnasium.registry:
    # The env counts its own steps (max_steps); no TimeLimit wrapper on top of it.
    gymnasium.register(id=ENV_ID, entry_point=GridWorld, max_episode_steps=None)


# ---------------------------------------------------------------------- dynamic programming
def _check_gamma(gamma: float) -> None:
    if not 0.0 <= gamma < 1.0:
        raise ValueError(f"gamma must be in [0, 1) for infinite-horizon values, got {gamma}")


def policy_evaluation(P: np.ndarray, R: np.ndarray, terminal: np.ndarray, pi: np.ndarray,
                      gamma: float) -> np.ndarray:
    """Exact ``Q^π`` (S, A) for a stochastic policy ``pi`` (S, A), by one linear solve.

    ``V = r_π + γ P_π V`` with ``r_π(s) = Σ_a π(a|s) R(s, a)``, ``P_π(s, s') = Σ_a π(a|s) P(s, a, s')``
    and ``V = 0`` on terminal states; then ``Q = R + γ P V`` (0 on terminal states).
    """
    _check_gamma(gamma)
    live = ~np.asarray(terminal, dtype=bool)
    r_pi = np.einsum("sa,sa->s", pi, R) * live  # (S,)
    P_pi = np.einsum("sa,sat->st", pi, P) * live[:, None]  # (S, S); terminal rows cut off
    V = np.linalg.solve(np.eye(len(R)) - gamma * P_pi, r_pi)  # (S,)
    return _backup(P, R, live, V, gamma)


def _backup(P: np.ndarray, R: np.ndarray, live: np.ndarray, V: np.ndarray, gamma: float) -> np.ndarray:
    """``Q = R + γ P V`` (S, A), zero on terminal states."""
    return (R + gamma * P @ V) * live[:, None]


def value_iteration(P: np.ndarray, R: np.ndarray, terminal: np.ndarray, gamma: float,
                    tol: float = 1e-12, max_iter: int = 1_000_000) -> np.ndarray:
    """Optimal ``Q*`` (S, A) by value iteration, to within ``tol`` in max norm.

    Stops when ``‖Q_{k+1} - Q_k‖∞ ≤ tol (1 - γ) / γ``, which bounds ``‖Q_{k+1} - Q*‖∞ ≤ tol``.
    """
    _check_gamma(gamma)
    live = ~np.asarray(terminal, dtype=bool)
    stop = tol * (1.0 - gamma) / gamma if gamma > 0 else np.inf
    Q = np.zeros_like(R, dtype=np.float64)
    for _ in range(max_iter):
        Q_next = _backup(P, R, live, Q.max(axis=1), gamma)
        if np.max(np.abs(Q_next - Q)) <= stop:
            return Q_next
        Q = Q_next
    raise RuntimeError(f"value iteration did not reach tol={tol} in {max_iter} iterations")


def greedy(Q: np.ndarray) -> np.ndarray:
    """One-hot (S, A) policy taking ``argmax_a Q(s, a)``; ties go to the lowest action index."""
    pi = np.zeros_like(Q, dtype=np.float64)
    pi[np.arange(len(Q)), np.argmax(Q, axis=1)] = 1.0
    return pi


# ---------------------------------------------------------------------- behavior policies
def allowed_actions(env: GridWorld) -> np.ndarray:
    """(S, A) bool: the actions the ``"missing"`` behavior takes.

    In every non-terminal state it never takes an action whose no-slip move goes into a pit or
    into a wall (including the map's edge). On the default map that forbids: "up" in the top
    row, "left" in the left column (S included), "right" in the right column, "down" in the five
    cells right above the pits, and "right" and "down" at S (so S only goes "up"). Terminal
    states allow every action (they are never acted in).
    """
    env = env.unwrapped
    mask = np.ones((env.n_states, N_ACTIONS), dtype=bool)
    for s in np.flatnonzero(~env.terminal):
        for a in range(N_ACTIONS):
            nxt = env.move(s, a)
            mask[s, a] = nxt != s and env.kinds[nxt] != "P"
        if not mask[s].any():
            raise ValueError(f"cell {env.cells[s]} has no action that avoids walls and pits")
    return mask


def behavior_policy(env: GridWorld, name: str, *, gamma: float = 0.99, epsilon: float = 0.5) -> np.ndarray:
    """(S, A) action probabilities of a named behavior policy.

    - ``"uniform"``: each of the 4 actions with probability 1/4.
    - ``"missing"``: uniform over :func:`allowed_actions`; the other pairs never occur in its data.
    - ``"noisy-optimal"``: ε-greedy around ``Q*`` (discount ``gamma``) within the allowed actions:
      probability ``1 - ε`` on the best allowed action, ``ε`` spread uniformly over the allowed ones.
    """
    env = env.unwrapped
    if name == "uniform":
        return np.full((env.n_states, N_ACTIONS), 1.0 / N_ACTIONS)
    if name not in BEHAVIORS:
        raise ValueError(f"unknown behavior {name!r}; choose one of {BEHAVIORS}")
    mask = allowed_actions(env)
    pi = mask / mask.sum(axis=1, keepdims=True)
    if name == "noisy-optimal":
        Q = value_iteration(*env.model(), gamma)
        best = greedy(np.where(mask, Q, -np.inf))
        pi = epsilon * pi + (1.0 - epsilon) * best
    return pi


# ---------------------------------------------------------------------- datasets
def _sample_action(cum: np.ndarray, u: float) -> int:
    """Inverse-CDF sample from one row of normalised cumulative probabilities (last entry 1)."""
    return int(np.searchsorted(cum, u, side="right"))


def make_gridworld_dataset(behavior: str = "missing", n_transitions: int = 10_000, seed: int = 0,
                           layout: list[str] | None = None, slip: float = 0.1,
                           start: str = "uniform") -> TransitionDataset:
    """Roll out a behavior policy into exactly ``n_transitions`` rows of whole episodes.

    The env is reset with a seed derived from ``seed`` once, and actions come from a second
    derived generator, so the same arguments give identical arrays. If the cut at
    ``n_transitions`` falls inside an episode, its last row becomes a timeout. ``meta["env_kwargs"]``
    rebuilds the env for evaluation (with the fixed start; ``meta["start"]`` says how the data started).
    """
    if n_transitions < 1:
        raise ValueError(f"n_transitions must be positive, got {n_transitions}")
    env = GridWorld(layout=layout, slip=slip, start=start)
    pi = behavior_policy(env, behavior)
    cum = np.cumsum(pi, axis=1)
    cum /= cum[:, -1:]  # last entry exactly 1.0, so u in [0, 1) never picks a zero-probability action
    env_seed, action_seed = np.random.SeedSequence(seed).generate_state(2)
    rng = np.random.default_rng(action_seed)

    states, actions, rewards, next_states, terminals, timeouts = [], [], [], [], [], []
    _, info = env.reset(seed=int(env_seed))
    while len(states) < n_transitions:
        s = info["state"]
        a = _sample_action(cum[s], rng.random())
        _, r, terminated, truncated, info = env.step(a)
        states.append(s)
        actions.append(a)
        rewards.append(r)
        next_states.append(info["state"])
        terminals.append(terminated)
        timeouts.append(truncated)
        if terminated or truncated:
            _, info = env.reset()
    timeouts[-1] = timeouts[-1] or not terminals[-1]

    eye = np.eye(env.n_states, dtype=np.float32)
    env_kwargs: dict[str, Any] = {"slip": slip}
    if layout is not None:
        env_kwargs["layout"] = list(layout)
    meta = {"env_id": ENV_ID, "env_kwargs": env_kwargs, "behavior": behavior, "seed": seed, "start": start}
    return TransitionDataset(eye[states], np.array(actions, dtype=np.int64), np.array(rewards, np.float32),
                             eye[next_states], np.array(terminals), np.array(timeouts),
                             n_actions=N_ACTIONS, meta=meta, source=f"gridworld:{behavior}")
