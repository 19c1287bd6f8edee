"""The ``orlkit`` command. Exit codes: 0 success, 2 bad input or usage, 1 internal error."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import traceback
from pathlib import Path
from typing import Any

from orlkit.errors import OrlkitError

PRECISIONS = ("fp32", "bf16")  # = orlkit.nets.precision.PRECISIONS; not imported here so --help does not load torch


def parse_overrides(algo: str, items: list[str]) -> dict[str, Any]:
    """``["key=value", ...]`` → the algorithm's config as a dict, values typed like the defaults."""
    from orlkit.algos import default_config

    cfg = dataclasses.asdict(default_config(algo))
    for item in items:
        if "=" not in item:
            raise OrlkitError(f"--set expects key=value, got '{item}'")
        key, raw = item.split("=", 1)
        if key not in cfg:
            raise OrlkitError(f"unknown config key '{key}' for {algo}; valid keys: {', '.join(cfg)}")
        cfg[key] = _typed(key, raw, cfg[key])
    return cfg


def _typed(key: str, raw: str, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            if raw.lower() not in ("true", "false", "1", "0"):
                raise ValueError
            return raw.lower() in ("true", "1")
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, tuple):
            widths = tuple(int(x) for x in raw.split(",") if x)
            if not widths:  # "hidden=": a typo more often than a wish for a linear model
                raise ValueError
            return widths
    except ValueError:
        kind = ("a comma-separated list of positive integers, e.g. 256,256" if isinstance(default, tuple)
                else "true or false (or 1 / 0)" if isinstance(default, bool) else type(default).__name__)
        raise OrlkitError(f"--set {key}={raw}: expected {kind}") from None
    return raw


