"""GridWorld: the env against its exact model, exact DP identities, behavior policies and datasets."""

from __future__ import annotations

import warnings
from collections import deque

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import orlkit.envs  # noqa: F401  (registers the gym id)
from orlkit.envs.gridworld import (
    DEFAULT_LAYOUT,
    ENV_ID,
    GridWorld,
    allowed_actions,
    behavior_policy,
    greedy,
    make_gridworld_dataset,
    policy_evaluation,
    value_iteration,
)

UP, RIGHT, DOWN, LEFT = range(4)


@pytest.fixture(scope="module")
def env() -> GridWorld:
    return GridWorld()


@pytest.fixture(scope="module")
def model(env):
    return env.model()


@pytest.fixture(scope="module")
def missing_data():
    return make_gridworld_dataset("missing", n_transitions=5_000, seed=0)


def bellman_residual(P, R, terminal, Q, V, gamma) -> float:
    target = (R + gamma * P @ V) * ~terminal[:, None]
    return float(np.max(np.abs(Q - target)))


# ---------------------------------------------------------------------- env and model
def test_layout_states_and_spaces(env):
    assert env.n_states == 35  # 5 x 7 free cells, S/G/P included
    assert env.cells[env.start_state] == (5, 1)
    assert env.terminal.sum() == 6  # five pits and the goal
    assert env.observation_space.shape == (35,) and env.action_space.n == 4
    obs, info = env.reset(seed=0)
    assert obs.dtype == np.float32 and obs.sum() == 1.0 and obs[env.start_state] == 1.0
    assert info == {"state": env.start_state, "success": False}


def test_gymnasium_env_checker_passes():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(gymnasium.make(ENV_ID, start="uniform", render_mode="ansi").unwrapped)


def test_transition_rows_sum_to_one_and_terminals_absorb(model):
    P, R, terminal = model
    np.testing.assert_allclose(P.sum(axis=2), 1.0, atol=1e-12)
    assert (P >= 0).all()
    for t in np.flatnonzero(terminal):
        assert (P[t, :, t] == 1.0).all() and (R[t] == 0.0).all()


def test_walls_keep_the_agent_in_place(env, model):
    P, _, _ = model
    s = env.start_state  # bottom-left: walls to the left and below
    assert env.move(s, LEFT) == s and env.move(s, DOWN) == s
    # Intended bump (0.9 + 0.025) plus a slip into the other wall (0.025).
    assert P[s, LEFT, s] == pytest.approx(1 - env.slip + 2 * env.slip / 4)
    det = GridWorld(slip=0.0)
    det.reset(seed=0)
    _, reward, terminated, truncated, info = det.step(LEFT)
    assert info["state"] == s and reward == 0.0 and not terminated and not truncated


def test_env_steps_follow_the_model(env, model):
    """Empirical next-state frequencies from one (s, a) match P[s, a] (with slip 0.1)."""
    P, _, _ = model
    s, a, n = env.index[(4, 3)], DOWN, 20000  # above a pit
    env.reset(seed=1)
    counts = np.zeros(env.n_states)
    for _ in range(n):
        env.reset(options={"state": s})
        counts[env.step(a)[4]["state"]] += 1
    # 4 binomial standard errors per cell (and never a frequency where P is 0): a slip of 0.033 to three
    # directions instead of the model's 0.025 would fail in the slip cells
    p = P[s, a]
    assert np.all(counts[p == 0] == 0)
    np.testing.assert_array_less(np.abs(counts / n - p), 4 * np.sqrt(p * (1 - p) / n) + 1e-9)


def test_bad_layouts_are_rejected():
    with pytest.raises(ValueError, match="exactly one 'S'"):
        GridWorld(layout=["#..G#"])
    with pytest.raises(ValueError, match="unknown characters"):
        GridWorld(layout=["#S.X#"])
    with pytest.raises(ValueError, match="equal length"):
        GridWorld(layout=["#S.G#", "#.#"])


def test_reset_seed_makes_episodes_deterministic():
    def episode(seed):
        e = GridWorld(start="uniform")
        _, info = e.reset(seed=seed)
        states, done = [info["state"]], False
        while not done:
            _, _, terminated, truncated, info = e.step(int(e.np_random.integers(4)))
            states.append(info["state"])
            done = terminated or truncated
        return states

    assert episode(7) == episode(7)
    assert episode(7) != episode(8)


def test_time_limit_truncates_exactly_once_without_terminating():
    env = gymnasium.make(ENV_ID, slip=0.0)
    assert env.spec.max_episode_steps is None  # no TimeLimit wrapper: the env counts its own steps
    env.reset(seed=0)
    flags = [env.step(LEFT)[2:4] for _ in range(50)]  # bump the wall: never terminates
    assert flags[-1] == (False, True)
    assert all(f == (False, False) for f in flags[:-1])
    with pytest.raises(RuntimeError, match="after the episode ended"):
        env.step(LEFT)


