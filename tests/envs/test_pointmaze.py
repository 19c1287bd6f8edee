"""PointMaze: layouts, physics and walls, the oracle planner, and the stitching dataset's structure."""

from __future__ import annotations

import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import orlkit.envs  # noqa: F401  (registers the gym id)
from orlkit.data.registry import DATASETS, dataset_names
from orlkit.envs.make import make_env
from orlkit.envs.pointmaze import (
    DEFAULT_LAYOUT,
    ENV_ID,
    WALL_EPS,
    LayoutError,
    OraclePolicy,
    PointMaze,
    hop_pairs,
    load_layout,
    make_pointmaze_dataset,
    shortest_path,
)
from orlkit.errors import OrlkitError


@pytest.fixture(scope="module")
def env() -> PointMaze:
    return PointMaze()


@pytest.fixture(scope="module")
def data():
    return make_pointmaze_dataset(n_transitions=5_000, seed=0)


def rollout(env: PointMaze, policy, seed: int) -> tuple[list[np.ndarray], bool, int]:
    """Positions (float64, from the env's state) of one episode, whether it succeeded, its length."""
    obs, _ = env.reset(seed=seed)
    positions, done, steps = [env.pos.copy()], False, 0
    while not done:
        obs, _, terminated, truncated, info = env.step(policy(obs))
        positions.append(env.pos.copy())
        done, steps = terminated or truncated, steps + 1
    return positions, bool(terminated and info["success"]), steps


# ---------------------------------------------------------------------- layout and spaces
def test_default_layout_is_a_tree_maze_with_junctions_and_dead_ends(env):
    cells = env.free_cells()
    assert len(cells) == 27 and (env.height, env.width) == (9, 9)
    degree = {c: len(env.neighbours(c)) for c in cells}
    assert sum(degree.values()) // 2 == len(cells) - 1  # a tree: no loops, one way between two cells
    assert env.start_cell == (1, 1) and env.goal_cell == (7, 5)
    path = shortest_path(env)
    assert len(path) == 15 and path[0] == env.start_cell and path[-1] == env.goal_cell
    turns = sum(np.any(np.subtract(path[i + 1], path[i]) != np.subtract(path[i], path[i - 1]))
                for i in range(1, len(path) - 1))
    assert turns == 6
    junctions = [c for c in cells if degree[c] >= 3]
    assert junctions == [(1, 3), (3, 3), (3, 5), (3, 7)]
    assert [c for c in junctions if c in path] == [(1, 3), (3, 3), (3, 5)]
    dead_ends = [c for c in cells if degree[c] == 1 and c not in (env.start_cell, env.goal_cell)]
    assert dead_ends == [(1, 5), (1, 7), (3, 1), (7, 7)]
    assert env.observation_space.shape == (4,) and env.action_space.shape == (2,)


def test_observation_scaling_round_trips(env):
    obs, info = env.reset(seed=0)
    assert obs.dtype == np.float32 and env.observation_space.contains(obs)
    assert info == {"cell": env.start_cell, "success": False}
    np.testing.assert_allclose(env.positions(obs), env.pos, atol=1e-5)
    assert np.linalg.norm(env.pos - env.cell_center(env.start_cell)) <= np.sqrt(2) * env.start_noise
    assert PointMaze(goal_in_obs=True).reset(seed=0)[0].shape == (6,)


def test_gymnasium_env_checker_passes():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(gymnasium.make(ENV_ID, render_mode="ansi").unwrapped)
        check_env(gymnasium.make(ENV_ID, render_mode="ansi", wall_obs=True, goal_in_obs=True).unwrapped)


def test_render_draws_the_point():
    e = PointMaze(render_mode="ansi")
    e.reset(seed=0)
    assert e.render().splitlines()[1] == "#A....#.#"


def test_bad_layouts_are_rejected():
    with pytest.raises(LayoutError, match="unknown characters"):
        PointMaze(layout=["#S.X.G#"])
    with pytest.raises(LayoutError, match="exactly one 'S'"):
        PointMaze(layout=["#..G#"])
    with pytest.raises(LayoutError, match="exactly one 'G'"):
        PointMaze(layout=["#S.GG#"])
    with pytest.raises(LayoutError, match="row 1 has 3 characters"):
        PointMaze(layout=["#S.G#", "#.#"])
    with pytest.raises(LayoutError, match="cannot be reached"):
        PointMaze(layout=["#S#G#"])
    assert issubclass(LayoutError, ValueError) and issubclass(LayoutError, OrlkitError)


