"""Several seeds at once (orlkit.train.seeds): S vectorised seeds are S separate runs, up to rounding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from orlkit.algos import DataSpec, config_from_dict, make_algorithm
from orlkit.data.dataset import TransitionDataset
from orlkit.errors import OrlkitError
from orlkit.train.seeds import SeedStack, supported, train_seeds

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SEEDS = [0, 1, 2]


def dataset(discrete: bool, n: int = 400) -> TransitionDataset:
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(n, 5)).astype(np.float32)
    actions = rng.integers(0, 3, n) if discrete else rng.uniform(-1, 1, (n, 2)).astype(np.float32)
    terminals = np.zeros(n, bool)
    terminals[99::100] = True
    timeouts = np.zeros(n, bool)
    timeouts[49::100] = True
    return TransitionDataset(obs, actions, rng.normal(size=n).astype(np.float32),
                             rng.normal(size=(n, 5)).astype(np.float32), terminals, timeouts)


# (algorithm, discrete actions, config overrides); IQL once with an actor lr that decays to 0 within the test
CASES = [("bc", False, {}), ("bc", True, {}), ("pct-bc", False, {}), ("iql", False, {}),
         ("iql", False, {"actor_lr_decay_steps": 4}), ("td3bc", False, {}),
         ("cql-continuous", False, {"n_action_samples": 3}),
         ("cql-continuous", False, {"n_action_samples": 3, "lagrange": True, "target_gap": 1.0, "bc_steps": 3}),
         ("cql-continuous", False, {"n_action_samples": 3, "max_backup": 4}),
         ("cql-continuous", False, {"n_action_samples": 3, "critic_layer_norm": True}),
         ("cql-discrete", True, {"target_update_interval": 2}), ("cql-discrete", True, {"double": False})]


def build(name: str, ds: TransitionDataset, seed: int, **overrides):
    cfg = config_from_dict(name, {"batch_size": 32, "hidden": (16, 16), **overrides})
    return make_algorithm(name, DataSpec.from_dataset(ds), cfg, seed=seed)


def separate_runs(name: str, ds: TransitionDataset, steps: int, **overrides):
    data = build(name, ds, 0, **overrides).prepare(ds)
    runs = []
    for s in SEEDS:
        algo, sampler = build(name, ds, s, **overrides), data.sampler(32, seed=s)
        metrics = [algo.update(sampler.sample()) for _ in range(steps)]
        runs.append((algo, metrics))
    return data, runs


def state(algo) -> dict[str, torch.Tensor]:
    return {f"{m}.{k}": t.float() for m, mod in algo.modules.items() for k, t in mod.state_dict().items()}


def assert_same_state(a, b) -> None:
    sa, sb = state(a), state(b)
    assert sa.keys() == sb.keys()
    for k in sa:
        torch.testing.assert_close(sa[k], sb[k], rtol=1e-5, atol=1e-6, msg=k)


@pytest.mark.parametrize("name,discrete,overrides", CASES)
def test_vectorised_seeds_equal_separate_runs(name: str, discrete: bool, overrides: dict) -> None:
    ds = dataset(discrete)
    steps = 6
    data, runs = separate_runs(name, ds, steps, **overrides)
    algos = [build(name, ds, s, **overrides) for s in SEEDS]
    stack = SeedStack(algos)
    samplers = [data.sampler(32, seed=s) for s in SEEDS]
    metrics = [stack.floats(stack.update(stack.sample(samplers))) for _ in range(steps)]
    stack.write_back()
    for i, (ref, ref_metrics) in enumerate(runs):
        assert algos[i].n_updates == ref.n_updates == steps
        assert_same_state(algos[i], ref)
        for t in range(steps):
            assert metrics[t][i].keys() == ref_metrics[t].keys()
            np.testing.assert_allclose(list(metrics[t][i].values()), list(ref_metrics[t].values()), rtol=1e-4,
                                       atol=1e-5)
    # the seeds really differ: same data, different runs
    assert not torch.equal(state(algos[0])[next(iter(state(algos[0])))], state(algos[1])[next(iter(state(algos[1])))])


@pytest.mark.parametrize("name", ["iql", "td3bc", "cql-continuous"])
def test_stack_resumes_and_hands_back_optimizer_state(name: str) -> None:
    """3 separate updates, 3 stacked ones (Adam's moments carried in), then 2 separate ones again (carried out)
    equal 8 separate updates."""
    ds = dataset(False)
    data, runs = separate_runs(name, ds, 8)
    algos = [build(name, ds, s) for s in SEEDS]
    samplers = [data.sampler(32, seed=s) for s in SEEDS]
    for a, smp in zip(algos, samplers, strict=True):
        for _ in range(3):
            a.update(smp.sample())
    stack = SeedStack(algos)
    for _ in range(3):
        stack.update(stack.sample(samplers))
    stack.write_back()
    for a, smp in zip(algos, samplers, strict=True):
        for _ in range(2):
            a.update(smp.sample())
    for a, (ref, _) in zip(algos, runs, strict=True):
        assert a.n_updates == ref.n_updates == 8
        assert_same_state(a, ref)
        # optimizer moments too
        for opt_name, opt in a.optimizers.items():
            ref_opt = ref.optimizers[opt_name]
            for p, q in zip(opt.param_groups[0]["params"], ref_opt.param_groups[0]["params"], strict=True):
                torch.testing.assert_close(opt.state[p]["exp_avg_sq"], ref_opt.state[q]["exp_avg_sq"],
                                           rtol=1e-4, atol=1e-9)


@pytest.mark.parametrize("name,discrete,overrides", CASES)
def test_a_shared_stack_steps_the_algorithms_own_weights(name: str, discrete: bool, overrides: dict) -> None:
    """SeedStack(share=True), what --compile runs: 3 updates of the algorithm, 3 through the stack (no write_back),
    then 2 of the algorithm again equal 8 updates of the algorithm, weights, Adam's moments and learning rates."""
    ds = dataset(discrete)
    (data, [(ref, _), *_]) = separate_runs(name, ds, 8, **overrides)
    algo, sampler = build(name, ds, 0, **overrides), data.sampler(32, seed=0)
    for _ in range(3):
        algo.update(sampler.sample())
    stack = SeedStack([algo], share=True)
    for _ in range(3):
        stack.update(sampler.sample().unsqueeze())
    # the stack set the scheduled learning rates in the algorithm's own optimizers too (IQL's decays to 0 by update 4)
    lrs = {n: o.param_groups[0]["lr"] for n, o in algo.optimizers.items()}
    assert lrs == pytest.approx({n: float(t) for n, t in stack._lr.items()})
    if name == "iql" and overrides:
        assert lrs["actor"] == 0.0
    for _ in range(2):
        algo.update(sampler.sample())
    assert algo.n_updates == ref.n_updates == 8
    assert_same_state(algo, ref)
    for opt_name, opt in algo.optimizers.items():
        ref_opt = ref.optimizers[opt_name]
        assert opt.param_groups[0]["lr"] == pytest.approx(ref_opt.param_groups[0]["lr"])
        for p, q in zip(opt.param_groups[0]["params"], ref_opt.param_groups[0]["params"], strict=True):
            torch.testing.assert_close(opt.state[p]["exp_avg"], ref_opt.state[q]["exp_avg"], rtol=1e-4, atol=1e-7)
            assert float(opt.state[p]["step"]) == float(ref_opt.state[q]["step"])
    module, tensors = next(iter(stack.tensors.items()))
    param, stacked = next(iter(tensors.items()))  # a view, not a copy
    assert stacked.data_ptr() == dict(algo.modules[module].named_parameters())[param].data_ptr()
    with pytest.raises(OrlkitError, match="takes one algorithm"):
        SeedStack([build(name, ds, 0, **overrides), build(name, ds, 1, **overrides)], share=True)


def test_train_seeds_logs_every_seed_and_matches_a_separate_run() -> None:
    ds = dataset(False)
    algos, logs = train_seeds("td3bc", ds, [3, 5], steps=5, config={"batch_size": 32, "hidden": (16, 16)},
                              log_every=2)
    assert [a.seed for a in algos] == [3, 5]
    assert [[r["step"] for r in rows] for rows in logs] == [[2, 4, 5], [2, 4, 5]]
    ref = build("td3bc", ds, 5)
    sampler = ref.prepare(ds).sampler(32, seed=5)
    for _ in range(5):
        ref.update(sampler.sample())
    assert_same_state(algos[1], ref)
    obs = ds.obs[:7]
    np.testing.assert_allclose(algos[1].act(obs), ref.act(obs), rtol=1e-5, atol=1e-6)


def test_bad_input_gets_one_clear_message() -> None:
    ds = dataset(False)
    assert {"bc", "iql", "td3bc", "cql-continuous"} <= set(supported())
    with pytest.raises(OrlkitError, match="sac cannot train several seeds.*iql"):
        train_seeds("sac", ds, [0, 1], steps=1)
    with pytest.raises(OrlkitError, match="distinct"):
        train_seeds("bc", ds, [0, 0], steps=1)
    with pytest.raises(OrlkitError, match=r"train_seeds: compile must be True or False, got 'no'"):
        train_seeds("bc", ds, [0, 1], steps=1, compile="no")
    with pytest.raises(OrlkitError, match="one config"):
        SeedStack([build("bc", ds, 0), make_algorithm("bc", DataSpec.from_dataset(ds), seed=1)])
    a, b = build("bc", ds, 0), build("bc", ds, 1)
    stack = SeedStack([a, b])
    with pytest.raises(OrlkitError, match="3 samplers for 2 seeds"):
        stack.sample([ds.sampler(32, seed=s) for s in SEEDS])


# ---------------------------------------------------------------------------------------------- the fit loop
def fit_run(path: str, algo: str = "td3bc", **kw):
    from orlkit.train.fit import RunConfig

    base = dict(steps=30, eval_every=15, eval_episodes=1, log_every=10, tensorboard=False, env_id="Pendulum-v1")
    return RunConfig(algo=algo, dataset=path, config={"hidden": (16, 16), "batch_size": 32}, **{**base, **kw})


def final_weights(out) -> dict[str, torch.Tensor]:
    from orlkit.train.checkpoint import latest_checkpoint, read_checkpoint

    tensors, _ = read_checkpoint(latest_checkpoint(out / "checkpoints"))
    return {k: v for k, v in tensors.items() if k.startswith("modules.")}


def assert_same_run(a, b) -> None:
    from orlkit.train.io import read_jsonl

    wa, wb = final_weights(a), final_weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=1e-5, atol=1e-6, msg=k)
    for name in ("metrics.jsonl", "eval.jsonl"):
        ra, rb = read_jsonl(a / name), read_jsonl(b / name)
        common = {r["step"] for r in ra} & {r["step"] for r in rb}  # a resumed run also logged where it stopped
        ra, rb = [r for r in ra if r["step"] in common], [r for r in rb if r["step"] in common]
        assert len(common) >= 2 and [r["step"] for r in ra] == [r["step"] for r in rb]
        for x, y in zip(ra, rb, strict=True):
            assert x.keys() == y.keys()
            np.testing.assert_allclose([x[k] for k in x], [y[k] for k in x], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("algo", ["td3bc", "iql"])
def test_train_together_writes_the_run_directories_train_writes(algo: str, continuous_path: str, tmp_path) -> None:
    from orlkit.train.fit import train, train_together

    together = train_together(fit_run(continuous_path, algo), [0, 4], [tmp_path / "t0", tmp_path / "t4"],
                              progress=False)
    assert [s["seed"] for s in together] == [0, 4] and all(s["seeds_together"] == 2 for s in together)
    for seed in (0, 4):
        train(fit_run(continuous_path, algo, seed=seed), tmp_path / f"s{seed}", progress=False)
        assert_same_run(tmp_path / f"t{seed}", tmp_path / f"s{seed}")


def test_train_together_resumes_alone_or_together(continuous_path: str, tmp_path) -> None:
    """Stopped at 15 and resumed to 30 (together, or one seed alone) equals 30 uninterrupted updates."""
    from orlkit.train.fit import train, train_together

    dirs = [tmp_path / "a0", tmp_path / "a1"]
    train_together(fit_run(continuous_path, steps=15), [0, 1], dirs, progress=False)
    train_together(fit_run(continuous_path), [0, 1], dirs, resume=True, progress=False)
    for seed in (0, 1):
        train(fit_run(continuous_path, seed=seed), tmp_path / f"b{seed}", progress=False)
        assert_same_run(dirs[seed], tmp_path / f"b{seed}")

    train_together(fit_run(continuous_path, steps=15), [0, 1], [tmp_path / "c0", tmp_path / "c1"], progress=False)
    train(fit_run(continuous_path, seed=1), tmp_path / "c1", resume=True, progress=False)  # one seed goes on alone
    assert_same_run(tmp_path / "c1", tmp_path / "b1")
    with pytest.raises(OrlkitError, match="different steps"):
        train_together(fit_run(continuous_path, steps=40), [0, 1], [tmp_path / "c0", tmp_path / "c1"], resume=True,
                       progress=False)


def test_train_together_refuses_to_resume_on_changed_data(continuous_path: str, tmp_path) -> None:
    from orlkit.data.formats import load_dataset_file
    from orlkit.train.fit import train_together

    ds = load_dataset_file(continuous_path)
    dirs = [tmp_path / "a0", tmp_path / "a1"]
    train_together(fit_run(continuous_path, steps=15), [0, 1], dirs, progress=False, dataset=ds)
    files = {p: p.read_bytes() for d in dirs for p in d.rglob("*") if p.is_file()}
    with pytest.raises(OrlkitError, match="not what this run was trained on"):
        train_together(fit_run(continuous_path), [0, 1], dirs, resume=True, progress=False,
                       dataset=ds.replace(rewards=ds.rewards + 1))
    assert {p: p.read_bytes() for d in dirs for p in d.rglob("*") if p.is_file()} == files


def test_train_together_refuses_bad_input(continuous_path: str, tmp_path) -> None:
    from orlkit.train.fit import train_together

    with pytest.raises(OrlkitError, match="sac cannot train several seeds at once"):
        train_together(fit_run(continuous_path, "sac"), [0, 1], [tmp_path / "x", tmp_path / "y"], progress=False)
    with pytest.raises(OrlkitError, match="distinct"):
        train_together(fit_run(continuous_path), [1, 1], [tmp_path / "x", tmp_path / "y"], progress=False)
    with pytest.raises(OrlkitError, match="1 run directories for 2 seeds"):
        train_together(fit_run(continuous_path), [0, 1], [tmp_path / "x"], progress=False)
    assert not (tmp_path / "x").exists()
    with pytest.raises(OrlkitError, match="nothing to resume"):
        train_together(fit_run(continuous_path), [0, 1], [tmp_path / "x", tmp_path / "y"], resume=True,
                       progress=False)


def test_train_together_checks_every_directory_before_writing_any(continuous_path: str, tmp_path) -> None:
    from orlkit.train.fit import train, train_together

    train(fit_run(continuous_path, seed=1, steps=10, checkpoint_every=5), tmp_path / "d1", progress=False)
    with pytest.raises(OrlkitError, match="d1 already holds a run"):
        train_together(fit_run(continuous_path), [0, 1], [tmp_path / "d0", tmp_path / "d1"], progress=False)
    assert not (tmp_path / "d0").exists()  # nothing half-made: the same command works once d1 is moved away

    train(fit_run(continuous_path, seed=0, steps=10), tmp_path / "d0", progress=False)
    dirs = [tmp_path / "d0", tmp_path / "d1"]
    before = {d: sorted(p.name for p in d.rglob("*")) for d in dirs}
    with pytest.raises(OrlkitError, match="differ in checkpoint_every"):  # schedules differ: one by one
        train_together(fit_run(continuous_path, steps=20), [0, 1], dirs, resume=True, progress=False)
    with pytest.raises(OrlkitError, match="holds seed 1, not 0"):
        train_together(fit_run(continuous_path, steps=20), [0, 1], dirs[::-1], resume=True, progress=False)
    assert {d: sorted(p.name for p in d.rglob("*")) for d in dirs} == before


def test_cli_seeds(continuous_path: str, tmp_path, capsys) -> None:
    from orlkit.cli import main, parse_seeds

    assert parse_seeds("0-3") == [0, 1, 2, 3] and parse_seeds("5,2") == [5, 2]
    for bad in ("0,x", "1,1", ""):
        with pytest.raises(OrlkitError, match="--seeds"):
            parse_seeds(bad)
    out = tmp_path / "cli"
    assert main(["train", "bc", "--dataset", continuous_path, "--env", "Pendulum-v1", "--seeds", "0,1", "--steps",
                 "20", "--eval-episodes", "1", "--set", "hidden=16,16", "--out", str(out), "--quiet",
                 "--no-tensorboard"]) == 0
    assert (out / "seed0" / "summary.json").exists() and (out / "seed1" / "summary.json").exists()
    assert "2 seeds at once" in capsys.readouterr().out
    capsys.readouterr()
    assert main(["train", "bc", "--dataset", continuous_path, "--seeds", "0,1", "--seed", "2"]) == 2
    assert "give --seed or --seeds, not both" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["bc", "iql", "td3bc", "cql-continuous"])
