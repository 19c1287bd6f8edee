"""The ``orlkit`` command: output of the main commands, and exit codes (2 bad input, 1 internal error)."""

from __future__ import annotations

import argparse
import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest

from orlkit.cli import main
from orlkit.data.collect import collect
from orlkit.data.dataset import TransitionDataset
from orlkit.data.formats import save_dataset

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Dataset files: CartPole, Pendulum (continuous), NaN rewards, 3-dim obs with discrete actions."""
    root = tmp_path_factory.mktemp("data")
    cartpole = collect("CartPole-v1", lambda o: int(o[2] + o[3] > 0), 300, seed=0, epsilon=lambda p: 0.3)
    pendulum = collect("Pendulum-v1", lambda o: np.zeros(1, np.float32), 200, seed=0, epsilon=lambda p: 1.0)
    cols = cartpole.columns()
    np.savez(root / "nan.npz", **{**cols, "rewards": np.where(np.arange(len(cartpole)) == 7, np.nan,
                                                               cols["rewards"])})
    three = TransitionDataset(cols["obs"][:, :3], cols["actions"], cols["rewards"], cols["next_obs"][:, :3],
                              cols["terminals"], cols["timeouts"], n_actions=2)
    return {
        "cartpole": str(save_dataset(cartpole, root / "cartpole.npz")),
        "pendulum": str(save_dataset(pendulum, root / "pendulum.npz")),
        "nan": str(root / "nan.npz"),
        "three": str(save_dataset(three, root / "three.npz")),
    }


def train_args(dataset: str, out: Path, *extra: str, algo: str = "bc") -> list[str]:
    return ["train", algo, "--dataset", dataset, "--steps", "20", "--eval-every", "10", "--eval-episodes", "2",
            "--out", str(out), "--no-tensorboard", "--quiet", "--set", "hidden=32,32", *extra]


def assert_bad_input(rc: int, err: str, *fragments: str) -> str:
    """Exit code 2 and exactly one line on stderr: 'orlkit: error: ...' naming ``fragments``."""
    assert rc == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("orlkit: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


# ---------------------------------------------------------------------------------- data
def test_data_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert "cartpole-medium" in out and "gridworld-missing" in out


def test_data_info_json(data: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "info", data["cartpole"], "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["n_transitions"] == 300
    assert info["n_episodes"] >= 1
    assert np.isfinite(info["return_mean"]) and info["return_std"] >= 0
    assert info["obs_shape"] == [4]
    assert info["action_space"] == {"type": "discrete", "n": 2}


# ---------------------------------------------------------------------------------- train and eval
def test_train_then_eval(data: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert main(train_args(data["cartpole"], out)) == 0
    printed = capsys.readouterr().out
    assert "| result | value |" in printed and "| steps | 20 |" in printed and "return_mean" in printed
    assert f"run directory: {out}" in printed
    assert json.loads((out / "config.json").read_text())["config"]["hidden"] == [32, 32]

    assert main(["eval", str(out), "--episodes", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["algo"] == "bc" and result["env_id"] == "CartPole-v1" and result["episodes"] == 2
    assert np.isfinite(result["return_mean"]) and len(result["returns"]) == 2

    # The same command again is refused (exit 2); with --resume and more steps it continues.
    assert_bad_input(main(train_args(data["cartpole"], out)), capsys.readouterr().err, "--resume")
    assert main(train_args(data["cartpole"], out, "--resume", "--steps", "30")) == 0
    assert "| steps | 30 |" in capsys.readouterr().out


# ---------------------------------------------------------------------------------- bad input: exit 2
BAD_TRAIN = {
    # id: (extra args, algorithm, dataset key or literal, fragments the message names)
    "unknown-algorithm": ([], "nosuchalgo", "cartpole", ["nosuchalgo", "bc"]),
    "unknown-dataset-name": ([], "bc", "nosuch-dataset", ["nosuch-dataset", "cartpole-medium"]),
    "missing-file": ([], "bc", "missing.npz", ["missing.npz", "no such file"]),
    "nan-rewards": ([], "bc", "nan", ["rewards", "row 7", "NaN"]),
    "unknown-set-key": (["--set", "nosuchkey=1"], "bc", "cartpole", ["nosuchkey"]),
    "set-bad-float": (["--set", "lr=abc"], "bc", "cartpole", ["lr=abc", "float"]),
    "set-bad-bool": (["--set", "normalize_obs=maybe"], "bc", "cartpole", ["normalize_obs=maybe", "true or false"]),
    "set-without-equals": (["--set", "lr"], "bc", "cartpole", ["key=value", "'lr'"]),
    "zero-steps": (["--steps", "0"], "bc", "cartpole", ["--steps", "0"]),
    "set-nan-lr": (["--set", "lr=nan"], "bc", "cartpole", ["'lr'", "finite", "nan"]),
    "set-zero-batch": (["--set", "batch_size=0"], "bc", "cartpole", ["'batch_size'", "got 0"]),
    "set-gamma-one": (["--set", "gamma=1.0"], "ddqn", "cartpole", ["'gamma'", "[0.0, 1.0)"]),
    "set-zero-width": (["--set", "hidden=0,32"], "bc", "cartpole", ["'hidden'", "≥ 1"]),
    "discrete-only-on-continuous": ([], "dqn", "pendulum", ["dqn", "discrete", "continuous"]),
    "obs-do-not-fit-env": (["--env", "CartPole-v1"], "bc", "three", ["obs", "(3,)", "(4,)"]),
    "set-empty-hidden": (["--set", "hidden="], "bc", "cartpole", ["--set hidden=", "positive integers"]),
    "device-not-a-name": (["--device", "nosuch"], "bc", "cartpole", ["'nosuch'", "cuda:N"]),
    "device-without-that-gpu": (["--device", "cuda:99"], "bc", "cartpole", ["'cuda:99'"]),
    "device-not-for-training": (["--device", "meta"], "bc", "cartpole", ["'meta'", "cpu, cuda or mps"]),
}


@pytest.mark.parametrize("case", list(BAD_TRAIN))
def test_bad_train_input_exits_2(case: str, data: dict[str, str], tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    extra, algo, dataset, fragments = BAD_TRAIN[case]
    dataset = data.get(dataset, str(tmp_path / dataset) if dataset.endswith(".npz") else dataset)
    out = tmp_path / "run"
    rc = main(train_args(dataset, out, *extra, algo=algo))
    assert_bad_input(rc, capsys.readouterr().err, *fragments)
    assert not (out / "config.json").exists()  # a refused start leaves nothing to --resume


def test_unknown_flag_exits_2(data: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(train_args(data["cartpole"], tmp_path / "run", "--no-such-flag"))
    assert info.value.code == 2
    assert_bad_input(2, capsys.readouterr().err, "--no-such-flag")


def test_eval_of_a_directory_that_is_not_a_run_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert_bad_input(main(["eval", str(tmp_path)]), capsys.readouterr().err, "not a run directory")


def test_resume_refuses_options_that_differ_from_the_run(data: dict[str, str], tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """--resume continues a run as it was made: an option typed with another value than the run's is named and
    refused (it used to be ignored without a word); the run's own values, or none, continue it."""
    out = tmp_path / "run"
    assert main(train_args(data["cartpole"], out)) == 0
    capsys.readouterr()
    cases = [
        (train_args(data["cartpole"], out, "--resume", "--steps", "30", algo="ddqn"), ["algorithm ddqn", "bc"]),
        (train_args(data["three"], out, "--resume", "--steps", "30"), ["--dataset", "three.npz", "cartpole.npz"]),
        (train_args(data["cartpole"], out, "--resume", "--steps", "30", "--set", "lr=0.001"),
         ["--set lr=0.001", "0.0003"]),
        (train_args(data["cartpole"], out, "--resume", "--steps", "30", "--eval-every", "5"), ["--eval-every 5"]),
        (train_args(data["cartpole"], out, "--resume", "--steps", "30", "--seed", "3"), ["--seed 3"]),
        (train_args(data["cartpole"], out, "--resume", "--steps", "30", "--set", "hidden=8"),
         ["--set hidden=8", "32,32"]),
    ]
    for argv, fragments in cases:
        assert_bad_input(main(argv), capsys.readouterr().err, "--resume", *fragments)
    assert json.loads((out / "summary.json").read_text())["steps"] == 20  # nothing trained
    # The run's own values (train_args repeats them) and no options at all both continue it.
    assert main(train_args(data["cartpole"], out, "--resume", "--steps", "30", "--seed", "0")) == 0
    assert main(["train", "bc", "--dataset", data["cartpole"], "--out", str(out), "--resume", "--steps", "40",
                 "--quiet"]) == 0
    assert "| steps | 40 |" in capsys.readouterr().out