def test_load_layout_reads_files_and_names_them(tmp_path):
    good = tmp_path / "maze.txt"
    good.write_text("#####\n#S.G#\n#####\n\n")
    assert load_layout(good) == ["#####", "#S.G#", "#####"]
    bad = tmp_path / "bad.txt"
    bad.write_text("#####\n#S.G#\n#x###\n")
    with pytest.raises(LayoutError, match=r"bad\.txt: row 2 has unknown characters \['x'\]"):
        load_layout(bad)
    with pytest.raises(LayoutError, match="cannot read"):
        load_layout(tmp_path / "missing.txt")


# ---------------------------------------------------------------------- physics and walls
def test_walls_are_never_entered_over_long_random_rollouts(env):
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    positions = []
    for episode in range(30):
        env.reset(seed=episode)
        done, hold = False, rng.uniform(-1, 1, 2)
        while not done:
            if rng.random() < 0.1:  # held actions ram the walls at full speed
                hold = rng.choice([-1.0, 1.0], 2) if rng.random() < 0.5 else rng.uniform(-1, 1, 2)
            _, _, terminated, truncated, _ = env.step(hold)
            positions.append(env.pos.copy())
            done = terminated or truncated
    positions = np.array(positions)  # (T, 2)
    assert len(positions) > 3000
    assert env.is_free(positions).all()
    visited = {tuple(rc) for rc in env.cells_of(positions)}
    assert len(visited) >= 6  # the rollouts do get around the maze


def test_a_wall_stops_the_point_and_its_velocity(env):
    env.reset(options={"pos": (1.5, 1.5), "vel": (-2.0, -2.0)})
    for _ in range(20):
        _, reward, terminated, truncated, info = env.step(np.array([-1.0, -1.0], np.float32))
    assert info["cell"] == (1, 1) and reward == 0.0 and not terminated and not truncated
    np.testing.assert_allclose(env.pos, [1.0 + WALL_EPS, 1.0 + WALL_EPS])
    np.testing.assert_array_equal(env.vel, [0.0, 0.0])


def test_no_slipping_through_a_corner_between_two_walls():
    e = PointMaze(layout=["....", ".S#.", ".#G.", "...."])
    e.reset(options={"pos": (1.95, 1.95), "vel": (2.0, 2.0)})  # S's corner, heading diagonally for G
    _, _, terminated, _, info = e.step(np.ones(2, np.float32))
    assert info["cell"] == (1, 1) and not terminated
    np.testing.assert_array_equal(e.vel, [0.0, 0.0])


def test_goal_pays_one_and_terminates(env):
    env.reset(options={"pos": (4.9, 7.5), "vel": (1.0, 0.0)})  # cell (7, 4), moving right into G (7, 5)
    _, reward, terminated, truncated, info = env.step(np.array([1.0, 0.0], np.float32))
    assert reward == 1.0 and terminated and not truncated and info["success"]
    with pytest.raises(RuntimeError, match="after the episode ended"):
        env.step(np.zeros(2, np.float32))
    with pytest.raises(ValueError, match="free cell"):
        env.reset(options={"pos": (0.5, 0.5)})


def test_time_limit_truncates():
    e = PointMaze(max_steps=5)
    e.reset(seed=0)
    flags = [e.step(np.zeros(2, np.float32))[2:4] for _ in range(5)]
    assert flags[-1] == (False, True) and all(f == (False, False) for f in flags[:-1])


def test_reset_seed_makes_episodes_deterministic():
    def episode(seed):
        e = PointMaze()
        obs, _ = e.reset(seed=seed)
        rng, trace, done = np.random.default_rng(5), [obs], False
        while not done:
            obs, _, terminated, truncated, _ = e.step(rng.uniform(-1, 1, 2))
            trace.append(obs)
            done = terminated or truncated
        return np.array(trace)

    np.testing.assert_array_equal(episode(7), episode(7))
    assert not np.array_equal(episode(7), episode(8))


# ---------------------------------------------------------------------- oracle
@pytest.mark.parametrize("noise", [0.0, 0.3])
def test_oracle_reaches_the_goal_within_the_episode_limit(noise):
    e = make_env(ENV_ID)
    policy = OraclePolicy(e, noise=noise, seed=1)
    results = [rollout(e.unwrapped, policy, seed) for seed in range(20)]
    successes = [ok for _, ok, _ in results]
    assert np.mean(successes) >= 0.95
    assert max(steps for _, ok, steps in results if ok) < e.unwrapped.max_steps // 2


