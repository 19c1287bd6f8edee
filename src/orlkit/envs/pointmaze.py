"""A continuous 2D point maze whose dataset holds no start-to-goal trajectory, to show stitching.

The lecture's claim: offline RL can stitch pieces of trajectories into a path that no trajectory
in the data took, while imitation cannot. :func:`make_pointmaze_dataset` gives the data for that
claim: every episode is one noisy hop between two neighbouring cells, so the start-to-goal path
exists only as a chain of hops.

The maze
    An ASCII map (one string per row): ``#`` wall, ``.`` free, ``S`` start cell, ``G`` goal cell
    (exactly one of each; :func:`load_layout` reads one from a text file). Cell ``(row, col)`` is
    the unit square ``x ∈ [col, col + 1)``, ``y ∈ [row, row + 1)``: ``x`` grows to the right and
    ``y`` grows *down* the map, as the rows do. Anything outside the map is wall. The default map
    (:data:`DEFAULT_LAYOUT`) is a tree maze in a 9×9 map (27 free cells, no loops): the 14-hop path
    from ``S`` to ``G`` turns six times and passes three junctions; at each of them the wrong way
    leads into a dead end (four of them, 2 to 4 hops deep), so a policy that keeps moving without
    knowing where ``G`` is gets lost::

        #########
        #S....#.#
        ###.###.#
        #.......#
        #####.#.#
        ###...#.#
        ###.###.#
        ###..G#.#
        #########

The point (NumPy float64 physics, fixed ``dt``)
    State: position ``(x, y)`` and velocity ``(vx, vy)``. Action: acceleration ``a ∈ [-1, 1]²``.
    One step::

        v ← clip(damping · v + accel · dt · a, −vmax, vmax)      (per component)
        x ← x + vx · dt, then y ← y + vy · dt                     (axis-separated collision)

    A move along one axis that would end in a wall cell stops just inside the current cell
    (``1e-6`` from the wall) and zeroes that velocity component; as ``vmax · dt < 1`` a step never
    skips a cell. Moving ``x`` first and then ``y`` keeps every intermediate point in free space,
    so the point never enters a wall cell and never slips through the corner where two walls meet.

Observation (float32, every entry in ``[-1, 1]``)
    ``[2x/W − 1, 2y/H − 1, vx/vmax, vy/vmax]`` for a ``H × W`` map; with ``goal_in_obs=True`` the
    goal centre, scaled the same way, is appended (the goal is fixed, so it is off by default); with
    ``wall_obs=True`` four wall sensors follow: per direction (up, right, down, left), the distance
    from the point to the nearest wall along that axis, capped at one cell, as ``2d − 1`` (off by
    default).
    :meth:`PointMaze.positions` turns observations back into ``(x, y)``.

Episode
    Reset: the centre of ``S`` plus ``U(−start_noise, start_noise)`` per axis, velocity 0
    (``options={"pos": (x, y), "vel": (vx, vy)}`` starts elsewhere). Reward 1.0 on the step that
    ends within ``goal_radius`` (0.5) of the goal centre, which also ends the episode
    (``terminated=True``, ``info["success"]=True``); 0 otherwise (sparse). After ``max_steps``
    steps without reaching the goal the episode is cut (``truncated=True``).

Controllers
    :func:`pd_action` is the waypoint controller ``clip(kp · (target − pos) − kd · vel + ε, −1, 1)``,
    ``ε ~ N(0, noise²)``. :class:`OraclePolicy` follows the BFS shortest cell path to the goal with
    it (a Markov policy of the observation: the target is the centre of the next cell on the
    shortest path from the current cell); it checks that the task is solvable within the episode
    limit and is the "expert" of the maze.

The dataset (:func:`make_pointmaze_dataset`)
    Episodes are hops: start near the centre of a free cell (``U(−start_spread, start_spread)`` per
    axis, 0.3 by default; velocity ``U(−0.5, 0.5)`` per axis), drive to the centre of a
    neighbouring free cell with the noisy PD controller, and end with a timeout when the point is
    within ``hop_radius`` of the target centre, when it leaves the source and target cells, or after
    ``hop_steps`` steps. The hops run in rounds; a round is every ordered pair of neighbouring cells
    once, in a shuffled order, so every pair is covered in both directions as soon as one round fits
    in ``n_transitions``. Pairs leaving ``G`` are the one exception: a point at the goal has already
    ended its episode.
    Rewards and terminals are the env's own (a hop into ``G`` ends with reward 1 and
    ``terminals=True``, never a timeout). Because an episode touches only its two cells (and, on
    its last step, at most one more), and the maker requires ``S`` and ``G`` to be at least 4 hops
    apart, no episode contains a state in ``S`` and a state in ``G``.

    Deviation from "the episode ends when the target cell is reached": a hop ends within
    ``hop_radius`` (0.3) of the target *centre*, so a hop's last states overlap the next hop's
    first states (near the centre) — the overlap is what lets values flow from hop to hop.

    The action noise (``noise``, default 0.8) puts states against the walls into the data (413 of 100k
    within 0.1 of a wall; with 0.3 there were none). Without them IQL's values generalised across the
    walls and sent the point into them "towards the goal" on one seed of three (docs/pointmaze.md).
"""

