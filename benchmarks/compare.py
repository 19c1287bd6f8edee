"""orlkit against d3rlpy, in one run, on the same data with the same hyperparameters.

    python benchmarks/compare.py                         # all five algorithms, 3 seeds
    python benchmarks/compare.py --algos iql,td3bc --updates 5000 --seeds 2 --out benchmarks/results/x

Needs d3rlpy next to orlkit (benchmarks/README.md: a separate venv, because d3rlpy 2.8.1 pins
gymnasium 1.0.0). Every measurement runs in a fresh subprocess, one at a time, so peak memory is
per run and nothing else competes for the cores. For each algorithm:

- **speed**: gradient updates per second inside ``update()`` (batches sampled outside the timer;
  20 warm-up updates, then the median of 3 blocks per process; ``--speed-rounds`` processes per library,
  taking turns, and the median over them), for orlkit fp32, orlkit bf16 and d3rlpy; and the
  update's GEMM floor in fp32 and bf16 (benchmarks/floor.py), as "update time / floor". d3rlpy's public
  ``update(batch)`` takes NumPy arrays and converts them to tensors (and scales IQL's rewards) inside;
  orlkit's sampler hands over tensors. Both are each library's own ``update`` as a user calls it.
- **train** (per seed, the libraries taking turns): end to end, what a user waits for: orlkit's
  ``train()`` (sampling, update, metrics log, TensorBoard, checkpoint, one evaluation episode at the
  end) and d3rlpy's ``fit()`` (its default file logger, model saving each epoch, one evaluation
  episode after); peak resident memory of the process; then the final policy's normalized score over
  ``--eval-episodes``.

``--compile bf16`` (or ``fp32,bf16``) adds orlkit runs with ``orlkit train --compile`` (``torch.compile`` of the
update) at those precisions, in both phases: speed after the warm-up updates (compilation included in them),
end to end with the compilation counted, from an empty inductor cache (a first run's wait). Give CQL enough
updates (≥ 3,000) for that to amortise. ``--inductor-cache warm`` measures a user's second run instead: before each
compiled training run, the same run of 50 updates (untimed, its own process) fills a fresh inductor cache that the
timed run then reads (the graphs are built from it, g++ does not run again); the cache is deleted after.

Scores: mean ± std over seeds, and the IQM with a bootstrap 95% interval over seeds (Agarwal et al.
2021; with 3 seeds the IQM is the mean and the interval is wide — read it as such).

Writes ``OUT.json`` and ``OUT.md`` (default ``benchmarks/results/compare-DATE``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from machine import cpu_name, peak_rss_mb  # benchmarks/machine.py

from orlkit.train.io import write_text

HERE = Path(__file__).resolve().parent
ALGOS = ("bc", "cql", "iql", "td3bc", "cql-discrete")
ORLKIT_NAME = {"bc": "bc", "cql": "cql-continuous", "iql": "iql", "td3bc": "td3bc", "cql-discrete": "cql-discrete"}
DEFAULT_UPDATES = {"bc": 10_000, "cql": 2_000, "iql": 10_000, "td3bc": 10_000, "cql-discrete": 10_000}

# The hyperparameters both libraries get (orlkit names; d3rlpy's are mapped in d3rlpy_algo).
# IQL: orlkit's cosine actor-lr decay is off because d3rlpy has none by default; both scale rewards by
# 1000 / (max − min episode return). CQL: fixed α = 5 (d3rlpy: alpha_learning_rate 0). Discrete CQL:
# Double DQN target, hard target copy every 1000 updates, α = 1.
ORLKIT_OVERRIDES: dict[str, dict[str, Any]] = {
    "bc": {}, "cql": {}, "iql": {"actor_lr_decay_steps": 0}, "td3bc": {}, "cql-discrete": {}}


# ---------------------------------------------------------------------------------------------- builders
def load_data(name: str):
    from orlkit.data.registry import resolve_dataset

    return resolve_dataset(name)


def orlkit_algo(algo: str, ds, seed: int, device: str = "cpu"):
    from orlkit.algos import DataSpec, config_from_dict, make_algorithm

    name = ORLKIT_NAME[algo]
    cfg = config_from_dict(name, {"batch_size": 256, "hidden": (256, 256), **ORLKIT_OVERRIDES[algo]})
    a = make_algorithm(name, DataSpec.from_dataset(ds), cfg, device=device, seed=seed)
    return a, a.prepare(ds).sampler(256, device, seed=seed)


def d3rlpy_dataset(ds):
    """The same rows as a d3rlpy MDPDataset (d3rlpy refuses a row that is both terminal and timeout: a
    terminal wins, which is also how orlkit's targets treat it)."""
    import d3rlpy

    timeouts = ds.timeouts & ~ds.terminals
    if ds.discrete:
        return d3rlpy.dataset.MDPDataset(ds.obs, ds.actions.reshape(-1, 1), ds.rewards, ds.terminals, timeouts,
                                         action_space=d3rlpy.ActionSpace.DISCRETE, action_size=ds.action_dim)
    return d3rlpy.dataset.MDPDataset(ds.obs, ds.actions, ds.rewards, ds.terminals, timeouts,
                                     action_space=d3rlpy.ActionSpace.CONTINUOUS)


def d3rlpy_algo(algo: str, seed: int, device: str = "cpu"):
    import d3rlpy

    d3rlpy.seed(seed)
    enc = d3rlpy.models.VectorEncoderFactory(hidden_units=[256, 256])
    common = {"batch_size": 256}
    if algo == "bc":
        cfg = d3rlpy.algos.BCConfig(learning_rate=3e-4, encoder_factory=enc, **common)
    elif algo == "cql":
        cfg = d3rlpy.algos.CQLConfig(actor_learning_rate=1e-4, critic_learning_rate=3e-4, temp_learning_rate=1e-4,
                                     alpha_learning_rate=0.0, conservative_weight=5.0, n_action_samples=10,
                                     actor_encoder_factory=enc, critic_encoder_factory=enc, **common)
    elif algo == "iql":
        cfg = d3rlpy.algos.IQLConfig(actor_learning_rate=3e-4, critic_learning_rate=3e-4, expectile=0.7,
                                     weight_temp=3.0, max_weight=100.0,
                                     reward_scaler=d3rlpy.preprocessing.ReturnBasedRewardScaler(multiplier=1000.0),
                                     actor_encoder_factory=enc, critic_encoder_factory=enc,
                                     value_encoder_factory=enc, **common)
    elif algo == "td3bc":
        cfg = d3rlpy.algos.TD3PlusBCConfig(actor_learning_rate=3e-4, critic_learning_rate=3e-4, alpha=2.5,
                                           actor_encoder_factory=enc, critic_encoder_factory=enc, **common)
    elif algo == "cql-discrete":
        cfg = d3rlpy.algos.DiscreteCQLConfig(learning_rate=3e-4, target_update_interval=1000, alpha=1.0,
                                             encoder_factory=enc, **common)
    else:
        raise SystemExit(f"unknown algorithm {algo}")
    return cfg.create(device="cuda:0" if device.startswith("cuda") else "cpu:0")


# ---------------------------------------------------------------------------------------------- workers
def median_rate(step, n: int) -> float:
    """Updates per second from ``step()`` (it returns the seconds of one timed update): median of 3 blocks."""
    rates = []
    for _ in range(3):
        spent = 0.0
        for _ in range(n):
            spent += step()
        rates.append(n / spent)
    return float(np.median(rates))


def median_of_rounds(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One speed entry from several processes' results: medians of the rates and floors, and every round's rate."""
    out: dict[str, Any] = {"updates_per_sec": float(np.median([r["updates_per_sec"] for r in runs])),
                           "rounds": [r["updates_per_sec"] for r in runs]}
    if "floor_s" in runs[0]:  # measured in the first round only
        out |= {k: runs[0][k] for k in ("floor_s", "gflop_per_update", "gemm_calls")}
    out["peak_rss_mb"] = float(np.max([r["peak_rss_mb"] for r in runs]))
    return out


def flush_like_orlkit_train(task: dict[str, Any]) -> None:
    """Flush subnormal floats to zero in this worker before it loads anything, as ``orlkit train`` does
    (orlkit.train.denormal): always for orlkit, for d3rlpy only with ``--d3rlpy-flush-denormal``."""
    if task["lib"] == "orlkit" or task.get("d3rlpy_flush_denormal"):
        from orlkit.train.denormal import flush_denormals

        flush_denormals()


def speed_worker(task: dict[str, Any]) -> dict[str, Any]:
    import torch

    from orlkit.nets.precision import autocast

    flush_like_orlkit_train(task)
    ds = load_data(task["dataset"])
    n = task["timing_updates"]
    device = task.get("device", "cpu")
    out: dict[str, Any] = {}
    from orlkit.train.malloc import tune_malloc

    if task["lib"] == "orlkit" or task.get("d3rlpy_malloc"):
        tune_malloc()  # what orlkit's train() does before its first update (d3rlpy: only with --d3rlpy-malloc)
    if task["lib"] == "orlkit":
        algo, sampler = orlkit_algo(task["algo"], ds, 0, device)
        precision = task["precision"]
        if task.get("compile"):
            from orlkit.train.fit import _compiled_update

            update = _compiled_update(algo)  # what train() runs with --compile
        else:
            update = algo.update

        def step() -> float:  # update() reads its metrics back (to_floats): the GPU's work is inside the timer
            batch = sampler.sample()
            t0 = time.perf_counter()
            with autocast(precision, device):
                update(batch)
            return time.perf_counter() - t0

        for _ in range(20):
            step()
        out["updates_per_sec"] = median_rate(step, n)
        if not task.get("floor", True) or task.get("compile"):  # the floor is the same GEMMs as the eager update's
            return out
        sys.path.insert(0, str(HERE))
        from floor import gemm_floor, gemm_flops, record_gemms

        # a whole cycle of updates (TD3+BC's actor runs every policy_freq-th), floor and FLOPs per update
        cycle = int(getattr(algo.config, "policy_freq", 1))
        batches = [sampler.sample() for _ in range(cycle)]

        def updates() -> None:
            for b in batches:
                with autocast(precision, device):
                    algo.update(b)

        calls = record_gemms(updates)
        out["gemm_calls"] = len(calls) / cycle
        out["gflop_per_update"] = gemm_flops(calls) / 1e9 / cycle
        out["floor_s"] = {"fp32": gemm_floor(calls, torch.float32, device=device) / cycle}
        if task.get("bf16_floor", True):  # not on a CPU without bf16 matmuls (emulated, minutes for CQL's)
            out["floor_s"]["bf16"] = gemm_floor(calls, torch.bfloat16, device=device) / cycle
    else:
        from d3rlpy.algos.qlearning.base import build_scalers_with_transition_picker

        algo = d3rlpy_algo(task["algo"], 0, device)
        buffer = d3rlpy_dataset(ds)
        build_scalers_with_transition_picker(algo, buffer)  # what fit() does first (IQL's reward scaler)
        algo.build_with_dataset(buffer)

        def step() -> float:  # update() returns its losses as floats: the GPU's work is inside the timer
            batch = buffer.sample_transition_batch(256)
            t0 = time.perf_counter()
            algo.update(batch)
            return time.perf_counter() - t0

        for _ in range(20):
            step()
        out["updates_per_sec"] = median_rate(step, n)
    return out


def train_worker(task: dict[str, Any]) -> dict[str, Any]:
    from orlkit.envs.make import normalized_score
    from orlkit.train.evaluate import evaluate

    flush_like_orlkit_train(task)
    ds = load_data(task["dataset"])
    env_id = ds.meta["env_id"]
    n, seed = task["updates"], task["seed"]
    tmp = Path(tempfile.mkdtemp(prefix="orlkit-bench-"))
    if task["lib"] == "orlkit":
        from orlkit.train.fit import RunConfig, train

        run = RunConfig(algo=ORLKIT_NAME[task["algo"]], dataset=task["dataset"], steps=n, seed=seed,
                        eval_every=0, eval_episodes=1, precision=task["precision"], compile=task.get("compile", False),
                        config={"batch_size": 256, "hidden": (256, 256), **ORLKIT_OVERRIDES[task["algo"]]})
        t0 = time.perf_counter()
        train(run, tmp / "run", progress=False, dataset=ds)
        wall = time.perf_counter() - t0
        algo, _ = orlkit_algo(task["algo"], ds, seed)
        from orlkit.train.checkpoint import latest_checkpoint, load_checkpoint

        load_checkpoint(latest_checkpoint(tmp / "run" / "checkpoints"), algo)
        act = lambda o: algo.act(o, deterministic=True)  # noqa: E731
    else:
        import gc

        if task.get("d3rlpy_malloc"):
            from orlkit.train.malloc import tune_malloc

            tune_malloc()
        algo = d3rlpy_algo(task["algo"], seed)
        t0 = time.perf_counter()  # the conversion to d3rlpy's dataset counts, as orlkit's data preparation does
        buffer = d3rlpy_dataset(ds)
        del ds  # d3rlpy keeps its own copy (and no next_obs); do not count ours in its peak memory
        gc.collect()
        algo.fit(buffer, n_steps=n, n_steps_per_epoch=n, show_progress=False,
                 experiment_name=f"bench-{task['algo']}-{seed}", with_timestamp=False,
                 logger_adapter=__import__("d3rlpy").logging.FileAdapterFactory(root_dir=str(tmp / "d3rlpy_logs")))
        act = lambda o: algo.predict(o.astype(np.float32))  # noqa: E731  (a batch of observations)
        evaluate(act, env_id, 1, 100_000 + 1_000 * seed)  # the end-to-end time includes one episode, as orlkit's
        wall = time.perf_counter() - t0
    res = evaluate(act, env_id, task["eval_episodes"], 100_000 + 1_000 * seed)
    score = normalized_score(env_id, res["return_mean"])
    return {"wall_s": wall, "updates_per_sec_end_to_end": n / wall, "return_mean": res["return_mean"],
            "score": score if score is not None else res["return_mean"]}


PRIMING_UPDATES = 50  # --inductor-cache warm: the untimed run that fills the cache (TD3+BC's 2 graphs by update 2)


def run_task(task: dict[str, Any], threads: int, inductor_cache: str = "cold") -> dict[str, Any]:
    """``task`` in a fresh Python process; adds its peak resident memory. A compiled training run gets a fresh
    inductor cache: empty (``"cold"``: the compilation a first run pays) or filled by an untimed run of
    ``PRIMING_UPDATES`` updates with the same settings in another process before (``"warm"``: a second run's)."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    cache = None
    if task.get("compile") and task["phase"] == "train":
        cache = env["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="orlkit-inductor-")
    try:
        if cache and inductor_cache == "warm":
            _run_worker({**task, "updates": PRIMING_UPDATES, "eval_episodes": 1}, env)
        return _run_worker(task, env)
    finally:
        if cache:
            shutil.rmtree(cache, ignore_errors=True)


def _run_worker(task: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.Popen([sys.executable, __file__, "--worker", json.dumps(task)], stdout=subprocess.PIPE,
                            env=env, text=True)
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"worker failed ({proc.returncode}): {task}")
    out = json.loads(stdout.strip().splitlines()[-1])
    if out.get("peak_rss_mb") is None:  # no /proc: the child's maximum as the kernel reports it
        out["peak_rss_mb"] = usage.ru_maxrss / 1024  # Linux: kilobytes
    return out


# ---------------------------------------------------------------------------------------------- report
def iqm_ci(x: list[float], n_boot: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """IQM (25% trimmed mean, rliable's convention) and a percentile bootstrap 95% interval over runs."""
    from scipy.stats import trim_mean

    a = np.asarray(x, float)
    rng = np.random.default_rng(seed)
    boots = [trim_mean(rng.choice(a, a.size), 0.25) for _ in range(n_boot)]
    return float(trim_mean(a, 0.25)), float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))


def floor(speed: dict[str, Any], precision: str) -> float:
    """The update's GEMM floor at ``precision``, seconds: the fastest of the measurements (each orlkit precision's first
    process times the same GEMMs at both precisions). A floor is a lower bound, so a slower measurement is noise."""
    return min(v["floor_s"][precision] for v in speed.values() if precision in v.get("floor_s", {}))


def summarise(results: dict[str, Any]) -> dict[str, Any]:
    rows = {}
    for algo, r in results["algos"].items():
        s = r["speed"]
        if "orlkit-fp32" not in s:
            raise SystemExit("the summary compares against orlkit fp32: include fp32 in --precision")
        row = {"orlkit_upd_s": s["orlkit-fp32"]["updates_per_sec"], "d3rlpy_upd_s": s["d3rlpy"]["updates_per_sec"]}
        row["update_ratio"] = row["orlkit_upd_s"] / row["d3rlpy_upd_s"]
        if "orlkit-bf16" in s:
            row["orlkit_bf16_upd_s"] = s["orlkit-bf16"]["updates_per_sec"]
            row["update_ratio_bf16"] = row["orlkit_bf16_upd_s"] / row["d3rlpy_upd_s"]
        fp = s["orlkit-fp32"]
        row["gflop_per_update"] = fp["gflop_per_update"]
        row["x_floor_fp32"] = (1 / fp["updates_per_sec"]) / floor(s, "fp32")
        if "orlkit-bf16" in s:
            row["x_floor_bf16"] = (1 / s["orlkit-bf16"]["updates_per_sec"]) / floor(s, "bf16")
        for key, runs in r["train"].items():
            e2e = [t["updates_per_sec_end_to_end"] for t in runs]
            scores = [t["score"] for t in runs]
            row[f"{key}_e2e_upd_s"] = float(np.median(e2e))
            row[f"{key}_score"] = (float(np.mean(scores)), float(np.std(scores)))
            row[f"{key}_iqm"] = iqm_ci(scores)
            row[f"{key}_peak_mb"] = float(np.max([t["peak_rss_mb"] for t in runs]))
        if "orlkit-fp32_e2e_upd_s" in row and "d3rlpy_e2e_upd_s" in row:
            row["e2e_ratio"] = row["orlkit-fp32_e2e_upd_s"] / row["d3rlpy_e2e_upd_s"]
        if "orlkit-bf16_e2e_upd_s" in row and "d3rlpy_e2e_upd_s" in row:
            row["e2e_ratio_bf16"] = row["orlkit-bf16_e2e_upd_s"] / row["d3rlpy_e2e_upd_s"]
        for key in [k for k in s if k.endswith("-compile")]:  # orlkit-PRECISION-compile
            pr = key.split("-")[1]
            c = {"upd_s": s[key]["updates_per_sec"]}
            c["update_ratio"] = c["upd_s"] / row["d3rlpy_upd_s"]
            c["x_floor"] = (1 / c["upd_s"]) / floor(s, pr)  # the eager update's GEMMs at that precision
            c["x_floor_fp32"] = (1 / c["upd_s"]) / floor(s, "fp32")  # issue #4's yardstick for every update
            if f"{key}_e2e_upd_s" in row and "d3rlpy_e2e_upd_s" in row:
                c["e2e_upd_s"] = row[f"{key}_e2e_upd_s"]
                c["e2e_ratio"] = c["e2e_upd_s"] / row["d3rlpy_e2e_upd_s"]
            row.setdefault("compiled", {})[pr] = c
        rows[algo] = row
    return rows


def markdown(results: dict[str, Any]) -> str:
    rows = results["summary"]

    def f(v, digits=1):
        return "—" if v is None else f"{v:.{digits}f}"

    def score(row, key):
        if f"{key}_score" not in row:
            return "—"
        (m, sd), (iqm, lo, hi) = row[f"{key}_score"], row[f"{key}_iqm"]
        return f"{m:.1f} ± {sd:.1f} (IQM {iqm:.1f} [{lo:.1f}, {hi:.1f}])"

    head = ("| algorithm | orlkit upd/s in update (fp32 / bf16) | d3rlpy | ratio fp32 / bf16 | end to end orlkit "
            "fp32 / bf16 vs d3rlpy (upd/s) | ratio fp32 / bf16 | × fp32 floor | × bf16 floor (bf16 mode) |")
    lines = [head, "|" + "---|" * 8]
    for algo, r in rows.items():
        lines.append(
            f"| {algo} | {f(r['orlkit_upd_s'])} / {f(r.get('orlkit_bf16_upd_s'))} | {f(r['d3rlpy_upd_s'])} | "
            f"{f(r['update_ratio'], 2)} / {f(r.get('update_ratio_bf16'), 2)} | "
            f"{f(r.get('orlkit-fp32_e2e_upd_s'))} / {f(r.get('orlkit-bf16_e2e_upd_s'))} vs "
            f"{f(r.get('d3rlpy_e2e_upd_s'))} | {f(r.get('e2e_ratio'), 2)} / {f(r.get('e2e_ratio_bf16'), 2)} | "
            f"{f(r['x_floor_fp32'], 2)} | {f(r.get('x_floor_bf16'), 2)} |")
    lines += ["", "| algorithm | updates | score orlkit fp32 | score orlkit bf16 | score d3rlpy "
                  "| peak MB orlkit / d3rlpy |", "|---|---|---|---|---|---|"]
    for algo, r in rows.items():
        lines.append(f"| {algo} | {results['algos'][algo]['updates']} | {score(r, 'orlkit-fp32')} | "
                     f"{score(r, 'orlkit-bf16')} | {score(r, 'd3rlpy')} | "
                     f"{f(r.get('orlkit-fp32_peak_mb'), 0)} / {f(r.get('d3rlpy_peak_mb'), 0)} |")
    compiled = [(algo, pr, c) for algo, r in rows.items() for pr, c in r.get("compiled", {}).items()]
    if compiled:
        if not any(k.endswith("-compile") for a in results["algos"].values() for k in a.get("train", {})):
            how = "speed phase only"
        elif results.get("inductor_cache", "cold") == "cold":
            how = "end to end includes the compilation, from an empty inductor cache, as a first run"
        else:
            how = "end to end includes the compilation, from an inductor cache filled by an untimed run of the same " \
                  "settings, as a second run"
        lines += ["", f"With `--compile` (torch.compile of orlkit's update; {how}):", "",
                  "| algorithm | precision | orlkit upd/s in update | ratio vs d3rlpy | end to end orlkit vs d3rlpy "
                  "(upd/s) | ratio | × floor at that precision | × fp32 floor | score orlkit compiled | peak MB |",
                  "|" + "---|" * 10]
        for algo, pr, c in compiled:
            r = rows[algo]
            lines.append(f"| {algo} | {pr} | {f(c['upd_s'])} | {f(c['update_ratio'], 2)} | {f(c.get('e2e_upd_s'))} vs "
                         f"{f(r.get('d3rlpy_e2e_upd_s'))} | {f(c.get('e2e_ratio'), 2)} | {f(c.get('x_floor'), 2)} | "
                         f"{f(c.get('x_floor_fp32'), 2)} | {score(r, f'orlkit-{pr}-compile')} | "
                         f"{f(r.get(f'orlkit-{pr}-compile_peak_mb'), 0)} |")
    m = results["machine"]
    where = f"{m['gpu']} (CUDA), host {m['cpu']}" if m.get("gpu") else m["cpu"]
    lines += ["", f"Measured {results['date']} on {where} ({m['threads']} threads), torch {m['torch']}, "
              f"d3rlpy {m['d3rlpy']}. Datasets: {results['datasets']}. Command: `{results['command']}`"]
    if "malloc_tuned" in m:
        tuned = [lib for lib, on in m["malloc_tuned"].items() if on]
        lines += ["", f"glibc allocator settings of orlkit.train.malloc applied in: {', '.join(tuned) or 'none'}."]
    if "flush_denormal" in m:
        flushed = [lib for lib, on in m["flush_denormal"].items() if on]
        lines += ["", f"Subnormal floats flushed to zero (orlkit.train.denormal) in: {', '.join(flushed) or 'none'}."]
    if m.get("bf16_matmul") is False:
        lines += ["", "This CPU has no bf16 matrix instructions: orlkit train refuses `--precision bf16` on it "
                      "(orlkit.nets.precision)."]
    return "\n".join(lines)


def updates_for(spec: str, algo: str) -> int:
    """``--updates``: "" (defaults), "5000" (every algorithm) or "bc=5000,cql=1000" (the rest default)."""
    if not spec.strip():
        return DEFAULT_UPDATES[algo]
    try:
        if "=" not in spec:
            return int(spec)
        pairs = dict(item.split("=", 1) for item in spec.split(",") if item.strip())
        unknown = set(pairs) - set(ALGOS)
        if unknown:
            raise SystemExit(f"--updates names unknown algorithm(s) {sorted(unknown)}")
        return int(pairs.get(algo, DEFAULT_UPDATES[algo]))
    except ValueError:
        raise SystemExit(f"--updates: expected N or ALGO=N,... with integer N, got {spec!r}") from None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--algos", default=",".join(ALGOS), help="comma-separated (default: %(default)s)")
    p.add_argument("--dataset", default="hopper-medium", help="continuous-action dataset")
    p.add_argument("--discrete-dataset", default="cartpole-medium", help="dataset for discrete CQL")
    p.add_argument("--seeds", type=int, default=3, help="training runs per library and algorithm (seeds 0..N-1)")
    p.add_argument("--updates", default="", help="updates per training run: N for all, or ALGO=N,... "
                   f"(default {DEFAULT_UPDATES})")
    p.add_argument("--timing-updates", type=int, default=100, help="updates per timed block (speed phase)")
    p.add_argument("--speed-rounds", type=int, default=3, help="fresh processes per library in the speed phase")
    p.add_argument("--eval-episodes", type=int, default=10, help="episodes of the final evaluation")
    p.add_argument("--precision", help="orlkit precisions to run (default: fp32,bf16; fp32 alone on a CPU without "
                   "bf16 matrix instructions, where orlkit train refuses bf16: orlkit.nets.precision)")
    p.add_argument("--compile", default="", help="precisions (of --precision) to run again with orlkit's --compile, "
                   "e.g. bf16 (default: none)")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads (default: all cores)")
    p.add_argument("--skip-train", action="store_true", help="speed and floor only")
    p.add_argument("--train-only", default="", help="train only these variants, e.g. orlkit-bf16-compile,d3rlpy "
                   "(default: every variant the speed phase times)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (speed and floor only: needs --skip-train)")
    p.add_argument("--out", default=str(HERE / "results" / f"compare-{time.strftime('%Y-%m-%d')}"),
                   help="report path without suffix: writes .json and .md")
    p.add_argument("--force", action="store_true", help="overwrite --out's .json/.md if they exist")
    p.add_argument("--render", metavar="JSON", help="no run: rewrite the Markdown table (JSON's .md) from a saved "
                   "JSON with this version's summary")
    p.add_argument("--inductor-cache", choices=("cold", "warm"), default="cold",
                   help="compiled training runs start from an empty inductor cache (cold: a first run) or from one "
                        "that an untimed 50-update run of the same settings filled (warm: a second run)")
    p.add_argument("--d3rlpy-flush-denormal", action="store_true",
                   help="flush subnormal floats to zero in d3rlpy's processes too, as orlkit train does in its own "
                        "(orlkit.train.denormal); by default d3rlpy runs as a user would run it")
    p.add_argument("--d3rlpy-malloc", action="store_true",
                   help="give d3rlpy's processes the glibc allocator settings orlkit's train() makes "
                        "(orlkit.train.malloc); by default d3rlpy runs as a user would run it")
    args = p.parse_args()
    if args.worker:
        task = json.loads(args.worker)
        import torch

        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", os.cpu_count())))
        out = speed_worker(task) if task["phase"] == "speed" else train_worker(task)
        out["peak_rss_mb"] = peak_rss_mb()
        print(json.dumps(out))
        return
    if args.render:
        try:
            saved = json.loads(Path(args.render).read_text())
        except (OSError, ValueError) as e:
            p.error(f"--render {args.render}: cannot read it as JSON ({type(e).__name__}: {e})")
        if not isinstance(saved, dict) or not isinstance(saved.get("algos"), dict) or "machine" not in saved:
            p.error(f"--render {args.render}: not a compare.py result (it has no 'algos' and 'machine')")
        saved["summary"] = summarise(saved)  # in memory: the JSON stays as its run wrote it
        write_text(Path(args.render).with_suffix(".md"), markdown(saved) + "\n")
        print(markdown(saved))
        return
    if args.speed_rounds < 1:
        p.error("--speed-rounds must be at least 1")
    if not args.force and (taken := [x for x in (".json", ".md") if Path(args.out).with_suffix(x).exists()]):
        p.error(f"{args.out}{taken[0]} exists; choose another --out or add --force")
    from orlkit.errors import OrlkitError
    from orlkit.nets.precision import check_precision, cpu_has_bf16_matmul

    slow_bf16 = args.device == "cpu" and not cpu_has_bf16_matmul()
    if args.precision is None:
        args.precision = "fp32" if slow_bf16 else "fp32,bf16"
        if slow_bf16:
            print("this CPU has no bf16 matrix instructions (orlkit train refuses --precision bf16 on it): "
                  "orlkit runs in fp32 only, and the bf16 floor is not measured", file=sys.stderr)
    precisions = [x.strip() for x in args.precision.split(",") if x.strip()]
    for precision in precisions:
        try:
            check_precision(precision, args.device)  # what orlkit train's workers will check
        except OrlkitError as e:
            p.error(f"--precision {args.precision}: {e}")
    if "fp32" not in precisions:
        p.error("the summary compares against orlkit fp32: include fp32 in --precision")
    if args.device not in ("cpu", "cuda"):
        p.error(f"--device is cpu or cuda, got {args.device!r}")
    if args.device == "cuda" and not args.skip_train:
        p.error("--device cuda measures speed and the floor only: add --skip-train")
    import d3rlpy
    import torch

    algos = [a.strip() for a in args.algos.split(",") if a.strip()]
    unknown = [a for a in algos if a not in ALGOS]
    if unknown:
        raise SystemExit(f"unknown algorithm(s) {unknown}; choose from {', '.join(ALGOS)}")
    compiled = [x.strip() for x in args.compile.split(",") if x.strip()]
    if stray := [x for x in compiled if x not in precisions]:
        p.error(f"--compile {','.join(stray)}: not among --precision ({args.precision})")
    train_only = [x.strip() for x in args.train_only.split(",") if x.strip()]
    if train_only and args.skip_train:
        p.error("--train-only names variants to train; --skip-train trains none")
    # (name, library, precision, compiled) per variant; the same for every algorithm
    keys = ([(f"orlkit-{pr}", "orlkit", pr, False) for pr in precisions]
            + [(f"orlkit-{pr}-compile", "orlkit", pr, True) for pr in compiled]
            + [("d3rlpy", "d3rlpy", "fp32", False)])
    variants = [key for key, *_ in keys]
    if stray := [x for x in train_only if x not in variants]:
        p.error(f"--train-only {','.join(stray)}: not a variant of this run (choose from {', '.join(variants)})")
    from orlkit.train.denormal import flush_denormals
    from orlkit.train.malloc import tune_malloc

    malloc_tuned = tune_malloc()  # whether the workers' tune_malloc() takes effect: they share this platform and env
    flushing = flush_denormals()  # the same for the workers' flush_denormals(): same platform and environment
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"), "command": "python benchmarks/compare.py " + " ".join(sys.argv[1:]),
        "machine": {"cpu": cpu_name(), "threads": args.threads, "bf16_matmul": not slow_bf16,
                    "torch": torch.__version__, "d3rlpy": d3rlpy.__version__, "device": args.device,
                    "gpu": torch.cuda.get_device_name() if args.device == "cuda" else None,
                    "malloc_tuned": {"orlkit": malloc_tuned, "d3rlpy": malloc_tuned and args.d3rlpy_malloc},
                    # orlkit's workers flush subnormal floats to zero as `orlkit train` does (since 2026-12-01)
                    "flush_denormal": {"orlkit": flushing, "d3rlpy": flushing and args.d3rlpy_flush_denormal}},
        "datasets": {"continuous": args.dataset, "discrete": args.discrete_dataset},
        "inductor_cache": args.inductor_cache, "algos": {}}
    bf16_floor = not slow_bf16 or "bf16" in precisions  # emulated bf16 GEMMs: timed only where bf16 is asked for
    for name in (args.dataset, args.discrete_dataset):
        load_data(name)  # make and cache once, outside any timing
    for algo in algos:
        dataset = args.discrete_dataset if algo == "cql-discrete" else args.dataset
        updates = updates_for(args.updates, algo)
        entry: dict[str, Any] = {"dataset": dataset, "updates": updates, "speed": {}, "train": {}}
        base = {"algo": algo, "dataset": dataset, "timing_updates": args.timing_updates,
                "eval_episodes": args.eval_episodes, "device": args.device, "d3rlpy_malloc": args.d3rlpy_malloc,
                "d3rlpy_flush_denormal": args.d3rlpy_flush_denormal}
        # Speed: --speed-rounds rounds, each a fresh process per library and precision, in turn; the median over
        # rounds (a process's own rate is the median of 3 blocks). Processes differ more than blocks within one.
        rounds: dict[str, list[dict[str, Any]]] = {key: [] for key, *_ in keys}
        for r in range(args.speed_rounds):
            for key, lib, precision, comp in keys:
                rounds[key].append(run_task({**base, "phase": "speed", "lib": lib, "precision": precision,
                                             "compile": comp, "floor": r == 0, "bf16_floor": bf16_floor},
                                            args.threads))
                print(f"{algo:13s} {key:19s} round {r}: {rounds[key][-1]['updates_per_sec']:8.1f} upd/s in update",
                      flush=True)
        entry["speed"] = {key: median_of_rounds(runs) for key, runs in rounds.items()}
        if not args.skip_train:
            trained = [k for k in keys if not train_only or k[0] in train_only]
            entry["train"] = {key: [] for key, *_ in trained}
            for seed in range(args.seeds):  # seeds outermost: the libraries take turns, as in the speed phase
                for key, lib, precision, comp in trained:
                    run = run_task({**base, "phase": "train", "lib": lib, "precision": precision, "compile": comp,
                                    "seed": seed, "updates": updates}, args.threads, args.inductor_cache)
                    entry["train"][key].append(run)
                    print(f"{algo:13s} {key:19s} seed {seed}: {run['updates_per_sec_end_to_end']:.1f} upd/s end "
                          f"to end, score {run['score']:.1f}, {run['peak_rss_mb']:.0f} MB", flush=True)
        results["algos"][algo] = entry
        results["summary"] = summarise(results)
        write_results(results, Path(args.out))  # after every algorithm: a run stopped early keeps what it measured
    print(markdown(results))


def write_results(results: dict[str, Any], out: Path) -> None:
    for suffix, text in ((".json", json.dumps(results, indent=1)), (".md", markdown(results) + "\n")):
        write_text(out.with_suffix(suffix), text)


if __name__ == "__main__":
    main()