# ---------------------------------------------------------------------- the stitching dataset
def test_no_episode_holds_both_start_and_goal(env, data):
    cells = env.cells_of(env.positions(np.concatenate([data.obs, data.next_obs])))  # (2N, 2)
    in_s = np.all(cells == env.start_cell, axis=1).reshape(2, -1).any(axis=0)  # (N,)
    in_g = np.all(cells == env.goal_cell, axis=1).reshape(2, -1).any(axis=0)
    ids = data.episode_ids
    episodes_with_s = set(ids[in_s])
    episodes_with_g = set(ids[in_g])
    assert episodes_with_s and episodes_with_g  # both ends are in the data...
    assert not episodes_with_s & episodes_with_g  # ...but never in the same episode


def test_dataset_structure(env, data):
    assert len(data) == 5_000 and not data.discrete and data.obs_shape == (4,)
    assert np.abs(data.actions).max() <= 1.0 and np.abs(data.obs).max() <= 1.0
    assert env.is_free(env.positions(data.next_obs)).all()
    # Terminal only at the goal, with reward 1; rewards are exactly the terminals.
    np.testing.assert_array_equal(data.rewards, data.terminals.astype(np.float32))
    goal_dist = np.linalg.norm(env.positions(data.next_obs) - env.goal, axis=1)
    assert (goal_dist[data.terminals] <= env.goal_radius + 1e-5).all()
    assert (goal_dist[~data.terminals] > env.goal_radius - 1e-5).all()
    # Every episode ends in exactly one flag (the last, cut one included); no flags inside episodes.
    assert not (data.terminals & data.timeouts).any()
    starts, ends = data.episode_bounds
    assert (data.terminals | data.timeouts)[ends].all()
    assert (data.terminals | data.timeouts).sum() == data.n_episodes
    # Consecutive rows of an episode chain up.
    inner = np.setdiff1d(np.arange(len(data) - 1), ends)
    np.testing.assert_array_equal(data.next_obs[inner], data.obs[inner + 1])
    # An episode is one hop: it starts in its source cell and stays in {source, target}.
    cells = env.free_cells()
    src, tgt = data.extras["hop_source"], data.extras["hop_target"]
    first = env.cells_of(env.positions(data.obs[starts]))
    assert all(tuple(rc) == cells[s] for rc, s in zip(first, src[starts], strict=True))
    visited = env.cells_of(env.positions(data.obs))
    assert all(tuple(rc) in (cells[s], cells[t]) for rc, s, t in zip(visited, src, tgt, strict=True))
    # Hops that do not reach the goal end near the target centre (or at the dataset's end).
    targets = np.array([env.cell_center(cells[t]) for t in tgt[ends]])
    arrived = np.linalg.norm(env.positions(data.next_obs[ends]) - targets, axis=1) <= data.meta["hop_radius"] + 1e-5
    assert arrived[:-1].mean() > 0.9


def test_every_neighbouring_pair_is_covered_in_both_directions(env, data):
    starts, _ = data.episode_bounds
    cells = env.free_cells()
    covered = {(cells[s], cells[t]) for s, t in zip(data.extras["hop_source"][starts],
                                                    data.extras["hop_target"][starts], strict=True)}
    assert covered == set(hop_pairs(env))
    for a, b in hop_pairs(env):
        assert b == env.goal_cell or (b, a) in covered  # both directions, except leaving G
    goal_neighbour = env.neighbours(env.goal_cell)[0]
    assert (goal_neighbour, env.goal_cell) in covered
    # Hops into G end there with the env's own reward.
    assert data.terminals.sum() > 0


def test_dataset_is_deterministic_by_seed_and_rebuilds_its_env(data):
    again = make_pointmaze_dataset(n_transitions=5_000, seed=0)
    for name, col in data.columns().items():
        np.testing.assert_array_equal(col, getattr(again, name), err_msg=name)
    other = make_pointmaze_dataset(n_transitions=5_000, seed=1)
    assert not np.array_equal(data.obs, other.obs)
    e = make_env(data.meta["env_id"], data.meta["env_kwargs"])
    assert e.unwrapped.layout == DEFAULT_LAYOUT and data.meta["layout"] == list(DEFAULT_LAYOUT)
    assert e.observation_space.shape == data.obs_shape