from __future__ import annotations

import math
from collections import deque
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from orlkit.data.dataset import TransitionDataset
from orlkit.errors import OrlkitError

ENV_ID = "orlkit/PointMaze-v0"
LAYOUT_CHARS = "#.SG"
MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))  # (d_row, d_col): up, right, down, left
WALL_EPS = 1e-6  # a blocked move stops this far inside the current cell
MIN_START_GOAL_HOPS = 4  # dataset: S and G this far apart means no hop can touch both

DEFAULT_LAYOUT = (
    "#########",
    "#S....#.#",
    "###.###.#",
    "#.......#",
    "#####.#.#",
    "###...#.#",
    "###.###.#",
    "###..G#.#",
    "#########",
)


class LayoutError(OrlkitError, ValueError):
    """A maze map that cannot be used: names the file (if any), the row and what is wrong."""


Cell = tuple[int, int]


# ---------------------------------------------------------------------- layouts
def check_layout(layout: list[str] | tuple[str, ...], source: str | None = None) -> tuple[str, ...]:
    """The layout as a tuple of rows; :class:`LayoutError` on ragged rows, unknown characters,
    a count of ``S`` or ``G`` other than one, or a goal that cannot be reached from the start."""
    where = f"{source}: " if source else ""
    layout = tuple(layout)
    if not layout or not layout[0]:
        raise LayoutError(f"{where}layout is empty")
    for r, row in enumerate(layout):
        if not isinstance(row, str):
            raise LayoutError(f"{where}row {r} is {type(row).__name__}, not a string")
        if len(row) != len(layout[0]):
            raise LayoutError(f"{where}row {r} has {len(row)} characters but row 0 has {len(layout[0])}; "
                              "rows must be of equal length")
        bad = sorted(set(row) - set(LAYOUT_CHARS))
        if bad:
            raise LayoutError(f"{where}row {r} has unknown characters {bad}; use '#' wall, '.' free, "
                              "'S' start, 'G' goal")
    for ch, name in (("S", "start"), ("G", "goal")):
        count = sum(row.count(ch) for row in layout)
        if count != 1:
            raise LayoutError(f"{where}layout needs exactly one '{ch}' ({name} cell), found {count}")
    free = _free_mask(layout)
    start, goal = _find(layout, "S"), _find(layout, "G")
    if bfs_distances(free, goal)[start] < 0:
        raise LayoutError(f"{where}the goal {goal} cannot be reached from the start {start}")
    return layout


