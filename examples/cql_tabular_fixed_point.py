"""The exact fixed point of tabular discrete CQL on gridworld-missing data, for several α and data sizes.

No SGD: iterate Q(s,a) = ŷ(s,a) − α·(n(s)·μ(a|s)/n(s,a) − 1) with μ = softmax(Q(s,·)) and ŷ the empirical
max backup, for the (s, a) pairs in the data; pairs absent from the data are pushed to −10.
Then count dataset states where max_a Q̂(s,a) > V^π(s) (π greedy, exact DP) and the true return V^π(start).

    python examples/cql_tabular_fixed_point.py
"""

import numpy as np

from orlkit.envs.gridworld import GridWorld, make_gridworld_dataset, policy_evaluation

GAMMA = 0.9

for n in (10_000, 100_000):
    ds = make_gridworld_dataset("missing", seed=0, n_transitions=n)
    env = GridWorld(**ds.meta["env_kwargs"])
    P, R, T = env.model()
    s, s2, a = ds.obs.argmax(1), ds.next_obs.argmax(1), ds.actions
    S, A = R.shape
    n_sa = np.zeros((S, A))
    np.add.at(n_sa, (s, a), 1)
    n_s = n_sa.sum(1, keepdims=True)
    seen = n_sa > 0
    states = np.unique(s)
    states = states[~T[states]]
    for alpha in (0.0, 0.1, 0.5, 1.0):
        Q = np.where(seen, 0.0, -10.0 if alpha > 0 else 0.5)
        for _ in range(3000):  # damped fixed-point iteration
            y = np.zeros((S, A))
            np.add.at(y, (s, a), ds.rewards + GAMMA * (1 - ds.terminals) * Q[s2].max(1))
            mu = np.exp(Q - Q.max(1, keepdims=True))
            mu /= mu.sum(1, keepdims=True)
            target = np.where(seen, y / np.maximum(n_sa, 1) - alpha * (n_s * mu / np.maximum(n_sa, 1) - 1), Q)
            Q = 0.9 * Q + 0.1 * target
        pi = np.eye(A)[Q.argmax(1)]
        v_pi = (pi * policy_evaluation(P, R, T, pi, GAMMA)).sum(1)
        violating = int((Q.max(1)[states] > v_pi[states] + 1e-3).sum())
        print(f"n={n:>6} alpha={alpha:.1f}  violating states {violating:>2}/{len(states)}  "
              f"true return {v_pi[env.start_state]:+.3f}")
