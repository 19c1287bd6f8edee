"""``orlkit ope RUN_DIR``: off-policy evaluation of a trained run from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from orlkit.cli import main
from orlkit.data.dataset import TransitionDataset
from orlkit.data.formats import save_dataset
from orlkit.envs.gridworld import make_gridworld_dataset
from orlkit.ope import ESTIMATORS

pytestmark = pytest.mark.usefixtures("one_torch_thread")

LAYOUT = ["#####", "#..G#", "#...#", "#S.P#", "#####"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A ddqn run trained 50 steps on a tiny gridworld file whose extras hold the propensities."""
    root = tmp_path_factory.mktemp("ope")
    ds = make_gridworld_dataset("uniform", n_transitions=600, seed=0, layout=LAYOUT)
    ds = TransitionDataset(**ds.columns(), n_actions=ds.n_actions, meta=ds.meta,
                           extras={"propensities": np.full(len(ds), 0.25, np.float32)})
    data = save_dataset(ds, root / "grid.npz")
    out = root / "run"
    assert main(["train", "ddqn", "--dataset", str(data), "--steps", "50", "--eval-every", "0", "--eval-episodes",
                 "1", "--out", str(out), "--no-tensorboard", "--quiet", "--set", "hidden=16,16",
                 "--set", "batch_size=32"]) == 0
    no_propensities = save_dataset(make_gridworld_dataset("uniform", n_transitions=300, seed=1, layout=LAYOUT),
                                   root / "grid_no_propensities.npz")
    return out, no_propensities


def test_ope_json_on_the_training_data(run_dir, capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = run_dir
    capsys.readouterr()
    assert main(["ope", str(out), "--json", "--fqe-steps", "100", "--epsilon", "0.1"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["algo"] == "ddqn" and result["gamma"] == 0.99 and result["epsilon"] == 0.1
    assert result["propensities"] == "logged" and result["dataset"].endswith("grid.npz")
    for name in ESTIMATORS:
        assert np.isfinite(result[name]), name
    assert all(np.isfinite(result[f"{name}_stderr"]) for name in ESTIMATORS if name != "fqe")


def test_ope_table_on_another_dataset_estimates_the_behavior(run_dir, capsys: pytest.CaptureFixture[str]) -> None:
    out, other = run_dir
    capsys.readouterr()
    assert main(["ope", str(out), "--dataset", str(other), "--gamma", "0.9", "--fqe-steps", "50"]) == 0
    printed = capsys.readouterr().out
    assert "| estimator | estimate | stderr | what |" in printed
    for name in ESTIMATORS:
        assert f"| {name} |" in printed
    assert "γ = 0.9" in printed and "propensities: estimated" in printed


@pytest.mark.parametrize("extra, fragments", [
    (["--epsilon", "1.5"], ["--epsilon", "1.5"]),
    (["--fqe-steps", "0"], ["--fqe-steps"]),
    (["--gamma", "2"], ["gamma", "2"]),
    (["--dataset", "CONTINUOUS"], ["OPE here needs discrete actions"]),
])
def test_ope_bad_input_exits_2(run_dir, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str],
                               fragments: list[str]) -> None:
    out, _ = run_dir
    if "CONTINUOUS" in extra:
        n = 4
        obs = np.zeros((n, 9), np.float32)
        cont = TransitionDataset(obs, np.zeros((n, 1), np.float32), np.zeros(n), obs, np.ones(n, bool),
                                 np.zeros(n, bool))
        extra = ["--dataset", str(save_dataset(cont, tmp_path / "cont.npz"))]
    capsys.readouterr()
    assert main(["ope", str(out), "--fqe-steps", "10", *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("orlkit: error: ") and "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


def test_ope_of_a_directory_that_is_not_a_run_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ope", str(tmp_path)]) == 2
    assert "not a run directory" in capsys.readouterr().err