def load_layout(path: str | Path) -> list[str]:
    """Read a layout from a text file: one row per line; trailing blank lines and line-end
    whitespace are ignored. Raises :class:`LayoutError` (naming the file) on a bad map."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise LayoutError(f"{path}: cannot read the layout file: {e}") from None
    rows = [line.rstrip() for line in text.splitlines()]
    while rows and not rows[-1]:
        rows.pop()
    return list(check_layout(rows, source=str(path)))


def _free_mask(layout: tuple[str, ...]) -> np.ndarray:
    return np.array([[ch != "#" for ch in row] for row in layout], dtype=bool)  # (H, W)


def _find(layout: tuple[str, ...], ch: str) -> Cell:
    return next((r, row.index(ch)) for r, row in enumerate(layout) if ch in row)


def bfs_distances(free: np.ndarray, source: Cell) -> np.ndarray:
    """(H, W) int: hops from ``source`` to every cell through free cells (4-neighbours); -1 where
    unreachable or wall."""
    dist = np.full(free.shape, -1, dtype=np.int64)
    dist[source] = 0
    queue = deque([source])
    while queue:
        r, c = queue.popleft()
        for dr, dc in MOVES:
            n = (r + dr, c + dc)
            if 0 <= n[0] < free.shape[0] and 0 <= n[1] < free.shape[1] and free[n] and dist[n] < 0:
                dist[n] = dist[r, c] + 1
                queue.append(n)
    return dist


# ---------------------------------------------------------------------- the environment
class PointMaze(gymnasium.Env):
    """A point mass in a grid maze with sparse goal reward (see module doc).

    Args:
        layout: the ASCII map, one string per row; ``None`` for :data:`DEFAULT_LAYOUT`.
        max_steps: time limit; the step that reaches it returns ``truncated=True``.
        dt: time step (s).
        damping: velocity kept per step before the acceleration is added.
        accel: acceleration (cells/s²) of a unit action.
        vmax: speed limit per velocity component (cells/s); ``vmax · dt`` must be below 1.
        goal_radius: the episode succeeds within this distance of the goal cell's centre.
        start_noise: the start position is the ``S`` centre plus ``U(−start_noise, start_noise)``.
        goal_in_obs: append the (fixed) goal centre to the observation.
        wall_obs: append four wall sensors (up, right, down, left): the distance to the nearest wall
            along that axis, capped at one cell, scaled to ``[-1, 1]``.
        render_mode: ``None`` or ``"ansi"``.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 10}

    def __init__(self, layout: list[str] | None = None, max_steps: int = 200, dt: float = 0.1,
                 damping: float = 0.9, accel: float = 5.0, vmax: float = 2.0, goal_radius: float = 0.5,
                 start_noise: float = 0.1, goal_in_obs: bool = False, wall_obs: bool = False,
                 render_mode: str | None = None):
        self.layout = check_layout(layout if layout is not None else DEFAULT_LAYOUT)
        if max_steps < 1:
            raise ValueError(f"max_steps must be positive, got {max_steps}")
        if dt <= 0 or accel <= 0 or vmax <= 0 or not 0.0 <= damping <= 1.0:
            raise ValueError(f"need dt, accel, vmax > 0 and damping in [0, 1]; got dt={dt}, accel={accel}, "
                             f"vmax={vmax}, damping={damping}")
        if vmax * dt >= 1.0:
            raise ValueError(f"vmax * dt = {vmax * dt} must be below 1 (one step may not skip a cell)")
        if not 0.0 < goal_radius <= 0.5 or not 0.0 <= start_noise < 0.5:
            raise ValueError(f"need goal_radius in (0, 0.5] and start_noise in [0, 0.5); got {goal_radius}, "
                             f"{start_noise}")
        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        self.max_steps, self.dt, self.damping, self.accel, self.vmax = int(max_steps), dt, damping, accel, vmax
        self.goal_radius, self.start_noise, self.goal_in_obs = goal_radius, start_noise, goal_in_obs
        if not isinstance(wall_obs, bool | np.bool_):
            raise ValueError(f"wall_obs must be True or False, got {wall_obs!r}")
        self.wall_obs = bool(wall_obs)
        self.render_mode = render_mode

        self.free = _free_mask(self.layout)  # (H, W)
        self.height, self.width = self.free.shape
        self.start_cell, self.goal_cell = _find(self.layout, "S"), _find(self.layout, "G")
        self.goal = self.cell_center(self.goal_cell)
        self.goal_distances = bfs_distances(self.free, self.goal_cell)  # (H, W) hops to G
        self._scale = np.array([2.0 / self.width, 2.0 / self.height])
        obs_dim = 4 + 2 * bool(goal_in_obs) + 4 * self.wall_obs
        self.observation_space = spaces.Box(-1.0, 1.0, (obs_dim,), dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)
        self.pos = np.zeros(2)
        self.vel = np.zeros(2)
        self._steps = 0
        self._done = True
        self._reset_once = False

    # ------------------------------------------------------------------ geometry
    @staticmethod
    def cell_center(cell: Cell) -> np.ndarray:
        """(x, y) of the centre of cell ``(row, col)``."""
        return np.array([cell[1] + 0.5, cell[0] + 0.5])

    @staticmethod
    def cells_of(pos: np.ndarray) -> np.ndarray:
        """(..., 2) int ``(row, col)`` of the cells holding positions ``pos`` (..., 2) ``(x, y)``."""
        pos = np.asarray(pos)
        return np.floor(pos[..., ::-1]).astype(np.int64)

    def is_free(self, pos: np.ndarray) -> np.ndarray:
        """(...) bool: positions ``pos`` (..., 2) lie in free cells of the map."""
        rc = self.cells_of(pos)
        r, c = rc[..., 0], rc[..., 1]
        inside = (r >= 0) & (r < self.height) & (c >= 0) & (c < self.width)
        return inside & self.free[np.where(inside, r, 0), np.where(inside, c, 0)]

    def _free_xy(self, x: float, y: float) -> bool:
        """Scalar :meth:`is_free` (the step's hot path)."""
        r, c = math.floor(y), math.floor(x)
        return 0 <= r < self.height and 0 <= c < self.width and bool(self.free[r, c])

    def neighbours(self, cell: Cell) -> list[Cell]:
        """The free 4-neighbours of ``cell``, in the order up, right, down, left."""
        out = []
        for dr, dc in MOVES:
            n = (cell[0] + dr, cell[1] + dc)
            if 0 <= n[0] < self.height and 0 <= n[1] < self.width and self.free[n]:
                out.append(n)
        return out

    def free_cells(self) -> list[Cell]:
        """Every free cell (``S`` and ``G`` included) in row-major order."""
        return [(int(r), int(c)) for r, c in zip(*np.nonzero(self.free), strict=True)]

    def wall_distances(self) -> np.ndarray:
        """(4,) distance from the point to the nearest wall up, right, down and left along that axis, capped
        at 1 (one cell): the distance to the point's cell edge (at most 1) where the neighbouring cell is a wall,
        else 1."""
        (x, y), (r, c) = self.pos, (math.floor(self.pos[1]), math.floor(self.pos[0]))
        edges = (y - r, c + 1 - x, r + 1 - y, x - c)  # up, right, down, left
        out = np.ones(4)
        for i, ((dr, dc), d) in enumerate(zip(MOVES, edges, strict=True)):
            if not self._free_xy(c + dc + 0.5, r + dr + 0.5):
                out[i] = d
        return out

    def positions(self, obs: np.ndarray) -> np.ndarray:
        """(..., 2) float64 ``(x, y)`` decoded from observations (..., obs_dim)."""
        obs = np.asarray(obs, dtype=np.float64)
        return (obs[..., :2] + 1.0) / self._scale

    def velocities(self, obs: np.ndarray) -> np.ndarray:
        """(..., 2) float64 ``(vx, vy)`` decoded from observations (..., obs_dim)."""
        return np.asarray(obs, dtype=np.float64)[..., 2:4] * self.vmax

    def _obs(self) -> np.ndarray:
        parts = [self.pos * self._scale - 1.0, self.vel / self.vmax]
        if self.goal_in_obs:
            parts.append(self.goal * self._scale - 1.0)
        if self.wall_obs:
            parts.append(2.0 * self.wall_distances() - 1.0)
        obs = np.concatenate(parts)
        return np.minimum(np.maximum(obs, -1.0), 1.0).astype(np.float32)

    # ------------------------------------------------------------------ Gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode near ``S``; ``options={"pos": (x, y), "vel": (vx, vy)}`` starts elsewhere."""
        super().reset(seed=seed)
        options = options or {}
        if "pos" in options:
            pos = np.asarray(options["pos"], dtype=np.float64)
            if pos.shape != (2,) or not np.isfinite(pos).all() or not self.is_free(pos):
                raise ValueError(f"options['pos'] must be a finite (x, y) in a free cell, got {options['pos']}")
        else:
            pos = self.cell_center(self.start_cell) + self.np_random.uniform(-self.start_noise, self.start_noise, 2)
        vel = np.asarray(options.get("vel", (0.0, 0.0)), dtype=np.float64)
        if vel.shape != (2,) or not np.isfinite(vel).all():
            raise ValueError(f"options['vel'] must be a finite (vx, vy), got {options['vel']}")
        self.pos, self.vel = pos.copy(), np.clip(vel, -self.vmax, self.vmax)
        self._steps, self._done, self._reset_once = 0, False, True
        return self._obs(), self._info()

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if not self._reset_once or self._done:
            raise RuntimeError("PointMaze.step called before reset() or after the episode ended")
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != (2,) or not np.isfinite(a).all():
            raise ValueError(f"action must be 2 finite numbers, got {action!r}")
        a = np.minimum(np.maximum(a, -1.0), 1.0)
        vel = self.damping * self.vel + self.accel * self.dt * a
        self.vel = np.minimum(np.maximum(vel, -self.vmax), self.vmax)
        self._move()
        self._steps += 1
        success = self._at_goal()
        truncated = not success and self._steps >= self.max_steps
        self._done = success or truncated
        return self._obs(), float(success), success, truncated, self._info()

    def _move(self) -> None:
        """Axis-separated move with collision: x first, then y (see module doc)."""
        pos = [float(self.pos[0]), float(self.pos[1])]
        for axis in (0, 1):
            cand = list(pos)
            cand[axis] += float(self.vel[axis]) * self.dt
            if self._free_xy(*cand):
                pos = cand
                continue
            edge = math.floor(pos[axis])  # the current cell's low edge along this axis
            pos[axis] = edge + 1.0 - WALL_EPS if self.vel[axis] > 0 else edge + WALL_EPS
            self.vel[axis] = 0.0
        self.pos = np.array(pos)

    def _info(self) -> dict[str, Any]:
        return {"cell": (math.floor(self.pos[1]), math.floor(self.pos[0])), "success": self._at_goal()}

    def _at_goal(self) -> bool:
        return math.hypot(self.pos[0] - self.goal[0], self.pos[1] - self.goal[1]) <= self.goal_radius

    def render(self) -> str | None:
        """The map with the point's cell drawn as ``A`` (``render_mode="ansi"``)."""
        if self.render_mode != "ansi":
            return None
        rows = [list(row) for row in self.layout]
        if self._reset_once:
            r, c = self.cells_of(self.pos)
            rows[r][c] = "A"
        return "\n".join("".join(row) for row in rows)