def test_dataset_with_a_custom_layout(tmp_path):
    path = tmp_path / "s.txt"
    path.write_text("#######\n#S....#\n#####.#\n#.....#\n#.#####\n#....G#\n#######\n")
    layout = load_layout(path)
    ds = make_pointmaze_dataset(n_transitions=500, seed=0, layout=layout)
    assert ds.meta["env_kwargs"] == {"layout": layout} and len(ds) == 500
    with pytest.raises(LayoutError, match="hops apart"):
        make_pointmaze_dataset(n_transitions=100, layout=["#S..G#"])


def test_pointmaze_stitch_is_a_builtin_name():
    assert "pointmaze-stitch" in dataset_names()
    assert DATASETS["pointmaze-stitch"].env_id == ENV_ID


def test_start_spread_sets_where_hops_start(env):
    cells = env.free_cells()
    for spread in (0.0, 0.45):
        ds = make_pointmaze_dataset(n_transitions=2_000, seed=0, start_spread=spread)
        starts, _ = ds.episode_bounds
        centres = np.array([env.cell_center(cells[s]) for s in ds.extras["hop_source"][starts]])
        offset = np.abs(env.positions(ds.obs[starts]) - centres)
        assert offset.max() <= spread + 1e-5 and ds.meta["start_spread"] == spread
        if spread:
            assert offset.max() > 0.4
    for bad in (-0.1, 0.5):
        with pytest.raises(ValueError, match="start_spread"):
            make_pointmaze_dataset(n_transitions=100, start_spread=bad)


def test_wall_sensors_measure_the_distance_to_the_nearest_wall():
    e = PointMaze(wall_obs=True)
    assert e.observation_space.shape == (8,)
    both = PointMaze(goal_in_obs=True, wall_obs=True)
    obs, _ = both.reset(seed=0)
    assert obs.shape == (10,)
    np.testing.assert_allclose(both.positions(obs[4:6]), both.goal, atol=1e-5)  # the goal, then the sensors
    np.testing.assert_allclose(obs[6:], 2 * both.wall_distances() - 1, atol=1e-6)
    # Start cell (1, 1): walls above, below and to the left; (1, 2) free to the right.
    obs, _ = e.reset(options={"pos": (1.3, 1.6), "vel": (0.0, 0.0)})
    np.testing.assert_allclose(e.wall_distances(), [0.6, 1.0, 0.4, 0.3], atol=1e-12)
    np.testing.assert_allclose(obs[4:], [0.2, 1.0, -0.2, -0.4], atol=1e-6)
    np.testing.assert_allclose(e.positions(obs), (1.3, 1.6), atol=1e-5)  # the first four entries are unchanged
    # Junction (3, 3): free up, left and right; wall below.
    e.reset(options={"pos": (3.5, 3.9), "vel": (0.0, 0.0)})
    np.testing.assert_allclose(e.wall_distances(), [1.0, 1.0, 0.1, 1.0], atol=1e-12)
    # Pressing into the wall below drives that sensor to (almost) 0.
    for _ in range(10):
        obs, *_ = e.step(np.array([0.0, 1.0], np.float32))
    assert obs[6] < -0.999 and e.observation_space.contains(obs)
    with pytest.raises(ValueError, match="wall_obs must be True or False, got 'no'"):
        PointMaze(wall_obs="no")


def test_wall_sensor_data_has_the_same_hops_as_without():
    plain = make_pointmaze_dataset(n_transitions=2_000, seed=0)
    walls = make_pointmaze_dataset(n_transitions=2_000, seed=0, wall_obs=True)
    assert walls.obs.shape == (2_000, 8) and walls.meta["env_kwargs"]["wall_obs"] is True
    np.testing.assert_array_equal(walls.obs[:, :4], plain.obs)
    np.testing.assert_array_equal(walls.next_obs[:, :4], plain.next_obs)
    np.testing.assert_array_equal(walls.actions, plain.actions)
    np.testing.assert_array_equal(walls.rewards, plain.rewards)
    e = PointMaze(wall_obs=True)
    for i in range(0, 2_000, 97):  # the sensor columns are the env's sensors at each row's position
        e.reset(options={"pos": tuple(e.positions(walls.obs[i])), "vel": (0.0, 0.0)})
        np.testing.assert_allclose(walls.obs[i, 4:], 2 * e.wall_distances() - 1, atol=1e-5, err_msg=str(i))
    e = make_env(walls.meta["env_id"], walls.meta["env_kwargs"]).unwrapped
    assert e.wall_obs and e.observation_space.shape == walls.obs_shape
    assert "wall_obs" not in plain.meta["env_kwargs"]
