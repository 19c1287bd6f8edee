"""BC, IQL and CQL on the locally made locomotion datasets: several seeds, learning curves, one table.

    python benchmarks/locomotion.py                      # BC, IQL, CQL x hopper/halfcheetah/walker2d-medium x 3 seeds
    python benchmarks/locomotion.py --steps 20000        # later: continue the same runs to 20k updates
    python benchmarks/locomotion.py --report-only        # rebuild the table and figure from the run folders
    python benchmarks/locomotion.py --algos iql,cql-continuous --datasets hopper-medium --precisions fp32,bf16
    python benchmarks/locomotion.py --set iql:tau=0.05 --runs runs/locomotion-tau05   # a config override

Every (algorithm, dataset, seed) is one ``orlkit train ... --resume`` subprocess into
``RUNS/ALGO-DATASET-seedS``; ``--jobs`` of them run at once with ``--threads`` threads each (on 2
cores: 2 jobs x 1 thread). A run already at ``--steps`` is skipped and a shorter one is continued
from its last checkpoint, so the command can be stopped and started again, and raised to more
updates later. All algorithms get the same number of updates and their default hyperparameters,
except what ``--set ALGO:KEY=VALUE`` overrides (passed to ``orlkit train --set``; give such runs their own
``--runs`` folder, since a run folder is found by algorithm, dataset, seed and precision only; a folder
trained with other settings is refused).

Scores are D4RL-normalized (100 = D4RL's expert reference return, 0 = random) from the runs'
evaluations (``--eval-episodes`` episodes with the deterministic policy every ``--eval-every``
updates). Writes ``OUT.json``, ``OUT.md`` and ``OUT.png`` (mean normalized score vs updates, the
band is ± one std over seeds). Default OUT: ``benchmarks/results/locomotion-DATE``.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from machine import cpu_name  # benchmarks/machine.py

from orlkit.train.io import save_figure, write_text

HERE = Path(__file__).resolve().parent
ALGOS = ("bc", "iql", "cql-continuous")
DATASETS = ("hopper-medium", "halfcheetah-medium", "walker2d-medium")


def run_dir(runs: Path, algo: str, dataset: str, seed: int, precision: str = "fp32") -> Path:
    return runs / (f"{algo}-{dataset}-seed{seed}" + ("" if precision == "fp32" else f"-{precision}"))


def label(algo: str, precision: str) -> str:
    return algo if precision == "fp32" else f"{algo} ({precision})"


def reached(path: Path) -> int:
    """The step count of a run folder's ``summary.json`` (written last, after the final evaluation and
    checkpoint), or 0: a run killed in between is continued, not taken as done."""
    f = path / "summary.json"
    return int(json.loads(f.read_text())["steps"]) if f.exists() else 0


def train_one(job: tuple[str, str, int, str], args: argparse.Namespace) -> str:
    algo, dataset, seed, precision = job
    out = run_dir(args.runs, algo, dataset, seed, precision)
    if reached(out) >= args.steps:
        return f"{out.name}: already at {args.steps}"
    cmd = [str(Path(sys.executable).parent / "orlkit"), "train", algo, "--dataset", dataset, "--seed", str(seed),
           "--steps", str(args.steps), "--eval-every", str(args.eval_every), "--eval-episodes",
           str(args.eval_episodes), "--out", str(out), "--precision", precision, "--no-tensorboard", "--quiet"]
    for override in args.overrides.get(algo, []):
        cmd += ["--set", override]
    if (out / "config.json").exists():
        cmd.append("--resume")
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    t0 = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.runs / f"{out.name}.log", "a") as log:
        rc = subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    status = "done" if rc == 0 else f"FAILED (exit {rc}, see {out.name}.log)"
    return f"{out.name}: {status} in {time.perf_counter() - t0:.0f} s"


@functools.cache  # asked for by the run-folder checks and by the report: made (or read) and hashed once
def dataset_facts(dataset: str) -> dict[str, Any]:
    """The built-in dataset's version, content digest and D4RL-normalized mean episode return."""
    from orlkit.data.registry import DATASETS, make_dataset
    from orlkit.envs.make import normalized_score

    ds = make_dataset(dataset)
    return {"behavior_score": float(normalized_score(ds.meta["env_id"], float(np.mean(ds.episode_returns)))),
            "dataset_version": DATASETS[dataset].version, "dataset_digest": ds.digest()}


def seeds(n: int) -> str:
    return f"{n} seed" + "s" * (n != 1)