if ENV_ID not in gymnasium.registry:
    # The env counts its own steps (max_steps); no TimeLimit wrapper on top of it.
    gymnasium.register(id=ENV_ID, entry_point=PointMaze, max_episode_steps=None)


# ---------------------------------------------------------------------- controllers
def pd_action(pos: np.ndarray, vel: np.ndarray, target: np.ndarray, kp: float = 2.0, kd: float = 0.6,
              noise: float = 0.0, rng: np.random.Generator | None = None) -> np.ndarray:
    """The waypoint controller ``clip(kp · (target − pos) − kd · vel + ε, −1, 1)``, ``ε ~ N(0, noise²)``
    (float32, shape (2,))."""
    a = kp * (np.asarray(target) - pos) - kd * vel
    if noise > 0:
        if rng is None:
            raise ValueError("pd_action with noise > 0 needs an rng")
        a = a + rng.normal(0.0, noise, 2)
    return np.minimum(np.maximum(a, -1.0), 1.0).astype(np.float32)


class OraclePolicy:
    """PD control towards the centre of the next cell on a shortest (BFS) cell path to the goal.

    A Markov policy of the observation: the current cell is decoded from ``obs`` and the target
    is its neighbour one hop closer to ``G`` (the goal centre itself once in ``G``).

    Args:
        env: the maze (its ``unwrapped`` is used).
        noise: std of the Gaussian action noise (0: deterministic).
        seed: seed of the noise generator.
        kp, kd: the PD gains of :func:`pd_action`.
    """

    def __init__(self, env: gymnasium.Env, noise: float = 0.0, seed: int = 0, kp: float = 2.0, kd: float = 0.6):
        self.env: PointMaze = env.unwrapped
        self.noise, self.kp, self.kd = noise, kp, kd
        self.rng = np.random.default_rng(seed)
        dist = self.env.goal_distances
        self.targets: dict[Cell, np.ndarray] = {self.env.goal_cell: self.env.goal}
        for cell in self.env.free_cells():
            if dist[cell] > 0:
                nxt = min(self.env.neighbours(cell), key=lambda n: dist[n])
                self.targets[cell] = self.env.cell_center(nxt)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        pos, vel = self.env.positions(obs), self.env.velocities(obs)
        r, c = self.env.cells_of(pos)
        target = self.targets.get((int(r), int(c)), self.env.goal)  # float32 rounding off the map: aim at G
        return pd_action(pos, vel, target, self.kp, self.kd, self.noise, self.rng)


