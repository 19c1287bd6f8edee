"""``--compile``: the compiled update trains what the eager one trains; failures and misuse get one message."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import torch
from test_fit import final_checkpoint, run_config
from torch._dynamo.utils import counters

from orlkit.errors import OrlkitError
from orlkit.train.fit import train, train_together

pytestmark = pytest.mark.usefixtures("one_torch_thread")
needs_compiler = pytest.mark.skipif(shutil.which("c++") is None and shutil.which("g++") is None,
                                    reason="torch.compile on the CPU needs a C++ compiler")


@needs_compiler
def test_compiled_update_trains_what_the_eager_one_trains(data_path: str, tmp_path: Path, monkeypatch) -> None:
    """Algorithms without update_seeds (here Double DQN) compile ``update``."""
    torch._dynamo.reset()
    compiled_fns = []
    real_compile = torch.compile
    monkeypatch.setattr(torch, "compile", lambda fn, **kw: compiled_fns.append(fn) or real_compile(fn, **kw))
    run = run_config(data_path, "ddqn", steps=20, eval_every=20, log_every=10)
    eager = train(run, tmp_path / "eager", progress=False)
    assert compiled_fns == []
    compiled = train(dataclasses.replace(run, compile=True), tmp_path / "compiled", progress=False)
    assert [fn.__name__ for fn in compiled_fns] == ["update"]
    assert compiled["steps"] == eager["steps"] == 20
    (w_eager, _), (w_compiled, _) = final_checkpoint(tmp_path / "eager"), final_checkpoint(tmp_path / "compiled")
    keys = [k for k in w_eager if k.startswith("modules.q.")]
    assert keys
    for key in keys:  # the same training up to rounding (fused kernels round differently)
        torch.testing.assert_close(w_compiled[key], w_eager[key], rtol=1e-4, atol=1e-5)


@needs_compiler
@pytest.mark.parametrize("algo,precision,config", [("iql", "fp32", {"actor_lr_decay_steps": 30}),
                                                   ("iql", "bf16", {}), ("td3bc", "fp32", {}),
                                                   ("cql-discrete", "fp32", {}),
                                                   ("cql-continuous", "bf16", {"n_action_samples": 4}),
                                                   ("cql-continuous", "fp32", {"n_action_samples": 4, "bc_steps": 20,
                                                                               "max_backup": 3, "lagrange": True})])
def test_the_compiled_functional_update_trains_what_the_eager_one_trains(algo: str, precision: str, config: dict,
                                                                         request: pytest.FixtureRequest,
                                                                         tmp_path: Path, monkeypatch) -> None:
    """Algorithms with update_seeds compile it, for one seed, as one graph (IQL: with its cosine actor lr, decaying to
    0 within the run; TD3+BC: its noise and its actor step every second update; discrete CQL: its hard target copy
    every 15 updates; CQL in bf16: its sampled actions and the fused float32 Q-head; CQL with a BC warm-up of 20
    updates, max backup and Lagrangian α')."""
    torch._dynamo.reset()
    compiled_fns = []
    real_compile = torch.compile
    monkeypatch.setattr(torch, "compile", lambda fn, **kw: compiled_fns.append(fn) or real_compile(fn, **kw))
    discrete = algo == "cql-discrete"
    run = run_config(request.getfixturevalue("data_path" if discrete else "continuous_path"), algo, steps=40,
                     eval_every=40, log_every=10, precision=precision, env_id=None if discrete else "Pendulum-v1",
                     eval_episodes=1)
    run = dataclasses.replace(run, config={**run.config, **config})
    train(run, tmp_path / "eager", progress=False)
    graphs = counters["stats"]["unique_graphs"]
    train(dataclasses.replace(run, compile=True), tmp_path / "compiled", progress=False)
    assert [fn.__name__ for fn in compiled_fns] == ["update_seeds"]
    # One graph per update: random draws and flags that follow the update count are made outside it (seed_inputs);
    # TD3+BC has one graph with its actor step and one without, CQL with a BC warm-up one for it and one after. A
    # draw inside, or the update count read inside, breaks the graph or compiles it again (before seed_inputs:
    # TD3+BC 4 graphs, CQL 9).
    assert counters["stats"]["unique_graphs"] - graphs == (2 if algo == "td3bc" or config.get("bc_steps") else 1)
    w_eager, w_compiled = final_checkpoint(tmp_path / "eager")[0], final_checkpoint(tmp_path / "compiled")[0]
    assert w_eager.keys() == w_compiled.keys()
    assert any(k.startswith("optim") for k in w_eager)  # Adam's moments are checkpointed, and compared
    # Adam amplifies rounding where a gradient is near 0, so single elements drift apart: compare whole tensors. In
    # bf16 inductor rounds at other places than eager autocast does, and Adam's moments of small gradients (a bias
    # near 0) differ by several percent: there the weights only (fp32 compares the moments of the same code).
    tol = 1e-3 if precision == "fp32" else 1e-2
    for key in [k for k in w_eager if precision == "fp32" or k.startswith("modules.")]:
        a, b = w_compiled[key].double(), w_eager[key].double()
        assert (a - b).norm() <= tol * b.norm() + 1e-8, key
    torch._dynamo.reset()


@pytest.mark.parametrize("fails_at", [1, 2])
def test_a_failing_compile_is_one_error_and_keeps_the_checkpoints(fails_at: int, data_path: str, tmp_path: Path,
                                                                  monkeypatch) -> None:
    """At the first update, or later (torch.compile compiles again where a flag changes: TD3+BC's second update)."""
    out = tmp_path / "run"
    run = run_config(data_path, "bc", steps=20, eval_every=10)
    train(run, out, progress=False)
    before = sorted(p.name for p in (out / "checkpoints").iterdir())

    def broken(fn, **kwargs):
        calls = 0

        def call(*args, **kwargs):
            nonlocal calls
            calls += 1
            if calls == fails_at:
                raise RuntimeError("no compiler here")
            return fn(*args, **kwargs)
        return call
    monkeypatch.setattr(torch, "compile", broken)
    message = (r"--compile: torch.compile could not compile or run bc's update \(RuntimeError: no compiler here\); "
               r"train without --compile \(--resume continues from the last checkpoint\)")
    with pytest.raises(OrlkitError, match=message):
        train(dataclasses.replace(run, steps=30, compile=True), out, resume=True, progress=False)
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == before
    train(dataclasses.replace(run, steps=30), out, resume=True, progress=False)  # as the message says
    assert final_checkpoint(out)[1]["step"] == 30

    outs = [tmp_path / "s0", tmp_path / "s1"]  # the same with several seeds (--compile --seeds)
    with pytest.raises(OrlkitError, match=message):
        train_together(dataclasses.replace(run, compile=True), [0, 1], outs, progress=False)


@needs_compiler
def test_several_seeds_compiled_train_what_they_train_eager(continuous_path: str, tmp_path: Path) -> None:
    """``--compile --seeds``: update_seeds compiled for all seeds at once (TD3+BC: each seed's noise drawn outside the
    graph, one graph with the actor step and one without), each seed's run as the eager one's, also when it stops at
    an odd update (checkpoint) and resumes compiled."""
    torch._dynamo.reset()
    run = run_config(continuous_path, "td3bc", steps=20, eval_every=20, log_every=10, env_id="Pendulum-v1",
                     eval_episodes=1)
    seeds = [0, 3]
    train_together(run, seeds, [tmp_path / f"eager{s}" for s in seeds], progress=False)
    graphs = counters["stats"]["unique_graphs"]
    compiled = [tmp_path / f"compiled{s}" for s in seeds]
    train_together(dataclasses.replace(run, steps=11, compile=True), seeds, compiled, progress=False)
    summaries = train_together(dataclasses.replace(run, compile=True), seeds, compiled, resume=True, progress=False)
    assert counters["stats"]["unique_graphs"] - graphs == 2  # the resumed stack reuses the graphs
    assert [s["seed"] for s in summaries] == seeds and all(s["steps"] == 20 for s in summaries)
    for s in seeds:
        w_eager = final_checkpoint(tmp_path / f"eager{s}")[0]
        w_compiled = final_checkpoint(tmp_path / f"compiled{s}")[0]
        assert w_eager.keys() == w_compiled.keys()
        for key in w_eager:
            a, b = w_compiled[key].double(), w_eager[key].double()
            assert (a - b).norm() <= 1e-3 * b.norm() + 1e-8, (s, key)
    w0, w3 = final_checkpoint(tmp_path / "compiled0")[0], final_checkpoint(tmp_path / "compiled3")[0]
    assert not torch.equal(w0["modules.actor.net.0.weight"], w3["modules.actor.net.0.weight"])  # two runs, not one
    torch._dynamo.reset()


def test_runs_resumed_together_may_differ_in_compile(data_path: str, tmp_path: Path) -> None:
    """A seed resumed alone with --compile and then with the others without it: compiling changes no state."""
    run = run_config(data_path, "bc", steps=10, eval_every=10)
    outs = [tmp_path / "s0", tmp_path / "s1"]
    train_together(run, [0, 1], outs, progress=False)
    saved = json.loads((outs[1] / "config.json").read_text())
    (outs[1] / "config.json").write_text(json.dumps({**saved, "compile": True}))  # as a compiled resume records it
    summaries = train_together(dataclasses.replace(run, steps=20), [0, 1], outs, resume=True, progress=False)
    assert [s["steps"] for s in summaries] == [20, 20]
    assert json.loads((outs[1] / "config.json").read_text())["compile"] is False


@needs_compiler
def test_train_seeds_compiled_trains_what_it_trains_eager(monkeypatch) -> None:
    """The library function ``train_seeds(..., compile=True)``: the same weights and logs up to rounding; a compiler
    failure is one error that says what to do."""
    from test_seeds import dataset

    from orlkit.train.seeds import train_seeds

    torch._dynamo.reset()
    ds, config = dataset(False), {"batch_size": 32, "hidden": (16, 16)}
    eager, logs_eager = train_seeds("bc", ds, [0, 2], steps=6, config=config, log_every=3)
    compiled, logs_compiled = train_seeds("bc", ds, [0, 2], steps=6, config=config, log_every=3, compile=True)
    for a, b in zip(compiled, eager, strict=True):
        weights_a, weights_b = a.modules["policy"].state_dict(), b.modules["policy"].state_dict()
        for key in weights_b:
            assert (weights_a[key] - weights_b[key]).norm() <= 1e-4 * weights_b[key].norm() + 1e-8, key
    assert not torch.equal(compiled[0].policy[0].weight, compiled[1].policy[0].weight)  # two seeds, not one
    for rows_a, rows_b in zip(logs_compiled, logs_eager, strict=True):
        assert [r["step"] for r in rows_a] == [r["step"] for r in rows_b] == [3, 6]
        for ra, rb in zip(rows_a, rows_b, strict=True):
            assert ra["loss/bc"] == pytest.approx(rb["loss/bc"], rel=1e-4)
    torch._dynamo.reset()

    def broken(fn, **kwargs):
        def call(*args, **kw):
            raise RuntimeError("no compiler here")
        return call
    monkeypatch.setattr(torch, "compile", broken)
    with pytest.raises(OrlkitError, match=r"^compile=True: torch.compile could not compile or run bc's update "
                                          r"\(RuntimeError: no compiler here\); call train_seeds with compile=False$"):
        train_seeds("bc", ds, [0, 1], steps=2, config=config, compile=True)
