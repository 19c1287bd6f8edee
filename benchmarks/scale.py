"""Dataset scale: load time of a 1M-transition dataset per file format, memory against the raw arrays,
and the cost of sampling a batch as the dataset grows. "memory" is the growth of resident memory
from before the load to after it with the dataset and its sampler alive.

    python benchmarks/scale.py [--n 1000000] [--out benchmarks/results/scale-DATE]

Data: Hopper's shapes (obs 11, action 3), float32, random values, episodes of 1000 steps. Each load
runs in a fresh process so its peak resident memory can be compared with the size of the arrays.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from machine import cpu_name, peak_rss_mb  # benchmarks/machine.py

from orlkit.train.io import write_text

HERE = Path(__file__).resolve().parent


def synthetic(n: int):
    from orlkit.data.dataset import TransitionDataset

    rng = np.random.default_rng(0)
    obs = rng.standard_normal((n + 1, 11), dtype=np.float32)
    ends = np.zeros(n, bool)
    ends[999::1000] = True
    return TransitionDataset(obs[:-1], rng.uniform(-1, 1, (n, 3)).astype(np.float32),
                             rng.standard_normal(n, dtype=np.float32), obs[1:], np.zeros(n, bool), ends)


def raw_bytes(ds) -> int:
    return sum(getattr(ds, k).nbytes for k in ("obs", "actions", "rewards", "next_obs", "terminals", "timeouts"))


def load_worker(path: str) -> dict:
    import torch  # noqa: F401  (imported first so the baseline includes it)

    from orlkit.data.formats import load_dataset_file

    before = rss_mb()
    t0 = time.perf_counter()
    ds = load_dataset_file(path)
    load_s = time.perf_counter() - t0
    sampler = ds.sampler(256, seed=0)
    sampler.sample()
    peak = peak_rss_mb()
    return {"load_s": load_s, "rss_increase_mb": rss_mb() - before, "peak_rss_mb": peak,
            "raw_mb": raw_bytes(ds) / 2**20}


def rss_mb() -> float:
    """This process's resident memory now (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def sample_cost(ds, batches: int = 2000) -> float:
    sampler = ds.sampler(256, seed=0)
    for _ in range(50):
        sampler.sample()
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(batches // 5):
            sampler.sample()
        times.append((time.perf_counter() - t0) / (batches // 5))
    return float(np.median(times)) * 1e6


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=1_000_000, help="transitions (default: %(default)s)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--out", default=str(HERE / "results" / f"scale-{time.strftime('%Y-%m-%d')}"),
                   help="report path without suffix: writes .json")
    args = p.parse_args()
    if args.worker:
        print(json.dumps(load_worker(args.worker)))
        return
    from orlkit.data.formats import save_dataset

    ds = synthetic(args.n)
    result = {"date": time.strftime("%Y-%m-%d"), "machine": cpu_name(), "n": args.n, "raw_mb": raw_bytes(ds) / 2**20,
              "load": {}, "sample_us": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for suffix in (".npz", ".hdf5", ".parquet"):
            path = Path(tmp) / f"data{suffix}"
            t0 = time.perf_counter()
            save_dataset(ds, path)
            save_s = time.perf_counter() - t0
            out = subprocess.run([sys.executable, __file__, "--worker", str(path)], capture_output=True, text=True,
                                 check=True, env={**os.environ})
            row = json.loads(out.stdout.strip().splitlines()[-1])
            row.update(save_s=save_s, file_mb=path.stat().st_size / 2**20)
            row["memory_over_raw"] = row["rss_increase_mb"] / row["raw_mb"]
            result["load"][suffix] = row
            print(f"{suffix:9s} load {row['load_s']:.2f} s, memory {row['rss_increase_mb']:.0f} MB for "
                  f"{row['raw_mb']:.0f} MB of arrays ({row['memory_over_raw']:.2f}×), file {row['file_mb']:.0f} MB")
    for n in (10_000, 100_000, args.n):
        result["sample_us"][str(n)] = sample_cost(ds.select(np.arange(n)))
        print(f"sample a batch of 256 from {n:>9,d} transitions: {result['sample_us'][str(n)]:.1f} µs")
    out = Path(args.out)
    write_text(out.with_suffix(".json"), json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