def other_data(run: Path, config: dict[str, Any], dataset: str) -> str | None:
    """Why the run in ``run`` (its stored ``config``) cannot count for today's ``dataset``, or None when it can: a
    run records its data's content digest, and a run trained on other data (another version, another machine's
    floating point) is neither continued nor reported. Runs from before digests were recorded pass."""
    facts = dataset_facts(dataset)
    if config.get("dataset_digest", "") in ("", facts["dataset_digest"]):
        return None
    return (f"{run} was trained on other data than today's {dataset} (version {facts['dataset_version']}); "
            "report it from the run folders of that data or use another --runs folder")


def collect(args: argparse.Namespace) -> dict[str, Any]:
    """Curves and final scores from the run folders (only runs that reached ``--steps``)."""
    results: dict[str, Any] = {
        "date": datetime.date.today().isoformat(), "steps": args.steps, "eval_every": args.eval_every,
        "eval_episodes": args.eval_episodes, "seeds": args.seeds, "precisions": args.precisions,
        "machine": cpu_name(),
        "cpus": os.cpu_count(), "overrides": args.overrides,
        # --report-only trains nothing: how the runs were spread over the cores is not known then
        "jobs": None if args.report_only else args.jobs, "threads_per_job": None if args.report_only else args.threads,
        "datasets": {},
        "run_settings": set()}
    for dataset in args.datasets:
        entry: dict[str, Any] = {**dataset_facts(dataset), "algorithms": {}}
        for algo, precision in [(a, p) for a in args.algos for p in args.precisions]:
            curves, finals, speeds, last3 = [], [], [], []
            unrecorded = 0  # runs made before runs recorded their data's digest: their data version is not known
            for seed in args.seeds:
                out = run_dir(args.runs, algo, dataset, seed, precision)
                if reached(out) < args.steps:
                    continue
                rows = [json.loads(x) for x in (out / "eval.jsonl").read_text().splitlines() if x.strip()]
                rows = [r for r in rows if r["step"] <= args.steps]
                curves.append({"seed": seed, "steps": [r["step"] for r in rows],
                               "scores": [r["normalized_score"] for r in rows],
                               # the critic's start-state estimate and the real discounted return beside it
                               "q_estimates": [r.get("q_estimate") for r in rows],
                               "discounted_returns": [r.get("discounted_return_mean") for r in rows]})
                finals.append(rows[-1]["normalized_score"])
                last3.append(float(np.mean([r["normalized_score"] for r in rows[-3:]])))
                summary = json.loads((out / "summary.json").read_text())
                config = json.loads((out / "config.json").read_text())  # a resumed run keeps its own settings
                if (why := other_data(out, config, dataset)) is not None:
                    raise SystemExit(why)
                unrecorded += int(not config.get("dataset_digest"))
                results["run_settings"].add((config["eval_every"], config["eval_episodes"]))
                speeds.append(summary["updates_per_sec"])
            if finals:
                entry["algorithms"][label(algo, precision)] = {
                    "score_mean": float(np.mean(finals)), "score_std": float(np.std(finals)), "per_seed": finals,
                    "seeds_done": len(finals), "last3_mean": float(np.mean(last3)), "last3_std": float(np.std(last3)),
                    "updates_per_sec_median": float(np.median(speeds)), "curves": curves,
                    "runs_without_data_digest": unrecorded}
        results["datasets"][dataset] = entry
    settings = results.pop("run_settings")
    if len(settings) == 1:
        results["eval_every"], results["eval_episodes"] = settings.pop()
    elif settings:
        mixed = "mixed: " + ", ".join(f"{e}/{n}" for e, n in sorted(settings))
        results["eval_every"] = results["eval_episodes"] = mixed
    return results


def beats(r: dict[str, Any], bc: dict[str, Any]) -> str:
    """"yes"/"no" on the means; "(within spread)" when the gap is smaller than the larger seed std."""
    gap = r["score_mean"] - bc["score_mean"]
    if min(r["seeds_done"], bc["seeds_done"]) < 2:
        return "n/a (fewer than 2 seeds)"
    within = abs(gap) < max(r["score_std"], bc["score_std"])
    return ("yes" if gap > 0 else "no") + (" (within spread)" if within else "")


def unverified(entry: dict[str, Any]) -> str:
    """" (not verified for N of M runs)" when runs made before runs recorded their data's digest are among them."""
    runs = [(r.get("runs_without_data_digest", 0), r["seeds_done"]) for r in entry["algorithms"].values()]
    n, total = sum(r[0] for r in runs), sum(r[1] for r in runs)
    return f" (not verified for {n} of {total} runs)" if n else ""


