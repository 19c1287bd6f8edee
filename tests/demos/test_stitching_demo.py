"""The machinery of `orlkit demo stitching` on tiny runs (structure only; the numbers are in docs/pointmaze.md)."""

import json

import numpy as np
import pytest

from orlkit.data.registry import make_dataset
from orlkit.demos import stitching

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_demo_json_has_every_algorithm_and_the_dataset_fact(capsys):
    assert stitching.main(json_output=True, seeds=1, steps=2, eval_episodes=1) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["seeds"] == 1 and out["steps"] == {name: 2 for name in stitching.JOBS}
    assert set(out["algorithms"]) == {"bc", "pct-bc", "iql", "cql"}
    for r in out["algorithms"].values():
        assert len(r["per_seed"]) == 1 and 0.0 <= r["success_rate"] <= 1.0 and r["success_rate_std"] == 0.0
    data = out["data"]
    assert data["episodes_in_start_cell"] > 0 and data["episodes_in_goal_cell"] > 0
    assert data["episodes_start_to_goal"] == 0


def test_table_names_the_dataset_fact():
    results = {"dataset": "pointmaze-stitch", "seeds": 2, "eval_episodes": 20, "steps": {"iql": 10},
               "data": {"episodes": 5, "episodes_in_start_cell": 2, "episodes_in_goal_cell": 1,
                        "episodes_start_to_goal": 0},
               "algorithms": {"iql": {"success_rate": 0.9, "success_rate_std": 0.05, "per_seed": [0.85, 0.95]}}}
    text = stitching.table(results)
    assert "90 % ± 5 %" in text and "no episode goes from start to goal" in text


def test_reward_shift_changes_only_the_rewards():
    ds = make_dataset("pointmaze-stitch")
    shifted = stitching.shift_rewards(ds, -1.0)
    np.testing.assert_array_equal(shifted.rewards, ds.rewards - 1.0)
    for name, col in ds.columns().items():
        if name != "rewards":
            np.testing.assert_array_equal(shifted.columns()[name], col, err_msg=name)
    assert shifted.meta["env_id"] == ds.meta["env_id"]
    assert stitching.shift_rewards(ds, 0.0) is ds


def test_demo_runs_on_the_wall_sensor_data():
    res = stitching.run(1, steps=2, jobs={"cql": stitching.JOBS["cql"]}, eval_episodes=1, progress=False,
                        dataset="pointmaze-stitch-walls")
    assert res["dataset"] == "pointmaze-stitch-walls" and set(res["algorithms"]) == {"cql"}
    assert res["data"]["episodes_start_to_goal"] == 0 and res["data"]["episodes_in_goal_cell"] > 0
    walls, plain = make_dataset("pointmaze-stitch-walls"), make_dataset("pointmaze-stitch")
    assert walls.obs.shape == (len(plain), 8)
    np.testing.assert_array_equal(walls.obs[:, :4], plain.obs)
    np.testing.assert_array_equal(walls.actions, plain.actions)
