"""Several seeds in one process (orlkit.train.seeds) against the same seeds one after another.

For each algorithm and each S in ``--seeds``: seed-updates per second of

- **one after another**: one run's ``update()`` (sampling included), as ``orlkit train`` runs it; S runs one after
  another take S times as long, so this rate is the same for every S. Measured on ``min(S, 3)`` distinct seeds,
  the median taken;
- **vectorised**: the S seeds through ``SeedStack.update`` (sampling included), with the metrics read back every
  update as ``update()`` does (one synchronisation for all seeds), S seed-updates per step;

and the ratio. 20 warm-up updates, then the median of 3 blocks of ``--updates`` updates. Data: synthetic,
Hopper-shaped (obs 11, action 3; benchmarks/update_speed.py), batch 256, 256×256 networks.

``--compile``: both sides as ``orlkit train --compile`` runs them: one after another, each run's functional update
compiled for its one seed; vectorised, ``update_seeds`` compiled for the S seeds (``--compile --seeds``). The
compilation falls in the warm-up, and dynamo's caches are reset before each S, as a new process would start.

glibc's allocator is tuned as ``orlkit train`` tunes it (``orlkit.train.malloc``; since 2026-12-01, before that
untuned; ``ORLKIT_MALLOC_TUNING=0`` leaves it), and the results record whether it was.

    python benchmarks/seeds.py --device cuda --seeds 1,4,16,64 --out benchmarks/results/seeds-gpu-DATE
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from machine import cpu_name  # noqa: E402
from update_speed import dataset  # noqa: E402

from orlkit.algos import ALGORITHMS, DataSpec, config_from_dict, make_algorithm  # noqa: E402
from orlkit.errors import OrlkitError  # noqa: E402
from orlkit.nets.precision import autocast, check_precision  # noqa: E402
from orlkit.train.denormal import flush_denormals  # noqa: E402
from orlkit.train.fit import _compiled_update  # noqa: E402
from orlkit.train.io import write_text  # noqa: E402
from orlkit.train.malloc import tune_malloc  # noqa: E402
from orlkit.train.seeds import SeedStack, share_data, supported  # noqa: E402


def blocks_rate(step, updates: int, work_per_step: int, sync) -> float:
    """work_per_step · updates / seconds, the median of 3 blocks after 20 warm-up steps."""
    for _ in range(20):
        step()
    sync()
    rates = []
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(updates):
            step()
        sync()
        rates.append(work_per_step * updates / (time.perf_counter() - t0))
    return float(np.median(rates))


def measure(algo: str, n_seeds: int, updates: int, device: str, precision: str, compile: bool = False
            ) -> dict[str, Any]:
    ds = dataset(discrete=ALGORITHMS[algo][0].discrete_only)
    spec = DataSpec.from_dataset(ds)
    cfg = config_from_dict(algo, {"batch_size": 256, "hidden": (256, 256)})
    data = make_algorithm(algo, spec, cfg, device=device).prepare(ds)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()

    if compile:
        torch._dynamo.reset()
    one = []
    for s in range(min(n_seeds, 3)):
        a, sampler = make_algorithm(algo, spec, cfg, device=device, seed=s), data.sampler(256, device, seed=s)
        update = _compiled_update(a) if compile else a.update  # both read the metrics back

        def step(update=update, sampler=sampler) -> None:
            with autocast(precision, device):
                update(sampler.sample())

        one.append(blocks_rate(step, updates, 1, sync))
    stack = SeedStack([make_algorithm(algo, spec, cfg, device=device, seed=s) for s in range(n_seeds)])
    if compile:
        stack.compile()
    samplers = [data.sampler(256, device, seed=s) for s in range(n_seeds)]
    share_data(samplers)  # one copy of the data, as train_together and train_seeds keep

    def vec_step() -> None:
        with autocast(precision, device):
            stack.floats(stack.update(stack.sample(samplers)))

    vec = blocks_rate(vec_step, updates, n_seeds, sync)
    separate = float(np.median(one))
    peak = torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else None
    return {"seeds": n_seeds, "one_after_another": separate, "one_after_another_runs": one, "vectorised": vec,
            "speedup": vec / separate, "peak_cuda_mb": peak}


def markdown(res: dict[str, Any]) -> str:
    lines = [f"Several seeds at once vs one after another: seed-updates per second ({res['date']}, "
             f"{res['device_name']}, "
             f"torch {res['torch']}, {res['precision']}{', compiled' if res.get('compile') else ''}"
             f"{', allocator tuned' if res.get('malloc_tuned') else ''}"
             f"{', subnormals flushed' if res.get('flush_denormal') else ''}). "
             f"Command: `{res['command']}`", "",
             "| algorithm | seeds | one after another | vectorised | speed-up |", "|---|---|---|---|---|"]
    for algo, rows in res["algos"].items():
        for r in rows:
            lines.append(f"| {algo} | {r['seeds']} | {r['one_after_another']:.0f} | {r['vectorised']:.0f} | "
                         f"{r['speedup']:.2f}× |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--algos", default="bc,iql,td3bc,cql-continuous", help="comma-separated (default: %(default)s)")
    p.add_argument("--seeds", default="1,4,16", help="comma-separated numbers of seeds")
    p.add_argument("--updates", type=int, default=200, help="updates per timed block")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--precision", default="fp32", help="fp32 or bf16")
    p.add_argument("--compile", action="store_true", help="both sides compiled, as orlkit train --compile runs them")
    p.add_argument("--out", default=None, help="write OUT.json and OUT.md")
    args = p.parse_args()
    malloc_tuned = tune_malloc()  # as train() and train_together() do before their first update
    flushed = flush_denormals()  # as orlkit train does (since 2026-12-01; ORLKIT_FLUSH_DENORMAL=0: off)
    algos = [a.strip() for a in args.algos.split(",") if a.strip()]
    bad = [a for a in algos if a not in supported()]
    if bad:
        p.error(f"cannot vectorise {bad} over seeds; choose from {', '.join(supported())}")
    try:
        counts = [int(x) for x in args.seeds.split(",")]
    except ValueError:
        p.error(f"--seeds takes comma-separated integers, got {args.seeds!r}")
    if not counts or min(counts) < 1 or args.updates < 1:
        p.error("--seeds and --updates must be at least 1")
    try:
        check_precision(args.precision)
    except OrlkitError as e:
        p.error(str(e))
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        p.error("--device cuda but torch sees no GPU")
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else cpu_name()
    res: dict[str, Any] = {"date": time.strftime("%Y-%m-%d"), "device": args.device, "device_name": name,
                           "torch": torch.__version__, "threads": torch.get_num_threads(),
                           "precision": args.precision, "compile": args.compile, "malloc_tuned": malloc_tuned,
                           "flush_denormal": flushed, "updates": args.updates,
                           "command": "python benchmarks/seeds.py " + " ".join(sys.argv[1:]), "algos": {}}
    for algo in algos:
        res["algos"][algo] = []
        for n in counts:
            r = measure(algo, n, args.updates, args.device, args.precision, args.compile)
            res["algos"][algo].append(r)
            print(f"{algo:6s} S={n:3d}: one after another {r['one_after_another']:8.0f}, vectorised "
                  f"{r['vectorised']:8.0f} seed-updates/s, {r['speedup']:.2f}x", flush=True)
            if args.out:  # after every row, so a run stopped early keeps what it measured
                out = Path(args.out)
                write_text(out.with_suffix(".json"), json.dumps(res, indent=1))
                write_text(out.with_suffix(".md"), markdown(res) + "\n")
    print(markdown(res))


if __name__ == "__main__":
    main()
