"""The fit loop: sample, update, log, evaluate, checkpoint — written once for every algorithm.

A run directory holds

    config.json     what was run (algorithm, its config, dataset, env, seed, steps, ...)
    metrics.jsonl   one JSON object per log step, each with ``step``
    eval.jsonl      ``step, return_mean, return_std`` (+ ``normalized_score``/``success_rate``)
    summary.json    final evaluation, steps, wall time, updates per second
    checkpoints/    ``step_XXXXXXXX.safetensors`` + ``.json``, written atomically
    tb/             TensorBoard event files

``resume=True`` continues from the directory's last checkpoint up to ``steps`` in total. The
checkpoint holds the weights, optimizer moments, and every random state (sampler, algorithm,
torch), so on CPU an interrupted-and-resumed run ends bitwise equal to an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from orlkit.algos import ALIASES, config_from_dict, make_algorithm, resolve_algorithm
from orlkit.algos.base import Algorithm, DataSpec, metrics_read_back
from orlkit.data.dataset import TransitionDataset
from orlkit.errors import OrlkitError, option_name
from orlkit.nets.precision import autocast, check_device, check_precision
from orlkit.train.checkpoint import latest_checkpoint, load_checkpoint, read_checkpoint, save_checkpoint
from orlkit.train.denormal import flush_denormals
from orlkit.train.evaluate import evaluate
from orlkit.train.io import read_jsonl, read_run_config, write_json, write_jsonl
from orlkit.train.malloc import tune_malloc


@dataclass
class RunConfig:
    """Everything that defines a training run (saved as ``config.json``)."""

    algo: str
    dataset: str  # built-in name, file path, or minari:ID
    steps: int = 10_000  # total gradient updates
    seed: int = 0
    env_id: str | None = None  # evaluation environment; default: the dataset's own
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    eval_every: int = 5_000  # evaluate every this many updates (0: only at the end)
    eval_episodes: int = 10
    log_every: int = 500  # write metrics every this many updates
    checkpoint_every: int = 0  # 0: at every evaluation and at the end
    keep_checkpoints: int = 2
    device: str = "cpu"
    precision: str = "fp32"  # "bf16": matmuls in bfloat16 under autocast, weights and losses fp32 (nets/precision.py)
    compile: bool = False  # torch.compile the update, as one graph where it can (opt-in; pays in long runs)
    tensorboard: bool = True
    config: dict[str, Any] = field(default_factory=dict)  # the algorithm's config (defaults filled in)
    # TransitionDataset.digest() of the data the run trains on, set when it starts; "" in runs made before it was
    # recorded. Resuming on data with another digest (a changed file, a new built-in dataset version) is refused.
    dataset_digest: str = ""

    def __post_init__(self) -> None:
        check_precision(self.precision)
        for name in ("compile", "tensorboard"):  # from Python, "no" would otherwise read as true
            if not isinstance(getattr(self, name), bool):
                raise OrlkitError(f"RunConfig.{name} must be True or False, got {getattr(self, name)!r}")
        for name in ("steps", "log_every", "eval_episodes"):
            if getattr(self, name) < 1:
                raise OrlkitError(f"{option_name(name)} must be at least 1, got {getattr(self, name)}")
        for name in ("eval_every", "checkpoint_every"):
            if getattr(self, name) < 0:
                raise OrlkitError(f"{option_name(name)} must be ≥ 0, got {getattr(self, name)}")
        if self.algo in ALIASES:  # e.g. cql → cql-discrete or cql-continuous, by the data's action space
            from orlkit.data.registry import resolve_dataset

            self.algo = resolve_algorithm(self.algo, resolve_dataset(self.dataset).discrete)
        # The whole config, defaults filled in, so config.json records every value the run used.
        self.config = dataclasses.asdict(config_from_dict(self.algo, self.config))


def _dataset_for(run: RunConfig, dataset: TransitionDataset | None) -> TransitionDataset:
    from orlkit.data.registry import resolve_dataset

    return dataset if dataset is not None else resolve_dataset(run.dataset)


def _run_config(saved: dict[str, Any], out: str | Path) -> RunConfig:
    try:
        return RunConfig(**saved)
    except TypeError as e:  # a key RunConfig does not have, or a required one missing
        raise OrlkitError(f"{Path(out) / 'config.json'}: not a run config orlkit can read ({e})") from None


def saved_run_config(out: str | Path, **changes: Any) -> RunConfig:
    """The run a directory holds (its ``config.json``), with ``changes`` (``steps``, ``compile``: what a resumed run
    may change)."""
    return _run_config({**read_run_config(out), **changes}, out)


# What `--resume` may change: how far to train and whether to compile (compiling changes no state).
RESUME_FREE = ("steps", "compile")


def check_resume_request(out: str | Path, asked: dict[str, Any]) -> None:
    """Refuse a resume that asks for something other than what the run in ``out`` was made with, naming each
    difference. ``asked``: the run-config fields the user set explicitly (``config``: only the keys they set);
    a resumed run continues as it was made, so a differing value would otherwise be ignored without a word."""
    saved = read_run_config(out)
    norm = lambda v: json.loads(json.dumps(v))  # noqa: E731  (tuples as lists, as config.json holds them)
    diffs = []
    for key, value in asked.items():
        if key in RESUME_FREE:
            continue
        if key == "config":
            if asked.get("algo", saved.get("algo")) != saved.get("algo"):
                continue  # another algorithm's config: the algorithm is the difference to name
            have = saved.get("config") or {}
            show = lambda v: ",".join(map(str, v)) if isinstance(v, list) else v  # noqa: E731  (as --set takes it)
            diffs += [f"--set {k}={show(norm(v))} (the run has {show(have.get(k))})" for k, v in value.items()
                      if norm(v) != have.get(k)]
        elif key == "dataset":
            if not _same_dataset(value, saved.get("dataset")):
                diffs.append(f"--dataset {value} (the run was trained on {saved.get('dataset')})")
        elif key == "tensorboard":
            if value != saved.get(key, True):
                diffs.append("--no-tensorboard (the run logs to TensorBoard)" if not value else "TensorBoard logs "
                             "(the run has none)")
        elif norm(value) != saved.get(key):
            name = {"algo": "algorithm", "env_id": "--env"}.get(key, option_name(key))
            diffs.append(f"{name} {value} (the run has {saved.get(key)})")
    if diffs:
        raise OrlkitError(f"{out}: --resume continues the run as it was made, but this command asks for "
                          f"{'; '.join(diffs)}. Drop those to continue it, or start a new run with another --out")


def _same_dataset(asked: str, saved: str | None) -> bool:
    """Whether two dataset names mean the same data source: equal, or paths to the same file."""
    if saved is None or asked == saved:
        return asked == saved
    a, b = Path(asked), Path(saved)
    return a.exists() and b.exists() and a.resolve() == b.resolve()


def build(run: RunConfig, dataset: TransitionDataset | None = None) -> tuple[Algorithm, TransitionDataset, str | None]:
    """The algorithm, the (prepared) data it trains on and the evaluation env id for ``run``."""
    from orlkit.data.formats import check_fits_env
    from orlkit.envs.make import make_env

    ds = _dataset_for(run, dataset)
    env_id = run.env_id or ds.meta.get("env_id")
    if env_id:
        if not run.env_kwargs and ds.meta.get("env_id") == env_id:
            run.env_kwargs = dict(ds.meta.get("env_kwargs") or {})
        env = make_env(env_id, run.env_kwargs)
        check_fits_env(ds, env, source=run.dataset)
        env.close()
    try:
        spec = DataSpec.from_dataset(ds)
    except ValueError as e:
        raise OrlkitError(f"{run.dataset}: {e}") from None
    algo = make_algorithm(run.algo, spec, config_from_dict(run.algo, run.config), device=run.device,
                          seed=run.seed)
    return algo, algo.prepare(ds), env_id


def _truncate_logs(out: Path, step: int) -> None:
    """Drop log lines written after ``step`` by a run that got further than its last checkpoint."""
    for name in ("metrics.jsonl", "eval.jsonl"):
        rows = read_jsonl(out / name)
        if any(r["step"] > step for r in rows):
            write_jsonl(out / name, [r for r in rows if r["step"] <= step])


def _append(path: Path, row: dict[str, Any]) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


class _Run:
    """One run directory while it trains: its algorithm, sampler, logs, evaluations and checkpoints."""

    def __init__(self, run: RunConfig, out_dir: str | Path, resume: bool, dataset: TransitionDataset | None,
                 digest: str | None = None):
        out = Path(out_dir)
        self.ckpt_dir = out / "checkpoints"
        self.start = 0
        if resume:
            if not (out / "config.json").exists():
                raise OrlkitError(f"{out}: nothing to resume (no config.json); start without --resume")
            run = saved_run_config(out, steps=run.steps, compile=run.compile)  # compiling changes no state
            check_device(run.device)  # the run's own device (made on a GPU, resumed where there is none)
        elif (out / "config.json").exists():
            raise OrlkitError(f"{out} already holds a run; add --resume to continue it or choose another --out")
        raw = _dataset_for(run, dataset)
        digest = raw.digest() if digest is None else digest  # given by train_together: one hash for all seeds
        if resume and run.dataset_digest and run.dataset_digest != digest:
            raise OrlkitError(
                f"{out}: the data of '{run.dataset}' is not what this run was trained on (content digest "
                f"{run.dataset_digest[:12]}… then, {digest[:12]}… now: the file changed, or a built-in dataset was "
                "remade in a new version); resuming would continue on other data. Start a new run with another --out")
        if not resume or run.dataset_digest:  # a run from before digests were recorded stays "" (not known)
            run = dataclasses.replace(run, dataset_digest=digest)
        self.run, self.out = run, out
        self.algo, ds, self.env_id = build(run, raw)
        self.sampler = ds.sampler(self.algo.config.batch_size, run.device, seed=run.seed)
        if resume and (ckpt := latest_checkpoint(self.ckpt_dir)) is not None:
            meta = load_checkpoint(ckpt, self.algo)
            self.sampler.load_state_dict({"generator": meta["extra_tensors"]["sampler.generator"]})
            self.start = int(meta["step"])
        if resume:  # lines logged after the last checkpoint (or before a first one) are redone
            _truncate_logs(out, self.start)
        if self.start >= run.steps:
            raise OrlkitError(f"{out} is already at step {self.start}; ask for more --steps than that to continue")
        write_json(out / "config.json", dataclasses.asdict(run))
        self.writer = None
        if run.tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(out / "tb"), purge_step=self.start + 1 if resume else None)
        self.checkpoint_every = run.checkpoint_every or run.eval_every or run.steps
        self.gamma = getattr(self.algo.config, "gamma", None)
        self.start_obs = raw.obs[raw.episode_bounds[0][:1000]]  # up to 1000 episode start states, as recorded
        self.eval_seed = 100_000 + 1_000 * run.seed
        self.last_eval: dict[str, Any] | None = None

    def log_step(self, step: int) -> bool:
        return step % self.run.log_every == 0 or step == self.run.steps

    def evaluates(self, step: int) -> bool:
        run = self.run
        return bool(self.env_id) and bool((run.eval_every and step % run.eval_every == 0) or step == run.steps)

    def due(self, step: int) -> bool:
        """Whether ``step`` evaluates or checkpoints (the algorithm's weights must be current)."""
        return self.evaluates(step) or step % self.checkpoint_every == 0 or step == self.run.steps

    def after_update(self, step: int, metrics: dict[str, float] | None) -> bool:
        """Log ``metrics`` (given on log steps), evaluate and checkpoint when due; whether it evaluated."""
        run, out, algo = self.run, self.out, self.algo
        if metrics is not None:
            bad = [k for k, v in metrics.items() if not np.isfinite(v)]
            if bad:
                raise FloatingPointError(f"non-finite metrics at step {step}: {', '.join(bad)}")
            _append(out / "metrics.jsonl", {"step": step, **metrics})
            if self.writer:
                for k, v in metrics.items():
                    self.writer.add_scalar(k, v, step)
        evaluates = self.evaluates(step)
        if evaluates:
            self.last_eval = evaluate(lambda o: algo.act(o, deterministic=True), self.env_id, run.eval_episodes,
                                      self.eval_seed, run.env_kwargs, gamma=self.gamma)
            q_start = algo.value_estimate(self.start_obs)
            if q_start is not None:  # the critic's belief about the same policy, at the data's start states
                self.last_eval["q_estimate"] = float(np.mean(q_start))
            row = {"step": step, **{k: v for k, v in self.last_eval.items() if k != "returns"}}
            _append(out / "eval.jsonl", row)
            if self.writer:
                for k, v in row.items():
                    if k != "step":
                        self.writer.add_scalar(f"eval/{k}", v, step)
        if step % self.checkpoint_every == 0 or step == run.steps:
            save_checkpoint(self.ckpt_dir / f"step_{step:08d}", algo,
                            tensors={"sampler.generator": self.sampler.state_dict()["generator"]},
                            meta={"step": step, "config": run.config, "env_id": self.env_id})
            for old in sorted(self.ckpt_dir.glob("step_*.json"))[:-run.keep_checkpoints]:
                old.unlink()
                old.with_suffix(".safetensors").unlink(missing_ok=True)
        return evaluates

    def close(self, update_time: float, wall: float, seeds_together: int = 1) -> dict[str, Any]:
        if self.writer:
            self.writer.close()
        run, n = self.run, self.run.steps - self.start
        summary = {
            "algo": run.algo, "dataset": run.dataset, "env_id": self.env_id, "seed": run.seed, "steps": run.steps,
            "steps_this_session": n, "wall_time_s": wall, "updates_per_sec": n / max(update_time, 1e-9),
            "updates_per_sec_end_to_end": n / max(wall, 1e-9),
            "final_eval": {k: v for k, v in self.last_eval.items() if k != "returns"} if self.last_eval else None,
        }
        if seeds_together > 1:  # the times are those of all seeds' updates together
            summary["seeds_together"] = seeds_together
        write_json(self.out / "summary.json", summary)
        return summary


def _device_sync(device: str) -> Any:
    """A function that waits for ``device``'s queued work (a no-op on the CPU). The fit loops call it, inside the
    update timer, before each evaluation or checkpoint: updates that read nothing back leave their GPU work queued,
    and it counts as update time when it drains."""
    if str(device).startswith("cuda"):
        import torch

        return torch.cuda.synchronize
    return lambda: None


def _progress_bar(run: RunConfig, start: int, progress: bool, desc: str) -> tqdm:
    return tqdm(total=run.steps, initial=start, disable=not progress, desc=desc, unit="upd",
                dynamic_ncols=True, mininterval=0.5 if sys.stderr.isatty() else 30.0)


def train(run: RunConfig, out_dir: str | Path, resume: bool = False, progress: bool = True,
          dataset: TransitionDataset | None = None) -> dict[str, Any]:
    """Train ``run`` into ``out_dir``; returns the summary (also written to ``summary.json``)."""
    check_device(run.device)  # a device this machine cannot use: refused before any work
    check_precision(run.precision, run.device)  # bf16 on a CPU without bf16 matmuls: refused before any work
    flush_denormals()  # before any parallel torch work, so that OpenMP's threads start with it (train/denormal.py)
    r = _Run(run, out_dir, resume, dataset)
    tune_malloc()
    run, algo, sampler = r.run, r.algo, r.sampler
    sync = _device_sync(run.device)
    update_time, t_start = 0.0, time.perf_counter()
    bar = _progress_bar(run, r.start, progress, f"{run.algo}")
    update = _compiled_update(algo) if run.compile else algo.update
    for step in range(r.start + 1, run.steps + 1):
        t0 = time.perf_counter()
        log = r.log_step(step)
        with autocast(run.precision, run.device), metrics_read_back(log):  # no device sync on other steps
            metrics = update(sampler.sample())
        if r.due(step):
            sync()
        update_time += time.perf_counter() - t0
        if r.after_update(step, metrics if log else None):
            bar.set_postfix(ret=f"{r.last_eval['return_mean']:.1f}")
        bar.update(1)
    bar.close()
    return r.close(update_time, time.perf_counter() - t_start)


def _compiled_update(algo: Algorithm) -> Any:
    """``algo``'s update under ``torch.compile`` (``--compile``). If compiling fails (on the CPU it needs a C++
    compiler), the update raises one OrlkitError; the run's checkpoints so far are untouched.

    Algorithms with a functional update (``update_seeds``: ``orlkit.train.seeds.supported()``) compile that, for this
    one seed, on views of the algorithm's own weights and Adam state (``SeedStack(share=True)``): gradients, Adam
    steps and soft target updates trace into one graph, which ``algo.update`` cannot (each ``backward()`` and
    optimizer ``step()`` breaks it). Random draws from a run's generator (TD3+BC, CQL) are made before the graph
    runs and passed in (``Algorithm.seed_inputs``), discrete CQL's periodic hard target copy runs after it; TD3+BC's
    delayed actor step makes two graphs (with and without it). The others compile ``algo.update``."""
    import torch

    from orlkit.algos.base import to_floats
    from orlkit.train.seeds import SeedStack, supported

    if algo.name in supported():
        stack = SeedStack([algo], share=True)
        stack.compile()

        def call(batch: Any) -> dict[str, float]:
            metrics = stack.update(batch.unsqueeze())  # one seed: fields (1, B, ...)
            return to_floats({k: v.reshape(()) for k, v in metrics.items()})
    else:
        call = torch.compile(algo.update)
    return _compile_errors(call, algo.name)


def _compile_errors(call: Any, name: str, flag: str = "--compile",
                    advice: str = "train without --compile (--resume continues from the last checkpoint)") -> Any:
    """``call``, with any exception it raises as one OrlkitError. torch.compile compiles at the first call, and again
    where a flag changes (TD3+BC's second update, the end of CQL's BC warm-up), so a compiler failure can come at
    any update; the run's checkpoints so far are untouched."""

    def update(*args: Any) -> Any:
        try:
            return call(*args)
        except OrlkitError:
            raise
        except Exception as e:  # torch._dynamo / inductor errors have no common public base class
            raise OrlkitError(f"{flag}: torch.compile could not compile or run {name}'s update "
                              f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); {advice}") from e

    return update


def train_together(run: RunConfig, seeds: list[int], out_dirs: list[str | Path], resume: bool = False,
                   progress: bool = True, dataset: TransitionDataset | None = None) -> list[dict[str, Any]]:
    """Train ``run`` once per seed in ``seeds``, all seeds in one process at once (``orlkit.train.seeds``), seed
    ``seeds[i]`` into ``out_dirs[i]``. Each directory is an ordinary run directory: what ``train`` with that seed
    writes, up to floating-point rounding, and resumable by either function. Returns the summaries."""
    from orlkit.train.seeds import SeedStack, check_seeds, check_supported, share_data

    check_device(run.device)
    check_precision(run.precision, run.device)
    flush_denormals()
    check_supported(run.algo)
    check_seeds(seeds)
    if len(out_dirs) != len(seeds):
        raise OrlkitError(f"{len(out_dirs)} run directories for {len(seeds)} seeds")
    run = _check_together(run, seeds, [Path(d) for d in out_dirs], resume)  # before any directory is touched
    if dataset is None:
        dataset = _dataset_for(run, None)  # loaded once for all seeds
    digest = dataset.digest()
    tune_malloc()
    runs: list[_Run] = []
    for s, d in zip(seeds, out_dirs, strict=True):
        runs.append(_Run(dataclasses.replace(run, seed=s), d, resume, dataset, digest))
        share_data([runs[0].sampler, runs[-1].sampler])  # at once, so that at most two copies are ever held
    starts = {r.start for r in runs}
    assert len(starts) == 1, starts  # _check_together read the same checkpoint steps
    start, first = starts.pop(), runs[0].run
    stack = SeedStack([r.algo for r in runs])
    update = stack.update
    if run.compile:  # update_seeds compiled, for all seeds at once
        stack.compile()
        update = _compile_errors(stack.update, run.algo)
    samplers = [r.sampler for r in runs]
    sync = _device_sync(first.device)
    update_time, t_start = 0.0, time.perf_counter()
    bar = _progress_bar(first, start, progress, f"{first.algo} × {len(seeds)} seeds")
    for step in range(start + 1, first.steps + 1):
        t0 = time.perf_counter()
        with autocast(first.precision, first.device):
            metrics = update(stack.sample(samplers))
        per_seed = stack.floats(metrics) if runs[0].log_step(step) else [None] * len(runs)
        due = runs[0].due(step)
        if due:
            sync()
        update_time += time.perf_counter() - t0
        if due:
            stack.write_back()
        evaluated = [r.after_update(step, m) for r, m in zip(runs, per_seed, strict=True)]
        if any(evaluated):
            bar.set_postfix(ret=f"{np.mean([r.last_eval['return_mean'] for r in runs]):.1f} (mean over seeds)")
        bar.update(1)
    bar.close()
    wall = time.perf_counter() - t_start
    return [r.close(update_time, wall, seeds_together=len(runs)) for r in runs]


def _check_together(run: RunConfig, seeds: list[int], outs: list[Path], resume: bool) -> RunConfig:
    """Refuse, before any directory is written, what ``train_together`` cannot do; the run to train (on resume:
    the saved one, with ``run.steps`` and ``run.compile``)."""
    if not resume:
        taken = [str(o) for o in outs if (o / "config.json").exists()]
        if taken:
            raise OrlkitError(f"{', '.join(taken)} already hold{'s' if len(taken) == 1 else ''} a run; add --resume "
                              "to continue or choose another --out")
        return run
    missing = [str(o) for o in outs if not (o / "config.json").exists()]
    if missing:
        raise OrlkitError(f"{', '.join(missing)}: nothing to resume (no config.json); start without --resume")
    saved = [read_run_config(o) for o in outs]
    for o, cfg, seed in zip(outs, saved, seeds, strict=True):
        if cfg.get("seed") != seed:
            raise OrlkitError(f"{o} holds seed {cfg.get('seed')}, not {seed}")
    free = ("seed", "steps", "compile")  # may differ between runs resumed together (compiling changes no state)
    base = {k: v for k, v in saved[0].items() if k not in free}
    for o, cfg in zip(outs[1:], saved[1:], strict=True):
        other = {k: v for k, v in cfg.items() if k not in free}
        if other != base:
            diff = sorted(k for k in base.keys() | other.keys() if base.get(k) != other.get(k))
            raise OrlkitError(f"{outs[0]} and {o} differ in {', '.join(diff)}: runs resumed together must differ "
                              "only in their seed; resume them one by one")
    steps = []
    for o in outs:
        ckpt = latest_checkpoint(o / "checkpoints")
        try:
            steps.append(0 if ckpt is None else int(json.loads(ckpt.with_suffix(".json").read_text())["step"]))
        except (ValueError, KeyError) as e:
            raise OrlkitError(f"{ckpt}.json: cannot read the checkpoint's step ({type(e).__name__}: {e})") from None
    if len(set(steps)) != 1:
        where = ", ".join(f"{o}: {n}" for o, n in zip(outs, steps, strict=True))
        raise OrlkitError(f"the runs to resume stand at different steps ({where}); resume them one by one")
    run = saved_run_config(outs[0], steps=run.steps, compile=run.compile)  # compiling changes no state
    check_device(run.device)  # the runs' own device (made on a GPU, resumed where there is none)
    return run


def load_run(out_dir: str | Path) -> tuple[Algorithm, RunConfig, str | None]:
    """The algorithm of a run directory, restored from its last checkpoint, with its config."""
    out = Path(out_dir)
    saved = read_run_config(out)
    if saved.get("kind") == "online":  # a run of orlkit.train.online: no dataset, the env it acted in
        saved = {"algo": saved["algo"], "dataset": f"online:{saved['env_id']}", "steps": saved["steps"],
                 "seed": saved["seed"], "env_id": saved["env_id"], "env_kwargs": saved["env_kwargs"],
                 "config": saved["algo_config"]}
    run = _run_config(saved, out)
    ckpt = latest_checkpoint(out / "checkpoints")
    if ckpt is None:
        raise OrlkitError(f"{out}: no checkpoint found in {out / 'checkpoints'}")
    _, meta = read_checkpoint(ckpt)
    spec = DataSpec(**meta["spec"])
    algo = make_algorithm(run.algo, spec, config_from_dict(run.algo, run.config), device=run.device,
                          seed=run.seed)
    load_checkpoint(ckpt, algo)
    env_id = run.env_id or meta.get("env_id")
    return algo, run, env_id
