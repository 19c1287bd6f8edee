"""The fit loop: the run directory's files, resume equals uninterrupted, and refused misuse."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from orlkit.algos import ALGORITHMS, default_config
from orlkit.data.formats import save_dataset
from orlkit.errors import OrlkitError
from orlkit.train.checkpoint import latest_checkpoint, read_checkpoint
from orlkit.train.fit import RunConfig, build, load_run, train
from orlkit.train.io import read_jsonl

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def small(algo: str, **overrides: Any) -> dict[str, Any]:
    """Small networks and batches; target copies often enough to happen inside a short run."""
    fields = {f.name for f in dataclasses.fields(default_config(algo))}
    wanted = {"hidden": (32, 32), "batch_size": 64, "target_update_interval": 15, **overrides}
    return {k: v for k, v in wanted.items() if k in fields}


def run_config(data_path: str, algo: str = "bc", **kw: Any) -> RunConfig:
    base = dict(steps=40, eval_every=20, eval_episodes=2, log_every=10, tensorboard=False)
    return RunConfig(algo=algo, dataset=data_path, config=small(algo), **{**base, **kw})


def tmp_files(root: Path) -> list[str]:
    return [os.path.join(d, f) for d, _, files in os.walk(root) for f in files if f.endswith(".tmp")]


def final_checkpoint(out: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    ckpt = latest_checkpoint(out / "checkpoints")
    assert ckpt is not None
    return read_checkpoint(ckpt)


# ---------------------------------------------------------------------------------- the run directory
def test_run_directory_layout(data_path: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    summary = train(run_config(data_path, "cql-discrete", steps=25, eval_every=10, log_every=10), out, progress=False)

    config = json.loads((out / "config.json").read_text())
    assert config["algo"] == "cql-discrete" and config["steps"] == 25 and config["dataset"] == data_path
    assert set(config["config"]) == {f.name for f in dataclasses.fields(default_config("cql-discrete"))}, \
        "config.json must hold the whole algorithm config, defaults filled in"
    assert config["config"]["hidden"] == [32, 32]

    metrics = read_jsonl(out / "metrics.jsonl")
    assert [m["step"] for m in metrics] == [10, 20, 25]  # multiples of log_every, plus the final step
    keys = set(ALGORITHMS["cql-discrete"][0].metric_keys)
    assert all(set(m) == {"step"} | keys for m in metrics)
    assert all(np.isfinite(v) for m in metrics for v in m.values())

    evals = read_jsonl(out / "eval.jsonl")
    assert [e["step"] for e in evals] == [10, 20, 25]
    for e in evals:
        assert {"step", "return_mean", "return_std", "normalized_score"} <= set(e)
        assert e["normalized_score"] == pytest.approx(100 * (e["return_mean"] - 22.3) / (500 - 22.3))

    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk == json.loads(json.dumps(summary))
    assert summary["steps"] == 25
    assert summary["wall_time_s"] > 0 and summary["updates_per_sec"] > 0
    assert summary["final_eval"] == {k: v for k, v in evals[-1].items() if k != "step"}

    ckpts = sorted(p.name for p in (out / "checkpoints").iterdir())
    # every eval and the end; keep_checkpoints=2 keeps the last two pairs
    assert ckpts == ["step_00000020.json", "step_00000020.safetensors",
                     "step_00000025.json", "step_00000025.safetensors"]
    assert not (out / "tb").exists()
    assert not tmp_files(out)


def test_tensorboard_event_files(data_path: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    train(run_config(data_path, "bc", steps=20, eval_every=10, tensorboard=True), out, progress=False)
    assert list((out / "tb").glob("events.out.tfevents.*"))
    assert not tmp_files(out)


# ---------------------------------------------------------------------------------- resume
@pytest.mark.parametrize("algo", sorted(ALGORITHMS))
def test_resume_equals_uninterrupted(algo: str, data_path: str, continuous_path: str, tmp_path: Path) -> None:
    if ALGORITHMS[algo][0].continuous_only:
        data_path = continuous_path  # no env: nothing to evaluate in (Pendulum's actions are ±2)
    full, parts = tmp_path / "full", tmp_path / "parts"
    train(run_config(data_path, algo, steps=40), full, progress=False)
    train(run_config(data_path, algo, steps=20), parts, progress=False)
    summary = train(run_config(data_path, algo, steps=40), parts, resume=True, progress=False)
    assert summary["steps"] == 40 and summary["steps_this_session"] == 20

    (ta, ma), (tb, mb) = final_checkpoint(full), final_checkpoint(parts)
    assert ma["step"] == mb["step"] == 40
    assert ta.keys() == tb.keys()
    different = [k for k in ta if not torch.equal(ta[k], tb[k])]
    assert not different, f"tensors that differ between resumed and uninterrupted runs: {different}"
    assert ma == mb

    rows_a, rows_b = read_jsonl(full / "metrics.jsonl"), read_jsonl(parts / "metrics.jsonl")
    assert not [k for r in rows_a for k in r if "time" in k], "metrics hold time-like keys"
    assert [r["step"] for r in rows_a] == [10, 20, 30, 40]
    assert rows_a == rows_b
    assert read_jsonl(full / "eval.jsonl") == read_jsonl(parts / "eval.jsonl")
    assert json.loads((full / "config.json").read_text()) == json.loads((parts / "config.json").read_text())
    assert not tmp_files(parts)


def test_resume_drops_logs_written_after_the_last_checkpoint(data_path: str, tmp_path: Path) -> None:
    full, out = tmp_path / "full", tmp_path / "run"
    train(run_config(data_path, "cql-discrete", steps=40), full, progress=False)
    train(run_config(data_path, "cql-discrete", steps=20), out, progress=False)
    # A run killed after logging step 30 but before its next checkpoint (at 40).
    for name in ("metrics.jsonl", "eval.jsonl"):
        with open(out / name, "a") as f:
            f.write(json.dumps({"step": 30, "fake": 1.0}) + "\n")
    train(run_config(data_path, "cql-discrete", steps=40), out, resume=True, progress=False)
    steps = [r["step"] for r in read_jsonl(out / "metrics.jsonl")]
    assert steps == sorted(set(steps)) == [10, 20, 30, 40]
    assert not [r for r in read_jsonl(out / "metrics.jsonl") + read_jsonl(out / "eval.jsonl") if "fake" in r]
    assert read_jsonl(out / "metrics.jsonl") == read_jsonl(full / "metrics.jsonl")


def test_resume_before_the_first_checkpoint_starts_over(data_path: str, tmp_path: Path) -> None:
    full, out = tmp_path / "full", tmp_path / "run"
    train(run_config(data_path, "bc", steps=40), full, progress=False)
    train(run_config(data_path, "bc", steps=20), out, progress=False)
    for p in (out / "checkpoints").iterdir():  # as if killed after logging, before any checkpoint
        p.unlink()
    train(run_config(data_path, "bc", steps=40), out, resume=True, progress=False)
    assert read_jsonl(out / "metrics.jsonl") == read_jsonl(full / "metrics.jsonl")
    assert read_jsonl(out / "eval.jsonl") == read_jsonl(full / "eval.jsonl")


# ---------------------------------------------------------------------------------- refused misuse
def test_second_run_in_the_same_directory_is_refused(data_path: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    train(run_config(data_path, steps=10, eval_every=0), out, progress=False)
    before = (out / "metrics.jsonl").read_text()
    with pytest.raises(OrlkitError, match="already holds a run"):
        train(run_config(data_path, steps=10, eval_every=0), out, progress=False)
    assert (out / "metrics.jsonl").read_text() == before


def test_resume_of_an_empty_directory_is_refused(data_path: str, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for out in (tmp_path / "empty", tmp_path / "missing"):
        with pytest.raises(OrlkitError, match="nothing to resume"):
            train(run_config(data_path), out, resume=True, progress=False)
    assert not list((tmp_path / "empty").iterdir())
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize("steps", [10, 20])
def test_resume_to_no_more_steps_than_done_is_refused(steps: int, data_path: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    train(run_config(data_path, steps=20), out, progress=False)
    files = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(OrlkitError, match="already at step 20"):
        train(run_config(data_path, steps=steps), out, resume=True, progress=False)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == files


def test_resume_on_changed_data_is_refused(data_path: str, tmp_path: Path) -> None:
    """The run records its data's digest; resuming after the file changed (here one reward) loses nothing and
    says why, while the unchanged file resumes."""
    from orlkit.data.formats import load_dataset_file

    path = tmp_path / "data.npz"
    ds = load_dataset_file(data_path)
    save_dataset(ds, path)
    out = tmp_path / "run"
    train(run_config(str(path), steps=10), out, progress=False)
    assert json.loads((out / "config.json").read_text())["dataset_digest"] == ds.digest()
    cols = ds.columns()
    cols["rewards"] = cols["rewards"].copy()
    cols["rewards"][5] += 1.0
    changed = type(ds)(**cols, meta=ds.meta)
    save_dataset(changed, path)
    files = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(OrlkitError, match="not what this run was trained on"):
        train(run_config(str(path), steps=20), out, resume=True, progress=False)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == files
    save_dataset(ds, path)
    train(run_config(str(path), steps=20), out, resume=True, progress=False)
    assert json.loads((out / "summary.json").read_text())["steps"] == 20


def test_a_run_without_a_recorded_digest_still_resumes(data_path: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    train(run_config(data_path, steps=10), out, progress=False)
    config = json.loads((out / "config.json").read_text())
    del config["dataset_digest"]  # as written before digests were recorded
    (out / "config.json").write_text(json.dumps(config))
    train(run_config(data_path, steps=20), out, resume=True, progress=False)
    assert json.loads((out / "config.json").read_text())["dataset_digest"] == ""  # not claimed after the fact


@pytest.mark.parametrize("field,value", [("steps", 0), ("log_every", 0), ("eval_episodes", 0),
                                         ("eval_every", -1), ("checkpoint_every", -1)])
def test_bad_run_config_is_refused(field: str, value: int, data_path: str) -> None:
    # named as the CLI option where `orlkit train` has one, else as the field (there is no --checkpoint-every)
    name = field if field == "checkpoint_every" else "--" + field.replace("_", "-")
    with pytest.raises(OrlkitError, match=f"^{name} must be"):
        run_config(data_path, **{field: value})


@pytest.mark.parametrize("field", ["compile", "tensorboard"])
def test_switches_must_be_bools(field: str, data_path: str) -> None:
    with pytest.raises(OrlkitError, match=f"^RunConfig.{field} must be True or False, got 'no'"):
        run_config(data_path, **{field: "no"})  # a non-empty string would otherwise read as true


def test_unknown_config_key_is_refused(data_path: str) -> None:
    with pytest.raises(OrlkitError, match="nosuchkey"):
        RunConfig(algo="bc", dataset=data_path, config={"nosuchkey": 1})


# ---------------------------------------------------------------------------------- load_run
def test_load_run_restores_the_trained_algorithm(data_path: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    run = run_config(data_path, "cql-discrete", steps=30, eval_every=0)
    train(run, out, progress=False)

    # The same updates by hand: build, seed the sampler with the run's seed, update 30 times.
    algo, ds, env_id = build(run_config(data_path, "cql-discrete", steps=30, eval_every=0))
    sampler = ds.sampler(algo.config.batch_size, seed=run.seed)
    for _ in range(30):
        algo.update(sampler.sample())

    loaded, loaded_run, loaded_env = load_run(out)
    assert loaded_env == env_id == "CartPole-v1"
    assert loaded_run.algo == "cql-discrete" and loaded_run.steps == 30
    assert loaded.n_updates == 30
    obs = ds.obs[::37][:16]
    np.testing.assert_array_equal(loaded.act(obs, deterministic=True), algo.act(obs, deterministic=True))
    mine, theirs = algo.state_tensors(), loaded.state_tensors()
    for k in mine:
        if k.startswith(("modules.", "optimizers.")):
            assert torch.equal(mine[k], theirs[k]), k


def test_load_run_refuses_a_directory_that_is_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(OrlkitError, match="not a run directory"):
        load_run(tmp_path)