def test_an_output_path_that_cannot_be_a_directory_is_refused_before_any_work(
        data: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    afile = tmp_path / "notes.txt"
    afile.write_text("keep me")
    for out, fragments in ((afile, ["notes.txt", "not a directory"]), (afile / "run", ["notes.txt", "is a file"])):
        assert_bad_input(main(train_args(data["cartpole"], out)), capsys.readouterr().err, *fragments)
    assert afile.read_text() == "keep me"


def test_eval_in_an_environment_the_policy_does_not_fit_exits_2(data: dict[str, str], tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert main(train_args(data["cartpole"], out)) == 0
    config = json.loads((out / "config.json").read_text())
    for env_id, fragments in (("Acrobot-v1", ["4-dim observations", "(6,)"]),
                              ("MountainCar-v0", ["4-dim observations", "(2,)"])):
        (out / "config.json").write_text(json.dumps({**config, "env_id": env_id}))
        assert_bad_input(main(["eval", str(out), "--episodes", "1"]), capsys.readouterr().err, env_id, *fragments)


def test_a_damaged_config_or_log_exits_2_naming_the_file(data: dict[str, str], tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert main(train_args(data["cartpole"], out)) == 0
    capsys.readouterr()
    with open(out / "eval.jsonl", "a") as f:
        f.write('{"step": 30')  # a line cut short
    lines = len((out / "eval.jsonl").read_text().splitlines())
    for argv in (["plot", str(out), "--out", str(tmp_path / "plots")], train_args(data["cartpole"], out, "--resume",
                                                                                  "--steps", "30")):
        assert_bad_input(main(argv), capsys.readouterr().err, "eval.jsonl", f"line {lines}", "damaged")
    (out / "config.json").write_text("{")
    for argv in (["eval", str(out)], ["plot", str(out)], ["ope", str(out)]):
        assert_bad_input(main(argv), capsys.readouterr().err, "config.json", "cannot read")


@pytest.mark.parametrize("argv", [
    ["data", "make", "cartpole-medium", "--seed", "-4"],
    ["online", "sac", "--env", "Pendulum-v1", "--steps", "50", "--seed", "-2"],
    ["eval", "runs/x", "--seed", "-1"],
    ["ope", "runs/x", "--seed", "-1"],
    ["train", "bc", "--dataset", "cartpole-medium", "--seed", "-1"],
])
def test_a_negative_seed_is_refused_by_every_command(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert_bad_input(info.value.code, capsys.readouterr().err, "--seed", "non-negative integer")


def test_output_files_that_cannot_be_written_are_refused_before_the_work(
        data: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    afile = tmp_path / "notes.txt"
    afile.write_text("keep me")
    inside = str(afile / "out.npz")
    for argv in (["data", "make", "nosuch-data-never-made", "--out", inside],
                 ["relabel", "--reward", "no-model", "--dataset", data["cartpole"], "--out", inside],
                 ["demo", "goal-classifier", "--plot", str(afile / "gc.png")],
                 ["data", "make", "cartpole-medium", "--out", str(tmp_path)]):
        assert_bad_input(main(argv), capsys.readouterr().err, str(afile if "notes" in argv[-1] else tmp_path))
    assert afile.read_text() == "keep me"


def test_an_os_error_is_one_line_naming_the_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """What the file system refuses past the early checks (a read-only disk, /proc) is one message, exit 2."""
    import orlkit.cli as cli

    def refuse(args):
        raise PermissionError(13, "Permission denied", str(tmp_path / "x"))

    monkeypatch.setattr(cli, "cmd_algos", refuse)
    assert_bad_input(main(["algos"]), capsys.readouterr().err, str(tmp_path / "x"), "Permission denied")


def test_online_refuses_start_steps_that_leave_no_update(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["online", "sac", "--env", "Pendulum-v1", "--steps", "100", "--start-steps", "500"])
    assert_bad_input(rc, capsys.readouterr().err, "--start-steps 500", "--steps 100", "never update")


def test_resume_of_an_empty_directory_exits_2(data: dict[str, str], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(train_args(data["cartpole"], tmp_path, "--resume"))
    assert_bad_input(rc, capsys.readouterr().err, "nothing to resume")


# ---------------------------------------------------------------------------------- internal errors: exit 1
def test_internal_error_exits_1(data: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    from orlkit.algos.bc import BC

    def broken_update(self, batch):
        raise RuntimeError("a bug inside an update")

    monkeypatch.setattr(BC, "update", broken_update)
    assert main(train_args(data["cartpole"], tmp_path / "run")) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "a bug inside an update" in err and "internal error" in err


def test_eval_with_zero_episodes_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert_bad_input(main(["eval", str(tmp_path), "--episodes", "0"]), capsys.readouterr().err, "--episodes")


def test_demo_plot_for_a_demo_without_a_figure_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "conservatism", "--plot", "x.png"]) == 2
    assert "draws no plot" in capsys.readouterr().err


def test_demo_plot_to_a_format_matplotlib_cannot_write_exits_2_before_any_run(capsys: pytest.CaptureFixture[str],
                                                                              tmp_path) -> None:
    assert main(["demo", "goal-classifier", "--plot", str(tmp_path / "fig.xyz")]) == 2
    err = capsys.readouterr().err
    assert "cannot save a figure as '.xyz'" in err and "png" in err and not any(tmp_path.iterdir())
    assert main(["demo", "conservatism", "--seeds", "0"]) == 2
    assert "--seeds must be at least 1" in capsys.readouterr().err


def test_demo_seeds_for_the_one_seed_demo_exits_2_instead_of_being_ignored(capsys: pytest.CaptureFixture[str],
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import orlkit.demos.notifications as notifications

    monkeypatch.setattr(notifications, "run", lambda **kw: pytest.fail("the demo ran"))
    assert_bad_input(main(["demo", "notifications", "--seeds", "3"]), capsys.readouterr().err,
                     "notifications", "one fixed seed", "--seeds")


def test_demo_dataset_is_refused_where_the_demo_has_a_fixed_one_and_checked_where_it_has_not(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import orlkit.demos.stitching as stitching

    monkeypatch.setattr(stitching, "make_dataset", lambda name: pytest.fail("the demo ran"))
    assert_bad_input(main(["demo", "classic", "--dataset", "pointmaze-stitch"]), capsys.readouterr().err,
                     "classic", "fixed dataset", "--dataset")
    assert_bad_input(main(["demo", "stitching", "--dataset", "hopper-medium"]), capsys.readouterr().err,
                     "pointmaze-stitch-walls", "'hopper-medium'")


def test_online_train_eval_and_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "run")
    args = ["online", "sac", "--env", "Pendulum-v1", "--steps", "300", "--start-steps", "100", "--eval-every", "200",
            "--eval-episodes", "1", "--out", out, "--quiet", "--set", "hidden=16,16", "--set", "batch_size=16"]
    assert main(args) == 0
    assert "normalized_score" in capsys.readouterr().out
    assert main(["eval", out, "--episodes", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["env_id"] == "Pendulum-v1"
    assert main(args[:4] + ["--steps", "400", "--out", out, "--quiet", "--resume"]) == 0  # the saved config is used
    capsys.readouterr()
    assert main(args[:4] + ["--steps", "500", "--out", out, "--resume", "--set", "hidden=8"]) == 2
    assert "--set cannot change" in capsys.readouterr().err
    rc = main(args[:4] + ["--steps", "500", "--out", out, "--resume", "--eval-every", "50", "--start-steps", "100"])
    assert_bad_input(rc, capsys.readouterr().err, "--resume", "--eval-every 50 (the run has 200)")
    assert main(["online", "dqn", "--env", "Pendulum-v1"]) == 2
    assert main(["online", "sac", "--env", "CartPole-v1"]) == 2
    assert "continuous (Box) action space" in capsys.readouterr().err


def readme_usage_errors() -> list[tuple[str, str]]:
    """(command, message) rows of the README's usage-error table."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("Usage errors get the same treatment"):readme.index("## Layout")]
    return re.findall(r"^\| `(orlkit [^`]*)` \| `([^`]*)` \|$", section, flags=re.M)


def test_readme_usage_error_table_is_what_the_cli_prints(capsys: pytest.CaptureFixture[str]) -> None:
    rows = readme_usage_errors()
    assert len(rows) >= 8
    for command, message in rows:
        try:
            rc = main(shlex.split(command)[1:])
        except SystemExit as exc:  # argparse's own errors
            rc = exc.code
        line = assert_bad_input(rc, capsys.readouterr().err)
        pattern = ".*".join(re.escape(part) for part in message.split("..."))  # '...' elides the built-in names
        assert re.fullmatch(pattern, line), (command, line)


def test_cli_defaults_are_the_run_configs_defaults():
    """`orlkit train` / `orlkit online` defaults equal RunConfig's / OnlineConfig's (the Python API's). An option
    left unset (None: `train`'s, so that --resume can tell a typed option from a default) says the config's default
    in its --help."""
    import argparse
    import dataclasses

    from orlkit.cli import build_parser
    from orlkit.train.fit import RunConfig
    from orlkit.train.online import OnlineConfig

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for argv, cls in ((["train", "bc", "--dataset", "d"], RunConfig), (["online", "sac", "--env", "E"], OnlineConfig)):
        args = vars(parser.parse_args(argv))
        helps = {a.dest: a.help or "" for a in sub.choices[argv[0]]._actions}
        shared = [f for f in dataclasses.fields(cls) if f.name in args and f.default is not dataclasses.MISSING]
        assert {"steps", "eval_every", "eval_episodes"} <= {f.name for f in shared}
        for f in shared:
            if args[f.name] is None:
                assert f"default {f.default}" in helps[f.name], (argv[0], f.name, helps[f.name])
            else:
                assert args[f.name] == f.default, (argv[0], f.name)


def test_messages_name_exactly_the_config_fields_that_are_cli_options():
    """errors._CLI_OPTIONS (which makes a message say `--log-every` rather than `log_every`) holds every RunConfig /
    OnlineConfig field that `orlkit train` / `orlkit online` takes as a `--field-name` option, and nothing else."""
    import dataclasses

    from orlkit.cli import build_parser
    from orlkit.errors import _CLI_OPTIONS
    from orlkit.train.fit import RunConfig
    from orlkit.train.online import OnlineConfig

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    options = set()
    for cmd, cls in (("train", RunConfig), ("online", OnlineConfig)):
        flags = {s for a in sub.choices[cmd]._actions for s in a.option_strings}
        options |= {f.name for f in dataclasses.fields(cls) if "--" + f.name.replace("_", "-") in flags}
    assert options == _CLI_OPTIONS