def test_reaching_the_goal_terminates_with_success():
    env = GridWorld(slip=0.0)
    env.reset(options={"state": env.index[(4, 7)]})
    _, reward, terminated, truncated, info = env.step(DOWN)
    assert (reward, terminated, truncated, info["success"]) == (1.0, True, False, True)
    env.reset(options={"state": env.index[(4, 4)]})
    _, reward, terminated, _, info = env.step(DOWN)
    assert (reward, terminated, info["success"]) == (-1.0, True, False)


# ---------------------------------------------------------------------- dynamic programming
@pytest.mark.parametrize("gamma", [0.9, 0.99])
@pytest.mark.parametrize("name", ["uniform", "missing", "noisy-optimal"])
def test_policy_evaluation_satisfies_the_bellman_equation(env, model, name, gamma):
    P, R, terminal = model
    pi = behavior_policy(env, name)
    Q = policy_evaluation(P, R, terminal, pi, gamma)
    V = (pi * Q).sum(axis=1)
    assert bellman_residual(P, R, terminal, Q, V, gamma) < 1e-10
    assert (Q[terminal] == 0).all()


@pytest.mark.parametrize("gamma", [0.9, 0.99])
def test_value_iteration_is_optimal_and_dominates(env, model, gamma):
    P, R, terminal = model
    Q_star = value_iteration(P, R, terminal, gamma)
    assert bellman_residual(P, R, terminal, Q_star, Q_star.max(axis=1), gamma) < 1e-10
    for name in ("uniform", "missing", "noisy-optimal"):
        Q_pi = policy_evaluation(P, R, terminal, behavior_policy(env, name), gamma)
        assert (Q_star >= Q_pi - 1e-10).all()
    # The greedy policy's exact value is Q* itself.
    np.testing.assert_allclose(policy_evaluation(P, R, terminal, greedy(Q_star), gamma), Q_star, atol=1e-10)


def test_greedy_ties_go_to_the_lowest_action():
    pi = greedy(np.array([[0.0, 1.0, 1.0, 0.0], [2.0, 2.0, 2.0, 2.0]]))
    np.testing.assert_array_equal(pi, [[0, 1, 0, 0], [1, 0, 0, 0]])


def greedy_path(Q: np.ndarray) -> tuple[list[int], bool]:
    """States visited by the greedy policy of Q from the start, with no slip."""
    env = GridWorld(slip=0.0)
    _, info = env.reset(seed=0)
    path, done = [info["state"]], False
    while not done:
        _, _, terminated, truncated, info = env.step(int(np.argmax(Q[path[-1]])))
        path.append(info["state"])
        done = terminated or truncated
    return path, info["success"]


def test_greedy_policy_of_q_star_reaches_the_goal(env, model):
    path, success = greedy_path(value_iteration(*model, gamma=0.99))
    assert success and len(path) - 1 == 10  # with slip, Q* keeps one row away from the pits
    det = GridWorld(slip=0.0)
    path, success = greedy_path(value_iteration(*det.model(), gamma=0.99))
    assert success and len(path) - 1 == 8  # without slip, the shortest path runs beside the pits
    assert [env.cells[s][0] for s in path[1:-1]] == [4] * 7


@pytest.mark.parametrize("name", ["uniform", "missing"])
def test_monte_carlo_returns_agree_with_dp(name):
    """V^π(start) from rollouts with slip 0.1 lies within 4 standard errors of the exact value."""
    gamma, n_episodes = 0.9, 1000
    env = GridWorld(max_steps=150)  # cut returns differ from DP's by at most γ^150 ≈ 1e-7
    pi = behavior_policy(env, name)
    cum = np.cumsum(pi, axis=1)
    rng = np.random.default_rng(0)
    _, info = env.reset(seed=0)
    returns = np.empty(n_episodes)
    for i in range(n_episodes):
        _, info = env.reset()
        g, discount, done = 0.0, 1.0, False
        while not done:
            a = int(np.searchsorted(cum[info["state"]], rng.random() * cum[info["state"], -1], side="right"))
            _, r, terminated, truncated, info = env.step(a)
            g += discount * r
            discount *= gamma
            done = terminated or truncated
        returns[i] = g
    Q = policy_evaluation(*env.model(), pi, gamma)
    v_exact = pi[env.start_state] @ Q[env.start_state]
    se = returns.std(ddof=1) / np.sqrt(n_episodes)
    assert abs(returns.mean() - v_exact) < 4 * se + gamma**150


