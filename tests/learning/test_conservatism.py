"""The lecture's claims on the gridworld with missing actions, checked against exact DP answers.

(a) the naive offline critics (DQN, Double DQN) overestimate Q on actions the data never shows;
(b) CQL keeps E_π[Q̂(s,·)] ≤ E_π[Q^π(s,·)] at every dataset state, the naive critics do not;
(c) CQL's greedy policy has a higher true return than the naive critics' and than BC's.
"""

import pytest

from orlkit.demos.conservatism import measure

pytestmark = pytest.mark.slow


SEEDS = {"cql": (0, 1), "dqn": (0,), "ddqn": (0,), "bc": (0,)}


@pytest.fixture(scope="module")
def results():
    return {name: [measure(name, seed) for seed in seeds] for name, seeds in SEEDS.items()}


@pytest.mark.parametrize("naive", ["dqn", "ddqn"])
def test_naive_critic_overestimates_unseen_actions(results, naive):
    for r in results[naive]:
        assert r["max_unseen_overestimation"] > 0.5
        assert r["violating_states"] > r["n_dataset_states"] // 2


def test_cql_is_conservative_at_every_dataset_state(results):
    for r in results["cql"]:
        assert r["max_unseen_overestimation"] < 0.0
        assert r["violating_states"] == 0


def test_cql_policy_beats_naive_critics_and_bc(results):
    for r in results["cql"]:
        assert r["true_return"] >= 0.6 * r["optimal_return"]
        for other in ("dqn", "ddqn", "bc"):
            assert r["true_return"] > results[other][0]["true_return"] + 0.1, other