def test_bf16_several_seeds_train_with_float32_weights(name):
    """--precision bf16 with several seeds: finite metrics, float32 weights that moved, and the seeds still differ."""
    ds = dataset(False)
    config = {"batch_size": 32, "hidden": (16, 16), **({"n_action_samples": 3} if name == "cql-continuous" else {})}
    before = build(name, ds, 0, **{k: v for k, v in config.items() if k not in ("batch_size", "hidden")})
    algos, logs = train_seeds(name, ds, [0, 1], steps=4, config=config, precision="bf16", log_every=2)
    assert all(np.isfinite(v) for row in logs for r in row for v in r.values())
    for algo in algos:  # the weights and the optimizer moments stay float32 (bf16 is only inside autocast)
        assert all(p.dtype == torch.float32 for m in algo.modules.values() for p in m.parameters())
        moments = [t for opt in algo.optimizers.values() for st in opt.state.values() for k, t in st.items()
                   if k in ("exp_avg", "exp_avg_sq")]
        assert moments and all(t.dtype == torch.float32 for t in moments)
    assert any(not torch.equal(t, state(before)[k]) for k, t in state(algos[0]).items())
    assert any(not torch.equal(t, state(algos[1])[k]) for k, t in state(algos[0]).items())


def test_every_seed_records_what_its_algorithm_prepared():
    """IQL scales rewards in prepare_dataset and reports values in the data's units: every seed knows the scale."""
    ds = dataset(False)
    algos, _ = train_seeds("iql", ds, [0, 1, 2], steps=1, config={"batch_size": 32, "hidden": (16, 16)})
    expected = build("iql", ds, 0)
    expected.prepare(ds)
    assert expected.reward_scale != 1.0
    assert [a.reward_scale for a in algos] == [expected.reward_scale] * 3


def test_every_seed_holds_the_observation_statistics(monkeypatch):
    """normalize_obs with several seeds: each seed standardises raw observations with the data's mean and std,
    from data prepared once (the others copy what preparing recorded)."""
    from orlkit.algos.base import Algorithm

    prepared = []
    original = Algorithm.prepare
    monkeypatch.setattr(Algorithm, "prepare", lambda self, d: prepared.append(self) or original(self, d))
    ds = dataset(False)
    config = {"batch_size": 32, "hidden": (16, 16), "normalize_obs": True}
    algos, _ = train_seeds("td3bc", ds, [0, 1], steps=2, config=config)
    assert len(prepared) == 1
    mean, std = ds.obs.mean(0), ds.obs.std(0)
    for algo in algos:
        np.testing.assert_allclose(algo.obs_mean.numpy(), mean, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(algo.obs_std.numpy(), std + 1e-3, rtol=1e-5)
        assert "obs_norm.mean" in algo.state_tensors()