# ---------------------------------------------------------------------- behavior policies
def test_missing_forbids_pit_and_wall_moves(env):
    mask = allowed_actions(env)
    s = env.start_state
    np.testing.assert_array_equal(mask[s], [True, False, False, False])  # S only goes up
    for col in range(2, 7):  # right above the pits
        assert not mask[env.index[(4, col)], DOWN]
    assert mask[env.index[(4, 7)], DOWN]  # into the goal is fine
    assert not mask[env.index[(1, 3)], UP] and not mask[env.index[(2, 7)], RIGHT]
    assert mask[~env.terminal].sum() == 29 * 4 - 7 - 5 - 4 - 5 - 2  # up, left, right, down, S's extra
    pi = behavior_policy(env, "missing")
    np.testing.assert_allclose(pi.sum(axis=1), 1.0)
    assert ((pi > 0) == mask)[~env.terminal].all()
    noisy = behavior_policy(env, "noisy-optimal")
    assert (noisy[~mask] == 0).all()
    with pytest.raises(ValueError, match="unknown behavior"):
        behavior_policy(env, "expert")


def test_missing_keeps_a_safe_path_from_start_to_goal(env):
    """Breadth-first search over allowed no-slip moves reaches the goal from the start."""
    mask = allowed_actions(env)
    seen, queue = {env.start_state}, deque([env.start_state])
    while queue:
        s = queue.popleft()
        if env.terminal[s]:
            continue
        for a in np.flatnonzero(mask[s]):
            nxt = env.move(s, a)
            assert env.kinds[nxt] != "P"
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    assert any(env.kinds[s] == "G" for s in seen)


def test_overestimating_missing_actions_walks_into_a_pit(env, model):
    """The lecture's point: a critic that over-rates the never-taken pairs follows them."""
    P, R, terminal = model
    gamma = 0.99
    Q_star = value_iteration(P, R, terminal, gamma)
    Q_naive = np.where(allowed_actions(env), Q_star, Q_star.max() + 0.1)
    s = env.start_state
    pi_naive = greedy(Q_naive)
    v_naive = pi_naive[s] @ policy_evaluation(P, R, terminal, pi_naive, gamma)[s]  # its true value
    assert pi_naive[s, RIGHT] == 1.0  # straight into the pit
    assert v_naive < -0.9 < 0.8 < Q_star[s].max()


# ---------------------------------------------------------------------- datasets
def test_missing_dataset_covers_exactly_the_allowed_pairs(env, missing_data):
    states = missing_data.obs.argmax(axis=1)
    seen = np.zeros((env.n_states, 4), dtype=bool)
    seen[states, missing_data.actions] = True
    mask = allowed_actions(env)
    assert not (seen & ~mask).any()
    visited = np.unique(states)
    np.testing.assert_array_equal(seen[visited], mask[visited])
    assert set(visited) == set(np.flatnonzero(~env.terminal))  # uniform starts cover every state


def test_dataset_structure_and_meta(env, missing_data):
    ds = missing_data
    assert ds.n_transitions == 5_000 and ds.n_actions == 4 and ds.obs.shape == (5_000, 35)
    assert ds.terminals[-1] or ds.timeouts[-1]
    assert not (ds.terminals & ds.timeouts).any()
    next_states = ds.next_obs.argmax(axis=1)
    np.testing.assert_array_equal(ds.terminals, env.terminal[next_states])
    np.testing.assert_array_equal(ds.rewards[ds.terminals] != 0, True)
    assert (ds.rewards[~ds.terminals] == 0).all()
    # Within an episode, each row's next state is the following row's state.
    cont = ~(ds.terminals | ds.timeouts)[:-1]
    np.testing.assert_array_equal(next_states[:-1][cont], ds.obs.argmax(axis=1)[1:][cont])
    assert ds.meta == {"env_id": ENV_ID, "env_kwargs": {"slip": 0.1}, "behavior": "missing", "seed": 0,
                       "start": "uniform"}
    rebuilt = gymnasium.make(ds.meta["env_id"], **ds.meta["env_kwargs"]).unwrapped
    assert rebuilt.layout == DEFAULT_LAYOUT and rebuilt.start == "fixed"


def test_dataset_is_deterministic_and_cut_mid_episode_becomes_a_timeout():
    a = make_gridworld_dataset("noisy-optimal", n_transitions=777, seed=3)
    b = make_gridworld_dataset("noisy-optimal", n_transitions=777, seed=3)
    c = make_gridworld_dataset("noisy-optimal", n_transitions=777, seed=4)
    for name, col in a.columns().items():
        np.testing.assert_array_equal(col, b.columns()[name], err_msg=name)
    assert not np.array_equal(a.actions, c.actions)
    tiny = make_gridworld_dataset("uniform", n_transitions=1, seed=0, start="fixed", slip=0.0,
                                  layout=list(DEFAULT_LAYOUT))
    assert tiny.timeouts[-1] and not tiny.terminals[-1]  # seed 0 steps DOWN into the wall: cut mid-episode
    assert tiny.meta["env_kwargs"] == {"slip": 0.0, "layout": list(DEFAULT_LAYOUT)}
