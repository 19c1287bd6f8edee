"""Gradient updates per second inside ``update()``, per algorithm, on this machine.

Shapes of the D4RL Hopper task: obs 11, action 3 (continuous) or 3 actions (discrete), batch 256,
256×256 networks. Each algorithm: 20 warm-up updates, then the median of 3 timed blocks of
``--updates`` updates. Nothing else should run meanwhile (2 cores: parallel work slows both).

    python benchmarks/update_speed.py [--updates 200] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import numpy as np
import torch
from machine import cpu_name  # benchmarks/machine.py

from orlkit.algos import ALGORITHMS, default_config, make_algorithm
from orlkit.algos.base import Algorithm, DataSpec
from orlkit.data.dataset import Sampler, TransitionDataset


def dataset(discrete: bool, n: int = 10_000) -> TransitionDataset:
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(n, 11)).astype(np.float32)
    actions = rng.integers(0, 3, n) if discrete else rng.uniform(-1, 1, (n, 3)).astype(np.float32)
    done = np.zeros(n, bool)
    done[999::1000] = True
    return TransitionDataset(obs, actions, rng.normal(size=n).astype(np.float32), obs[::-1].copy(), done,
                             np.zeros(n, bool), n_actions=3 if discrete else None)


def built(name: str, device: str = "cpu") -> tuple[Algorithm, Sampler]:
    """The algorithm at the benchmark's sizes (256×256 networks, batch 256) and a sampler over its prepared data."""
    ds = dataset(discrete=ALGORITHMS[name][0].discrete_only)
    cfg = default_config(name)
    if hasattr(cfg, "hidden"):
        cfg = dataclasses.replace(cfg, hidden=(256, 256), batch_size=256)
    algo = make_algorithm(name, DataSpec.from_dataset(ds), cfg, device=device)
    return algo, algo.prepare(ds).sampler(256, device, seed=0)


def speed(name: str, updates: int) -> float:
    algo, batch = built(name)
    for _ in range(20):
        algo.update(batch.sample())
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(updates):
            algo.update(batch.sample())
        times.append(time.perf_counter() - t0)
    return updates / float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--updates", type=int, default=200, help="updates per timed block")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of lines of text")
    args = parser.parse_args()
    result = {"date": time.strftime("%Y-%m-%d"), "torch": torch.__version__, "threads": torch.get_num_threads(),
              "machine": cpu_name(),
              "updates_per_sec": {n: round(speed(n, args.updates), 1) for n in sorted(ALGORITHMS)}}
    if args.json:
        print(json.dumps(result))
    else:
        for n, v in result["updates_per_sec"].items():
            print(f"{n:16s} {v:8.1f} updates/s")
        print(f"({result['date']}, torch {result['torch']}, {result['threads']} threads)")


if __name__ == "__main__":
    main()