def table(results: dict[str, Any]) -> str:
    algos = sorted({a for e in results["datasets"].values() for a in e["algorithms"]},
                   key=lambda a: (ALGOS.index(a.split()[0]) if a.split()[0] in ALGOS else len(ALGOS), a))
    head = ["dataset", "behavior data", *algos, *[f"{a} beats BC" for a in algos if not a.startswith("bc")]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for dataset, entry in results["datasets"].items():
        algs = entry["algorithms"]
        cells = [dataset, f"{entry['behavior_score']:.1f}"]
        for a in algos:
            r = algs.get(a)
            cells.append(f"{r['score_mean']:.1f} ± {r['score_std']:.1f} ({seeds(r['seeds_done'])})" if r else "—")
        for a in algos:
            if a.startswith("bc"):
                continue
            precision = a[a.index("(") + 1:-1] if "(" in a else "fp32"
            r, bc = algs.get(a), algs.get(label("bc", precision))  # against BC in the same precision
            cells.append(beats(r, bc) if r and bc else "—")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + (
        f"\n\nD4RL-normalized score of the final policy after {results['steps']} updates, mean ± std over seeds; "
        f"{results['eval_episodes']} evaluation episodes per seed (deterministic actions). Behavior data: the "
        f"dataset's own mean episode return. Dataset versions: "
        + ", ".join(f"{d} {e['dataset_version']}" + unverified(e) for d, e in results["datasets"].items()
                    if "dataset_version" in e)
        + f". {results['date']}, {results['cpus']} CPU cores ({results.get('machine', 'machine not recorded')}), "
        + (f"{results['jobs']} run(s) at once x {results['threads_per_job']} thread(s)." if results.get("jobs")
           else "rebuilt from run folders made earlier (how many ran at once is not recorded).")
        + "".join(f" {a} with {', '.join(o)} (other settings default)."
                  for a, o in results.get("overrides", {}).items()))


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results["datasets"])
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.6), squeeze=False)
    colors: dict[str, int] = {}
    for ax, dataset in zip(axes[0], names, strict=True):
        entry = results["datasets"][dataset]
        for algo, r in entry["algorithms"].items():
            i = colors.setdefault(algo, len(colors))  # one colour per algorithm across panels
            common = sorted(set.intersection(*(set(c["steps"]) for c in r["curves"])))
            table_ = np.array([[dict(zip(c["steps"], c["scores"], strict=True))[s] for s in common]
                               for c in r["curves"]])
            mean, std = table_.mean(0), table_.std(0)
            ax.plot(common, mean, marker="o", ms=3, color=f"C{i}", label=f"{algo} ({seeds(len(r['curves']))})")
            ax.fill_between(common, mean - std, mean + std, color=f"C{i}", alpha=0.2)
        ax.axhline(entry["behavior_score"], color="gray", linestyle="--", label="behavior data")
        ax.set(title=dataset, xlabel="gradient updates", ylabel="D4RL-normalized score")
        ax.legend(fontsize=7)
    # one line fits three panels; a single panel is too narrow for it
    sep = "\n" if len(names) == 1 else " "
    fig.suptitle(f"orlkit on locally made locomotion data,{sep}{results['date']} (mean ± std over seeds)", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def check_args(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Split the comma lists and refuse unknown names before any run starts (one usage line, exit 2)."""
    from orlkit.algos import ALGORITHMS
    from orlkit.data.registry import dataset_names
    from orlkit.nets.precision import PRECISIONS

    args.algos, args.datasets, args.precisions = (x.split(",") for x in (args.algos, args.datasets, args.precisions))
    for flag, given, known in (("--algos", args.algos, ALGORITHMS), ("--datasets", args.datasets, dataset_names()),
                               ("--precisions", args.precisions, PRECISIONS)):
        unknown = [x for x in given if x not in known]
        if unknown:
            p.error(f"{flag}: unknown {', '.join(unknown)}; choose from {', '.join(known)}")
    try:
        args.seeds = [int(x) for x in args.seeds.split(",")]
    except ValueError:
        p.error(f"--seeds: expected comma-separated integers, got {args.seeds!r}")
    args.overrides = {}
    for item in args.set:
        algo, sep, override = item.partition(":")
        if not sep or "=" not in override:
            p.error(f"--set: expected ALGO:KEY=VALUE (e.g. iql:tau=0.05), got {item!r}")
        if algo not in args.algos:
            p.error(f"--set {item}: {algo} is not among --algos ({', '.join(args.algos)})")
        args.overrides.setdefault(algo, []).append(override)
    for flag in ("steps", "eval_every", "eval_episodes", "jobs", "threads"):
        if getattr(args, flag) < 1:
            p.error(f"--{flag.replace('_', '-')} must be at least 1, got {getattr(args, flag)}")
    check_existing_runs(p, args)


def check_existing_runs(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Check every ``--set`` (keys, types and ranges) and refuse to continue (or report) a run folder trained
    with other settings than the ones asked for: folders are found by algorithm, dataset, seed and precision
    only, so a run with other overrides would otherwise be taken for this one."""
    import dataclasses

    from orlkit.algos import config_from_dict
    from orlkit.cli import parse_overrides
    from orlkit.errors import OrlkitError

    def full_config(algo: str, values: dict[str, Any]) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(config_from_dict(algo, values))))

    for algo in args.algos:
        try:
            wanted = full_config(algo, parse_overrides(algo, args.overrides.get(algo, [])))
        except OrlkitError as e:
            p.error(str(e))  # each message names the key (and the algorithm where it matters)
        for dataset, seed, precision in [(d, s, q) for d in args.datasets for s in args.seeds for q in args.precisions]:
            config = run_dir(args.runs, algo, dataset, seed, precision) / "config.json"
            if not config.exists():
                continue
            try:  # a resumed run rebuilds its config from the stored one plus today's defaults: compare that
                saved = json.loads(config.read_text())
                stored = full_config(algo, saved.get("config", {}))
            except (OrlkitError, ValueError) as e:
                p.error(f"{config}: cannot be continued or reported ({e}); use another --runs folder")
            # before any run starts: a run on other data would be refused only after the others had trained
            if (why := other_data(config.parent, saved, dataset)) is not None:
                p.error(why)
            differ = [f"{k}={stored[k]} (asked {v})" for k, v in wanted.items() if stored[k] != v]
            if differ:
                p.error(f"{config.parent} was trained with {', '.join(differ)}; use another --runs folder "
                        "or the same --set")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--algos", default=",".join(ALGOS),
                   help="comma-separated orlkit algorithm names (default: %(default)s)")
    p.add_argument("--datasets", default=",".join(DATASETS),
                   help="comma-separated built-in datasets (default: %(default)s)")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default: %(default)s)")
    p.add_argument("--steps", type=int, default=6_000,
                   help="gradient updates per run; a larger number later continues the same runs "
                   "(default: %(default)s)")
    p.add_argument("--eval-every", type=int, default=1_000, help="updates between evaluations (default: %(default)s)")
    p.add_argument("--eval-episodes", type=int, default=10, help="episodes per evaluation (default: %(default)s)")
    p.add_argument("--jobs", type=int, default=2, help="runs trained at once, one process each (default: %(default)s)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run (default: %(default)s)")
    p.add_argument("--precisions", default="fp32", help="comma-separated: fp32, bf16 (orlkit train --precision)")
    p.add_argument("--runs", type=Path, default=Path("runs/locomotion"),
                   help="folder of the run directories, ALGO-DATASET-seedS[-bf16] (default: %(default)s)")
    p.add_argument("--out", type=Path, default=HERE / "results" / f"locomotion-{datetime.date.today().isoformat()}",
                   help="report path without suffix: writes .md, .json and .png (default: results/locomotion-DATE)")
    p.add_argument("--set", action="append", default=[], metavar="ALGO:KEY=VALUE",
                   help="config override for one algorithm (repeatable), e.g. iql:tau=0.05")
    p.add_argument("--report-only", action="store_true", help="train nothing; report the runs that exist")
    return p


def main() -> None:
    p = parser()
    args = p.parse_args()
    check_args(p, args)
    if not args.report_only:
        from orlkit.data.registry import make_dataset

        for dataset in args.datasets:  # make (or read) each dataset once, before the runs need it
            make_dataset(dataset)
        # seed-major, so an interrupted grid has whole seeds
        jobs = [(a, d, s, p) for s in args.seeds for p in args.precisions for a in args.algos for d in args.datasets]
        with ThreadPoolExecutor(args.jobs) as pool:
            for line in pool.map(lambda j: train_one(j, args), jobs):
                print(line, flush=True)
    results = collect(args)
    write_text(args.out.with_suffix(".json"), json.dumps(results, indent=1))
    write_text(args.out.with_suffix(".md"), table(results) + "\n")
    plot(results, args.out.with_suffix(".png"))
    print(table(results))


if __name__ == "__main__":
    main()
