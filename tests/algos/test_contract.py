"""The contract every registered algorithm keeps, checked for each name in ``ALGORITHMS``.

A new algorithm is picked up by registering it: finite metrics with exactly the documented
keys, every trainable parameter moves, save/load restores identical actions and state, the
config round-trips through JSON, the same seed gives the same metrics, ``act`` takes one
observation or a batch, and incompatible data is refused with an :class:`OrlkitError`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from orlkit.algos import ALGORITHMS, Algorithm, DataSpec, config_from_dict, default_config, make_algorithm
from orlkit.data.collect import collect
from orlkit.data.dataset import Sampler, TransitionDataset
from orlkit.errors import OrlkitError

KINDS = ("discrete", "continuous")


def compatible(name: str, kind: str) -> bool:
    cls = ALGORITHMS[name][0]
    return not ((cls.discrete_only and kind == "continuous") or (cls.continuous_only and kind == "discrete"))


CASES = [pytest.param(n, k, id=f"{n}-{k}") for n in sorted(ALGORITHMS) for k in KINDS if compatible(n, k)]
INCOMPATIBLE = [pytest.param(n, k, id=f"{n}-{k}") for n in sorted(ALGORITHMS) for k in KINDS if not compatible(n, k)]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def datasets() -> dict[str, TransitionDataset]:
    """400 rows of uniform random CartPole (discrete) and Pendulum (actions rescaled to [-1, 1])."""
    cartpole = collect("CartPole-v1", lambda o: 0, 400, seed=0, epsilon=lambda p: 1.0)
    pendulum = collect("Pendulum-v1", lambda o: np.zeros(1, np.float32), 400, seed=0, epsilon=lambda p: 1.0)
    cols = pendulum.columns()
    cols["actions"] = cols["actions"] / 2.0  # Pendulum's torque is in [-2, 2]; tanh policies need [-1, 1]
    pendulum = TransitionDataset(**cols, meta=pendulum.meta)
    assert cartpole.discrete and not pendulum.discrete
    assert np.abs(pendulum.actions).max() <= 1.0
    return {"discrete": cartpole, "continuous": pendulum}


def small_config(name: str, **overrides: Any) -> Any:
    """The default config with small networks and batches (fields the config lacks are skipped)."""
    cfg = default_config(name)
    fields = {f.name for f in dataclasses.fields(cfg)}
    wanted = {"hidden": (32, 32), "batch_size": 64, **overrides}
    return dataclasses.replace(cfg, **{k: v for k, v in wanted.items() if k in fields})


def build(name: str, ds: TransitionDataset, seed: int = 0, sampler_seed: int = 0,
          **overrides: Any) -> tuple[Algorithm, Sampler]:
    algo = make_algorithm(name, DataSpec.from_dataset(ds), small_config(name, **overrides), seed=seed)
    sampler = algo.prepare(ds).sampler(algo.config.batch_size, seed=sampler_seed)
    return algo, sampler


def expected_keys(algo: Algorithm) -> tuple[str, ...]:
    cls = type(algo)
    if not algo.spec.discrete and cls.continuous_metric_keys is not None:
        return cls.continuous_metric_keys
    return cls.metric_keys


def trainable(algo: Algorithm) -> dict[str, torch.Tensor]:
    return {f"{m}.{p}": t.detach().clone() for m, module in algo.modules.items()
            for p, t in module.named_parameters() if t.requires_grad}


# ---------------------------------------------------------------------------------- metrics
@pytest.mark.parametrize("name,kind", CASES)
def test_update_returns_finite_documented_metrics(name: str, kind: str, datasets) -> None:
    algo, sampler = build(name, datasets[kind])
    keys = expected_keys(algo)
    assert keys, f"{type(algo).__name__} documents no metric_keys"
    assert len(set(keys)) == len(keys), f"duplicate metric_keys: {keys}"
    doc = type(algo).__doc__ or ""
    undocumented = [k for k in keys if k not in doc]
    assert not undocumented, f"{type(algo).__name__}'s docstring does not mention {undocumented}"
    for _ in range(2):
        metrics = algo.update(sampler.sample())
        assert type(metrics) is dict
        assert all(isinstance(k, str) and type(v) is float for k, v in metrics.items()), metrics
        assert not [k for k, v in metrics.items() if not math.isfinite(v)], metrics
        assert sorted(metrics) == sorted(keys), (
            f"returned but not in metric_keys: {sorted(set(metrics) - set(keys))}; "
            f"in metric_keys but not returned: {sorted(set(keys) - set(metrics))}")
    assert algo.n_updates == 2


@pytest.mark.parametrize("name,kind", CASES)
def test_update_without_metric_read_back_trains_the_same(name: str, kind: str, datasets) -> None:
    """Inside metrics_read_back(False) (the fit loop's steps that log nothing) update() returns {} and trains
    exactly as it does when it reads its metrics back."""
    from orlkit.algos.base import metrics_read_back

    (a, sa), (b, sb) = build(name, datasets[kind]), build(name, datasets[kind])
    for step in range(3):
        full = a.update(sa.sample())
        with metrics_read_back(step == 1):
            quiet = b.update(sb.sample())
        assert sorted(full) == sorted(expected_keys(a))
        assert quiet == ({} if step != 1 else full)
    assert a.n_updates == b.n_updates == 3
    ta, tb = a.state_tensors(), b.state_tensors()
    assert [k for k in ta if not torch.equal(ta[k], tb[k])] == []


@pytest.mark.parametrize("name,kind", CASES)
def test_every_trainable_parameter_moves(name: str, kind: str, datasets) -> None:
    algo, sampler = build(name, datasets[kind], lr=1e-2)
    before = trainable(algo)
    assert before, "no trainable parameters"
    algo.update(sampler.sample())
    after = trainable(algo)
    assert after.keys() == before.keys()
    unchanged = [k for k in before if torch.equal(before[k], after[k])]
    assert not unchanged, f"parameters that did not move after one update: {unchanged}"


# ---------------------------------------------------------------------------------- save / load
@pytest.mark.parametrize("name,kind", CASES)
def test_save_load_restores_actions_and_state(name: str, kind: str, datasets, tmp_path: Path) -> None:
    ds = datasets[kind]
    algo, sampler = build(name, ds, seed=0)
    for _ in range(3):  # optimizer moments exist and the weights differ from a fresh build
        algo.update(sampler.sample())
    algo.save(str(tmp_path / "ckpt"))
    assert (tmp_path / "ckpt.safetensors").is_file() and (tmp_path / "ckpt.json").is_file()
    saved_tensors, saved_meta = algo.state_tensors(), json.loads(json.dumps(algo.state_meta()))

    fresh, _ = build(name, ds, seed=7)
    weights = [k for k in saved_tensors if k.startswith("modules.")]
    assert any(not torch.equal(saved_tensors[k], fresh.state_tensors()[k]) for k in weights)
    fresh.load(str(tmp_path / "ckpt"))

    loaded = fresh.state_tensors()
    assert loaded.keys() == saved_tensors.keys()
    different = [k for k in saved_tensors if not torch.equal(saved_tensors[k], loaded[k])]
    assert not different, f"tensors that differ after load: {different}"
    assert json.loads(json.dumps(fresh.state_meta())) == saved_meta
    assert fresh.n_updates == algo.n_updates == 3

    obs = ds.obs[:16]
    np.testing.assert_array_equal(algo.act(obs, deterministic=True), fresh.act(obs, deterministic=True))
    # The algorithm's generator is restored too, so stochastic actions match draw for draw.
    np.testing.assert_array_equal(algo.act(obs, deterministic=False), fresh.act(obs, deterministic=False))
    # Training continues identically: weights and optimizer moments were restored.
    batch = sampler.sample()
    assert algo.update(batch) == fresh.update(batch)


# ---------------------------------------------------------------------------------- config
@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_config_round_trips_through_json(name: str) -> None:
    for cfg in (default_config(name), small_config(name)):
        values = json.loads(json.dumps(dataclasses.asdict(cfg)))
        back = config_from_dict(name, values)
        assert back == cfg
        assert type(back) is type(cfg)
    with pytest.raises(OrlkitError, match="nosuchkey"):
        config_from_dict(name, {"nosuchkey": 1})


# ---------------------------------------------------------------------------------- determinism
@pytest.mark.parametrize("name,kind", CASES)
def test_same_seed_same_metrics(name: str, kind: str, datasets) -> None:
    def run(seed: int) -> list[dict[str, float]]:
        algo, sampler = build(name, datasets[kind], seed=seed, sampler_seed=seed)
        return [algo.update(sampler.sample()) for _ in range(5)]

    first = run(0)
    assert run(0) == first
    assert run(1) != first


# ---------------------------------------------------------------------------------- act
@pytest.mark.parametrize("name,kind", CASES)
def test_act_single_and_batch(name: str, kind: str, datasets) -> None:
    ds = datasets[kind]
    algo, sampler = build(name, ds)
    algo.update(sampler.sample())
    for deterministic in (True, False):
        one = np.asarray(algo.act(ds.obs[0], deterministic=deterministic))
        batch = np.asarray(algo.act(ds.obs[:7], deterministic=deterministic))
        if ds.discrete:
            assert one.shape == () and batch.shape == (7,)
            for a in (one, batch):
                assert np.issubdtype(a.dtype, np.integer), a.dtype
                assert ((a >= 0) & (a < ds.n_actions)).all(), a
        else:
            assert one.shape == (ds.action_dim,) and batch.shape == (7, ds.action_dim)
            for a in (one, batch):
                assert np.issubdtype(a.dtype, np.floating) and np.isfinite(a).all(), a
                assert (np.abs(a) <= 1.0).all(), a  # tanh-squashed policies stay in [-1, 1]
    np.testing.assert_array_equal(algo.act(ds.obs[0], deterministic=True),
                                  algo.act(ds.obs[:1], deterministic=True)[0])


# ---------------------------------------------------------------------------------- incompatible data
@pytest.mark.parametrize("name,kind", INCOMPATIBLE)
def test_incompatible_action_space_is_refused(name: str, kind: str, datasets) -> None:
    spec = DataSpec.from_dataset(datasets[kind])
    with pytest.raises(OrlkitError) as info:
        make_algorithm(name, spec, small_config(name))
    msg = str(info.value)
    assert msg.startswith(f"{name} "), msg
    assert "discrete" in msg and "continuous" in msg, msg


def test_every_discrete_only_algorithm_is_checked() -> None:
    """The incompatible cases cover every discrete-only algorithm (the registry has some)."""
    discrete_only = {n for n in ALGORITHMS if ALGORITHMS[n][0].discrete_only}
    assert discrete_only
    assert discrete_only <= {p.values[0] for p in INCOMPATIBLE}


@pytest.mark.parametrize("name,kind", CASES)
def test_bf16_update_keeps_float32_state_and_tracks_fp32(name: str, kind: str, datasets) -> None:
    """Under ``--precision bf16`` weights, gradients and optimizer moments stay float32, every metric is a
    finite float, and the first update's losses agree with the float32 update on the same batch."""
    from orlkit.nets.precision import autocast

    runs = []
    for precision in ("fp32", "bf16"):
        algo, sampler = build(name, datasets[kind])
        with autocast(precision):
            metrics = algo.update(sampler.sample())
        assert all(isinstance(v, float) and math.isfinite(v) for v in metrics.values())
        for key, t in algo.state_tensors().items():
            if t.is_floating_point():
                assert t.dtype in (torch.float32, torch.float64), f"{key} is {t.dtype} after a {precision} update"
        runs.append(metrics)
    for key in runs[0]:
        if key.startswith("loss/") and abs(runs[0][key]) > 1e-3:
            assert runs[1][key] == pytest.approx(runs[0][key], rel=0.1, abs=0.05), key
