"""Does it learn: discrete offline RL on the built-in CartPole datasets (one seed each).

The README's 3-seed table comes from ``orlkit demo classic``; these are its quick versions.
"""

import pytest

from orlkit.data.registry import make_dataset
from orlkit.train.fit import RunConfig, train

pytestmark = pytest.mark.slow


def final_return(algo: str, dataset: str, tmp_path, steps: int = 5_000, seed: int = 0) -> float:
    run = RunConfig(algo=algo, dataset=dataset, steps=steps, seed=seed, eval_every=0, eval_episodes=10,
                    tensorboard=False)
    return train(run, tmp_path / f"{algo}-{dataset}", progress=False)["final_eval"]["return_mean"]


@pytest.mark.parametrize("algo", ["cql", "ddqn"])
def test_cql_and_ddqn_reach_the_behavior_return_on_cartpole_medium(algo, tmp_path):
    behavior = make_dataset("cartpole-medium").episode_returns.mean()  # about 165
    assert final_return(algo, "cartpole-medium", tmp_path) >= behavior


def test_pct_bc_beats_bc_on_the_random_expert_mix(tmp_path):
    bc = final_return("bc", "cartpole-random-expert", tmp_path)
    pct_bc = final_return("pct-bc", "cartpole-random-expert", tmp_path)
    assert pct_bc >= 450.0
    assert pct_bc >= bc