def shortest_path(env: PointMaze) -> list[Cell]:
    """The cells of a shortest path from ``S`` to ``G`` (both included)."""
    env = env.unwrapped
    path = [env.start_cell]
    while path[-1] != env.goal_cell:
        path.append(min(env.neighbours(path[-1]), key=lambda n: env.goal_distances[n]))
    return path


# ---------------------------------------------------------------------- dataset
def hop_pairs(env: PointMaze) -> list[tuple[Cell, Cell]]:
    """Every ordered pair (source, target) of neighbouring free cells, except sources at ``G``."""
    env = env.unwrapped
    return [(cell, n) for cell in env.free_cells() if cell != env.goal_cell for n in env.neighbours(cell)]


def make_pointmaze_dataset(n_transitions: int = 100_000, seed: int = 0, layout: list[str] | None = None,
                           noise: float = 0.8, hop_steps: int = 50, hop_radius: float = 0.3,
                           start_spread: float = 0.3, wall_obs: bool = False) -> TransitionDataset:
    """Noisy PD hops between neighbouring cells, exactly ``n_transitions`` rows (see module doc).

    Args:
        n_transitions: rows; a hop cut by this limit ends with a timeout.
        seed: the same seed gives identical arrays.
        layout: the map (``None``: :data:`DEFAULT_LAYOUT`); ``S`` and ``G`` must be at least
            :data:`MIN_START_GOAL_HOPS` hops apart.
        noise: std of the Gaussian action noise of the PD controller.
        hop_steps: a hop that has not arrived after this many steps ends with a timeout.
        hop_radius: a hop arrives within this distance of the target cell's centre.
        start_spread: a hop starts at its source cell's centre plus ``U(-start_spread, start_spread)`` per axis
            (below 0.5, which is the cell's edge).
        wall_obs: observations with the env's four wall sensors (``PointMaze(wall_obs=True)``); the hops, actions
            and rewards are the same as without them for the same seed.

    The extras ``hop_source`` and ``hop_target`` hold, per row, the index of the hop's source and
    target cell in ``env.free_cells()``; ``meta`` holds ``env_id``, ``env_kwargs`` (with the layout)
    and the settings.
    """
    if n_transitions < 1:
        raise ValueError(f"n_transitions must be positive, got {n_transitions}")
    if noise < 0 or hop_steps < 1 or not 0.0 < hop_radius <= 0.5 or not 0.0 <= start_spread < 0.5:
        raise ValueError(f"need noise >= 0, hop_steps >= 1, hop_radius in (0, 0.5] and start_spread in [0, 0.5); "
                         f"got {noise}, {hop_steps}, {hop_radius}, {start_spread}")
    env = PointMaze(layout=layout, wall_obs=wall_obs)
    hops_apart = int(env.goal_distances[env.start_cell])
    if hops_apart < MIN_START_GOAL_HOPS:
        raise LayoutError(f"S and G are {hops_apart} hops apart; the stitching dataset needs at least "
                          f"{MIN_START_GOAL_HOPS} so that no hop touches both")
    cells = env.free_cells()
    index = {cell: i for i, cell in enumerate(cells)}
    pairs = hop_pairs(env)
    env_seed, rng_seed = np.random.SeedSequence(seed).generate_state(2)
    env.reset(seed=int(env_seed))
    rng = np.random.default_rng(rng_seed)

    obs_l, act_l, rew_l, next_l, term_l, tout_l, src_l, tgt_l = ([] for _ in range(8))
    order: list[int] = []
    while len(obs_l) < n_transitions:
        if not order:
            order = list(rng.permutation(len(pairs)))
        source, target = pairs[order.pop()]
        goal = env.cell_center(target)
        start = env.cell_center(source) + rng.uniform(-start_spread, start_spread, 2)
        obs, _ = env.reset(options={"pos": start, "vel": rng.uniform(-0.5, 0.5, 2)})
        for t in range(hop_steps):
            a = pd_action(env.pos, env.vel, goal, noise=noise, rng=rng)
            nxt, r, terminated, truncated, info = env.step(a)
            arrived = math.hypot(*(env.pos - goal)) <= hop_radius
            strayed = info["cell"] not in (source, target)
            timeout = not terminated and (arrived or strayed or truncated or t == hop_steps - 1)
            obs_l.append(obs)
            act_l.append(a)
            rew_l.append(r)
            next_l.append(nxt)
            term_l.append(terminated)
            tout_l.append(timeout)
            src_l.append(index[source])
            tgt_l.append(index[target])
            obs = nxt
            if terminated or timeout or len(obs_l) == n_transitions:
                break
    tout_l[-1] = tout_l[-1] or not term_l[-1]

    env_kwargs: dict[str, Any] = {"layout": list(env.layout)}
    if wall_obs:
        env_kwargs["wall_obs"] = True
    meta = {"env_id": ENV_ID, "env_kwargs": env_kwargs, "layout": list(env.layout),
            "seed": seed, "noise": noise, "hop_steps": hop_steps, "hop_radius": hop_radius,
            "start_spread": start_spread, "behavior": "pd-hops between neighbouring cells"}
    return TransitionDataset(np.array(obs_l), np.array(act_l, dtype=np.float32), np.array(rew_l, np.float32),
                             np.array(next_l), np.array(term_l), np.array(tout_l), meta=meta,
                             source="pointmaze:stitch",
                             extras={"hop_source": np.array(src_l, np.int64), "hop_target": np.array(tgt_l, np.int64)})