def format_table(headers: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table; floats get 3 significant decimals."""
    def cell(v: Any) -> str:
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- commands
def cmd_train(args: argparse.Namespace) -> int:
    from orlkit.algos import ALIASES, resolve_algorithm
    from orlkit.train.denormal import flush_denormals
    from orlkit.train.fit import RunConfig, check_resume_request, train
    from orlkit.train.io import check_output_path

    flush_denormals()  # before the data is loaded, so that OpenMP's threads start with it (train/denormal.py)
    dataset = None
    if args.algo in ALIASES:  # the data decides (cql → cql-discrete / cql-continuous); load it once, here
        from orlkit.data.registry import resolve_dataset

        dataset = resolve_dataset(args.dataset)
        args.algo = resolve_algorithm(args.algo, dataset.discrete)
    seeds = parse_seeds(args.seeds) if args.seeds is not None else None
    if seeds is not None and args.seed is not None:
        raise OrlkitError("give --seed or --seeds, not both")
    seed = args.seed if args.seed is not None else 0
    if seeds is not None:
        from orlkit.train.seeds import check_supported

        check_supported(args.algo)  # before the dataset is made or loaded
    out = args.out or f"runs/{args.algo}-{Path(args.dataset).stem}-seed{seed}"
    overrides = parse_overrides(args.algo, args.set or [])
    # The options the user typed (None: not given, the default applies): on --resume each must match the run.
    typed = {"eval_every": args.eval_every, "eval_episodes": args.eval_episodes, "log_every": args.log_every,
             "device": args.device, "precision": args.precision, "env_id": args.env}
    typed = {k: v for k, v in typed.items() if v is not None}
    run = RunConfig(algo=args.algo, dataset=args.dataset, steps=args.steps, seed=seed,
                    tensorboard=not args.no_tensorboard, compile=args.compile, config=overrides, **typed)
    if args.resume:
        set_keys = {item.split("=", 1)[0] for item in args.set or []}
        asked = {"algo": run.algo, "dataset": args.dataset, **typed,
                 "config": {k: v for k, v in overrides.items() if k in set_keys}}
        if args.no_tensorboard:
            asked["tensorboard"] = False
        if seeds is None and args.seed is not None:
            asked["seed"] = args.seed
    outs = _seed_dirs(args, run, seeds) if seeds is not None else [Path(out)]
    for o in outs:
        if not args.resume:
            check_output_path(o, directory=True)
        elif (o / "config.json").exists():  # a missing one is reported by train()
            check_resume_request(o, asked)
    if seeds is not None:
        return _train_seeds(args, run, seeds, dataset)
    summary = train(run, out, resume=args.resume, progress=not args.quiet, dataset=dataset)
    ev = summary["final_eval"] or {}
    rows = [["steps", summary["steps"]], ["updates/s", round(summary["updates_per_sec"], 1)],
            ["wall time (s)", round(summary["wall_time_s"], 1)]]
    rows += [[k, v] for k, v in ev.items()]
    print(format_table(["result", "value"], rows))
    print(f"run directory: {out}")
    return 0


def parse_seeds(text: str) -> list[int]:
    """``--seeds``: "0,1,2" or a range "0-4" (both ends included); seeds are non-negative integers."""
    usage = "comma-separated non-negative integers (0,1,2) or a range (0-4)"
    try:
        if "-" in text and "," not in text:
            lo, hi = (int(x) for x in text.split("-"))
            if lo > hi:
                raise OrlkitError(f"--seeds range {text!r} runs backwards; write {hi}-{lo}")
            seeds = list(range(lo, hi + 1))
        else:
            seeds = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise OrlkitError(f"--seeds takes {usage}, got {text!r}") from None
    if not seeds or min(seeds) < 0:
        raise OrlkitError(f"--seeds takes {usage}, got {text!r}")
    if len(set(seeds)) != len(seeds):
        raise OrlkitError(f"--seeds names a seed twice: {text!r}")
    return seeds


def _seed_dirs(args: argparse.Namespace, run, seeds: list[int]) -> list[Path]:
    """The run directory of each seed of ``--seeds``: OUT/seedS, or runs/ALGO-DATASET-seedS."""
    stem = f"{run.algo}-{Path(args.dataset).stem}"
    return [Path(args.out) / f"seed{s}" if args.out else Path(f"runs/{stem}-seed{s}") for s in seeds]


def _train_seeds(args: argparse.Namespace, run, seeds: list[int], dataset) -> int:
    from orlkit.train.fit import train_together

    outs = _seed_dirs(args, run, seeds)
    summaries = train_together(run, seeds, outs, resume=args.resume, progress=not args.quiet, dataset=dataset)
    keys = sorted({k for s in summaries for k in (s["final_eval"] or {})})
    rows = [[s["seed"], s["steps"], *[(s["final_eval"] or {}).get(k, "—") for k in keys], str(o)]
            for s, o in zip(summaries, outs, strict=True)]
    print(format_table(["seed", "steps", *keys, "run directory"], rows))
    first = summaries[0]
    print(f"{len(seeds)} seeds at once: {first['updates_per_sec'] * len(seeds):.1f} seed-updates/s "
          f"({first['wall_time_s']:.1f} s wall)")
    return 0


ONLINE_ALGOS = ("sac",)


def cmd_online(args: argparse.Namespace) -> int:
    from orlkit.algos import make_algorithm
    from orlkit.train.online import OnlineConfig, continuous_spec, train_online

    if args.algo not in ONLINE_ALGOS:
        raise OrlkitError(f"online training supports {', '.join(ONLINE_ALGOS)}, not '{args.algo}'")
    # The options the user typed (None: not given, OnlineConfig's default applies): on --resume each must match.
    typed = {"start_steps": args.start_steps, "eval_every": args.eval_every, "eval_episodes": args.eval_episodes,
             "snapshot_every": args.snapshot_every, "precision": args.precision, "seed": args.seed}
    typed = {k: v for k, v in typed.items() if v is not None}
    if "start_steps" in typed:
        typed["update_after"] = typed["start_steps"]
    seed = typed.get("seed", 0)
    out = args.out or f"runs/{args.algo}-online-{args.env.replace('/', '_')}-seed{seed}"
    resuming = args.resume and (Path(out) / "config.json").exists()
    run = OnlineConfig(env_id=args.env, steps=args.steps, **typed)
    if not resuming and run.start_steps >= run.steps:
        raise OrlkitError(f"--start-steps {run.start_steps} is not below --steps {run.steps}: the agent would act "
                          "at random throughout and never update; ask for more --steps or fewer --start-steps")
    spec = continuous_spec(args.env)
    from orlkit.algos import config_from_dict
    from orlkit.train.fit import check_resume_request
    from orlkit.train.io import read_run_config

    config = parse_overrides(args.algo, args.set or [])
    if resuming:  # the run's own config, not today's flags
        if args.set:
            raise OrlkitError("--set cannot change the config of a run being resumed")
        check_resume_request(out, {"algo": args.algo, "env_id": args.env,
                                   **{k: v for k, v in typed.items() if k != "update_after"}})
        saved = read_run_config(out)
        config = saved["algo_config"]
        # fields added after the run was made (e.g. precision) keep their defaults
        run = OnlineConfig(**{**{k: saved[k] for k in dataclasses.asdict(run) if k in saved}, "steps": args.steps})
    algo = make_algorithm(args.algo, spec, config_from_dict(args.algo, config), seed=run.seed)
    summary = train_online(algo, run, out, resume=args.resume, progress=not args.quiet)
    ev = summary["final_eval"] or {}
    rows = [["env steps", summary["steps"]], ["wall time (s)", round(summary["wall_time_s"], 1)]]
    rows += [[k, v] for k, v in ev.items() if k not in ("step", "wall_time_s")]
    print(format_table(["result", "value"], rows))
    print(f"run directory: {out}")
    return 0


def cmd_relabel(args: argparse.Namespace) -> int:
    from orlkit.data.formats import save_dataset
    from orlkit.data.registry import resolve_dataset
    from orlkit.rewards.base import load_reward_model
    from orlkit.rewards.preference_rl import relabel_dataset
    from orlkit.train.io import check_output_path

    check_output_path(args.out)
    if Path(args.dataset).exists() and Path(args.out).exists() and Path(args.out).samefile(args.dataset):
        raise OrlkitError(f"--out {args.out} is the dataset being relabelled; write the relabelled copy elsewhere "
                          "(the original's rewards would be lost)")
    model = load_reward_model(args.reward)
    ds = resolve_dataset(args.dataset)
    out = relabel_dataset(ds, model)
    save_dataset(out, args.out)
    r, t = out.rewards, ds.rewards
    rows = [["transitions", out.n_transitions], ["reward mean", float(r.mean())], ["reward std", float(r.std())]]
    if t.std() > 0 and r.std() > 0:
        import numpy as np

        rows.append(["corr(new, old reward)", float(np.corrcoef(r, t)[0, 1])])
    print(format_table(["relabelled", "value"], rows))
    print(f"written: {args.out} (the old rewards are kept as the extra column 'true_rewards')")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from orlkit.train.evaluate import check_policy_fits_env, evaluate
    from orlkit.train.fit import load_run

    if args.episodes < 1:
        raise OrlkitError(f"--episodes must be at least 1, got {args.episodes}")
    algo, run, env_id = load_run(args.dir)
    if not env_id:
        raise OrlkitError(f"{args.dir}: the run has no environment to evaluate in (train with --env)")
    check_policy_fits_env(algo.spec, env_id, run.env_kwargs, where=str(args.dir))
    result = evaluate(lambda o: algo.act(o, deterministic=True), env_id, args.episodes, args.seed,
                      run.env_kwargs)
    result = {"algo": run.algo, "env_id": env_id, "episodes": args.episodes, **result}
    if args.json:
        print(json.dumps(result))
    else:
        print(format_table(["metric", "value"], [[k, v] for k, v in result.items() if k != "returns"]))
    return 0


def cmd_ope(args: argparse.Namespace) -> int:
    import numpy as np

    from orlkit.data.registry import resolve_dataset
    from orlkit.ope import DESCRIPTIONS, ESTIMATORS, epsilon_greedy, evaluate_policy
    from orlkit.ope.common import PROPENSITIES, check_discrete
    from orlkit.train.fit import load_run

    if not 0.0 <= args.epsilon <= 1.0:
        raise OrlkitError(f"--epsilon must be in [0, 1], got {args.epsilon}")
    if args.fqe_steps < 1:
        raise OrlkitError(f"--fqe-steps must be at least 1, got {args.fqe_steps}")
    algo, run, _ = load_run(args.dir)
    ds = resolve_dataset(args.dataset or run.dataset)
    check_discrete(ds)
    if not algo.spec.discrete:
        raise OrlkitError(f"{args.dir}: {run.algo} has a continuous-action policy; OPE here needs discrete actions")
    obs_dim = int(np.prod(ds.obs_shape))
    if obs_dim != algo.spec.obs_dim or ds.n_actions != algo.spec.n_actions:
        raise OrlkitError(f"{ds.source}: the data has {obs_dim}-dim observations and {ds.n_actions} actions, but "
                          f"the run's {run.algo} policy takes {algo.spec.obs_dim} and {algo.spec.n_actions}")
    gamma = args.gamma if args.gamma is not None else getattr(algo.config, "gamma", 0.99)
    result = evaluate_policy(ds, epsilon_greedy(algo, args.epsilon), gamma, fqe_steps=args.fqe_steps,
                             seed=args.seed, device=run.device)
    propensities = "logged" if PROPENSITIES in ds.extras else "estimated (behavior cloning)"
    if args.json:
        print(json.dumps({"algo": run.algo, "dataset": ds.source, "gamma": gamma, "epsilon": args.epsilon,
                          "propensities": propensities, "n_episodes": ds.n_episodes, **result}))
        return 0
    rows = [[name, result[name], result.get(f"{name}_stderr", "-"), DESCRIPTIONS[name]] for name in ESTIMATORS]
    print(format_table(["estimator", "estimate", "stderr", "what"], rows))
    print(f"V^π of {run.algo} (ε-greedy, ε = {args.epsilon}) from the episode starts of {ds.source}, γ = {gamma}; "
          f"propensities: {propensities}; importance weights' ESS {result['ess']:.1f} of {ds.n_episodes} episodes")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from orlkit.data.registry import DATASETS, dataset_names, make_dataset, resolve_dataset

    if args.data_cmd == "list":
        names = dataset_names()
        print(format_table(["name", "env", "description"],
                           [[n, DATASETS[n].env_id, DATASETS[n].description] for n in names]))
    elif args.data_cmd == "make":
        from orlkit.data.formats import save_dataset
        from orlkit.data.registry import cache_path
        from orlkit.train.io import check_output_path

        if args.out:
            check_output_path(args.out)  # before the dataset is made (minutes for the locomotion ones)
        # (an unknown name is refused by make_dataset, with the list of names)
        cached = args.name in dataset_names() and cache_path(args.name, args.seed).exists()
        ds = make_dataset(args.name, seed=args.seed)
        if args.out:
            save_dataset(ds, args.out)
            print(f"wrote {ds.n_transitions} transitions to {args.out}")
        else:
            how = "already in the cache" if cached else "made and cached"
            print(f"{args.name} (seed {args.seed}, {ds.n_transitions} transitions): {how} at "
                  f"{cache_path(args.name, args.seed)}")
    elif args.data_cmd == "info":
        info = resolve_dataset(args.name).info()
        if args.json:
            print(json.dumps(info))
        else:
            print(format_table(["field", "value"], [[k, v] for k, v in info.items()]))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    import importlib
    import inspect

    demo_main = importlib.import_module(f"orlkit.demos.{args.demo.replace('-', '_')}").main
    kwargs: dict = {}
    if "seeds" in inspect.signature(demo_main).parameters:
        kwargs["seeds"] = args.seeds if args.seeds is not None else (1 if args.demo == "quickstart" else 3)
        if kwargs["seeds"] < 1:
            raise OrlkitError(f"--seeds must be at least 1, got {kwargs['seeds']}")
    elif args.seeds is not None:
        raise OrlkitError(f"demo '{args.demo}' runs one fixed seed (0); --seeds works with the other demos")
    if args.plot:
        if "plot_path" not in inspect.signature(demo_main).parameters:
            raise OrlkitError(f"demo '{args.demo}' draws no plot; --plot works with: preferences, goal-classifier")
        from orlkit.train.io import check_output_path, figure_format

        figure_format(args.plot)  # a path it cannot write is refused before the demo's runs, not after them
        check_output_path(args.plot)
        kwargs["plot_path"] = args.plot
    if args.dataset is not None:
        if "dataset" not in inspect.signature(demo_main).parameters:
            raise OrlkitError(f"demo '{args.demo}' has a fixed dataset; --dataset works with: stitching")
        kwargs["dataset"] = args.dataset
    return demo_main(json_output=args.json, progress=not args.quiet, **kwargs)


def cmd_plot(args: argparse.Namespace) -> int:
    from orlkit.train.plot import plot_runs

    for path in plot_runs(args.dirs, args.out):
        print(f"wrote {path}")
    return 0


def cmd_algos(args: argparse.Namespace) -> int:
    from orlkit.algos import ALGORITHMS, ALIASES

    rows = [[n, ALGORITHMS[n][2]] for n in sorted(ALGORITHMS)]
    rows += [[alias, f"{' or '.join(names.values())}, picked by the dataset's action space"]
             for alias, names in ALIASES.items()]
    print(format_table(["name", "description"], rows))
    return 0


# ---------------------------------------------------------------------------- parser
def _seed(text: str) -> int:
    """``--seed``: a non-negative integer (NumPy, Gymnasium and torch take no negative seeds)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"a seed is a non-negative integer, got {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse's own convention)
        self.exit(2, f"orlkit: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    from orlkit import __version__

    p = _Parser(prog="orlkit", description="Offline RL and reward learning from data that already exists.")
    p.add_argument("--version", action="version", version=f"orlkit {__version__}")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)

    t = sub.add_parser("train", help="train an algorithm on a dataset")
    t.add_argument("algo", help="algorithm name (see 'orlkit algos')")
    t.add_argument("--dataset", required=True, help="built-in name, .npz/.hdf5/.parquet path, .csv/.parquet event "
                   "log, or minari:ID")
    t.add_argument("--env", help="evaluation environment id (default: the dataset's)")
    t.add_argument("--steps", type=int, default=10_000, help="total gradient updates (default 10000)")
    t.add_argument("--seed", type=_seed, default=None, help="seed (default 0)")
    t.add_argument("--seeds", help="several seeds at once in one process, vectorised (e.g. 0,1,2 or 0-4; "
                   "bc, pct-bc, iql, td3bc, cql-continuous, cql-discrete; with --compile, compiled for all seeds at "
                   "once): one run directory per seed, OUT/seedS or runs/ALGO-DATASET-seedS")
    t.add_argument("--out", help="run directory (default runs/ALGO-DATASET-seedS)")
    t.add_argument("--eval-every", type=int, help="evaluate in the environment every N updates (default 5000; 0: at "
                   "the end only)")
    t.add_argument("--eval-episodes", type=int, help="episodes per evaluation (default 10)")
    t.add_argument("--log-every", type=int, help="write the losses to metrics.jsonl every N updates (default 500)")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config field (repeatable)")
    t.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint up to "
                   "--steps, as it was made (other options must match it or be left out)")
    t.add_argument("--device", help="cpu, cuda or cuda:N (default cpu)")
    t.add_argument("--precision", choices=PRECISIONS,
                   help="bf16: matmuls in bfloat16 (autocast), weights, optimizer and output layers float32; "
                   "on the CPU only where it has bf16 matrix instructions (AVX512-BF16, AMX); default fp32")
    t.add_argument("--compile", action="store_true",
                   help="torch.compile the update, for BC, %%BC, IQL, TD3+BC, CQL and discrete CQL as one graph "
                   "with its optimizer steps: on the CPU 1.5-2.3x faster per update (CQL: bf16 only), not measured on "
                   "a GPU; needs a C++ compiler on the CPU and spends 5-60 s compiling first, so it pays in long runs")
    t.add_argument("--no-tensorboard", action="store_true")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)

    on = sub.add_parser("online", help="train an off-policy agent by acting in an environment (SAC)")
    on.add_argument("algo", help="algorithm name: sac")
    on.add_argument("--env", required=True, help="environment id, e.g. Pendulum-v1, Hopper-v5")
    on.add_argument("--steps", type=int, default=50_000, help="environment steps, one update per step (default 50000)")
    on.add_argument("--start-steps", type=int, help="uniform random actions first (default 1000)")
    on.add_argument("--seed", type=_seed, help="seed (default 0)")
    on.add_argument("--out", help="run directory (default runs/ALGO-online-ENV-seedS)")
    on.add_argument("--eval-every", type=int, help="evaluate every N environment steps (default 5000; 0: at the end "
                    "only)")
    on.add_argument("--eval-episodes", type=int, help="episodes per evaluation (default 5)")
    on.add_argument("--snapshot-every", type=int, help="keep the policy every N steps in snapshots/ (default 0: "
                    "never)")
    on.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config field (repeatable)")
    on.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint up "
                    "to --steps, as it was made (other options must match it or be left out)")
    on.add_argument("--precision", choices=PRECISIONS,
                    help="bf16: matmuls in bfloat16 (autocast); on the CPU only with AVX512-BF16 or AMX; default fp32")
    on.add_argument("--quiet", action="store_true", help="no progress bar")
    on.set_defaults(func=cmd_online)

    rl = sub.add_parser("relabel", help="replace a dataset's rewards with a learned reward model's")
    rl.add_argument("--reward", required=True, metavar="MODEL",
                    help="a saved reward model (preference, goal classifier, GAIL or AIRL): NAME or NAME.json")
    rl.add_argument("--dataset", required=True, help="built-in name, file path or minari:ID")
    rl.add_argument("--out", required=True, help="the relabelled dataset (.npz, .hdf5 or .parquet)")
    rl.set_defaults(func=cmd_relabel)

    e = sub.add_parser("eval", help="evaluate a run directory's last checkpoint")
    e.add_argument("dir")
    e.add_argument("--episodes", type=int, default=10)
    e.add_argument("--seed", type=_seed, default=0, help="seed of the first episode (default 0)")
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=cmd_eval)

    o = sub.add_parser("ope", help="off-policy evaluation of a run's policy on a dataset (FQE, IS, DR)")
    o.add_argument("dir", metavar="RUN_DIR")
    o.add_argument("--dataset", help="built-in name, file path or minari:ID (default: the run's training data)")
    o.add_argument("--gamma", type=float, help="discount (default: the algorithm's gamma, else 0.99)")
    o.add_argument("--epsilon", type=float, default=0.0, help="evaluate the ε-greedy policy (default 0: greedy)")
    o.add_argument("--fqe-steps", type=int, default=5000, help="FQE gradient updates")
    o.add_argument("--seed", type=_seed, default=0, help="seed of FQE, behavior cloning and the bootstrap")
    o.add_argument("--json", action="store_true")
    o.set_defaults(func=cmd_ope)

    d = sub.add_parser("data", help="built-in datasets: list, make, info")
    dsub = d.add_subparsers(dest="data_cmd", required=True, parser_class=_Parser)
    dsub.add_parser("list", help="list built-in dataset names")
    dm = dsub.add_parser("make", help="make (and cache) a built-in dataset")
    dm.add_argument("name")
    dm.add_argument("--out", help="also write it to this .npz/.hdf5/.parquet path")
    dm.add_argument("--seed", type=_seed, default=0)
    di = dsub.add_parser("info", help="summary of a built-in dataset or a file")
    di.add_argument("name", help="built-in name, file path or minari:ID")
    di.add_argument("--json", action="store_true")
    d.set_defaults(func=cmd_data)

    m = sub.add_parser("demo", help="the lecture's claims, measured")
    m.add_argument("demo", choices=["quickstart", "conservatism", "classic", "notifications", "stitching",
                                    "preferences", "goal-classifier"])
    m.add_argument("--json", action="store_true")
    m.add_argument("--plot", metavar="PNG", help="save the demo's figure here (preferences, goal-classifier)")
    m.add_argument("--seeds", type=int,
                   help="seeds per algorithm (default 3; quickstart 1; notifications: seed 0 only)")
    m.add_argument("--dataset", help="stitching only: pointmaze-stitch (default) or pointmaze-stitch-walls "
                                     "(the same hops with wall sensors in the observation)")
    m.add_argument("--quiet", action="store_true")
    m.set_defaults(func=cmd_demo)

    pl = sub.add_parser("plot", help="learning curves and estimate-vs-real plots (PNG) of run directories")
    pl.add_argument("dirs", nargs="+", metavar="DIR")
    pl.add_argument("--out", default="plots", help="folder for the PNG files (default plots/)")
    pl.set_defaults(func=cmd_plot)

    a = sub.add_parser("algos", help="list algorithms")
    a.set_defaults(func=cmd_algos)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except OrlkitError as e:
        print(f"orlkit: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("orlkit: interrupted", file=sys.stderr)
        return 130
    except OSError as e:  # the file system said no (a path that cannot be made, no permission, a full disk)
        where = f"{e.filename}: " if e.filename else ""
        print(f"orlkit: error: {where}{e.strerror or e}", file=sys.stderr)
        return 2
    except Exception:  # an orlkit bug: show where, exit 1
        traceback.print_exc()
        print("orlkit: internal error (the traceback above is a bug report)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
