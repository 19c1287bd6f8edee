"""Twin 256-wide critics over CQL's 7,680 sampled (state, action) rows, forward and backward, in one pass or in
chunks: the measurement behind ``orlkit.nets.ensemble.CHUNK_FLOATS``.

    python benchmarks/critic_chunks.py [--rows 7680] [--precision fp32|bf16]
    python benchmarks/critic_chunks.py --cql-update [--rounds 3]   # the whole CQL update, one pass vs chunks

Prints the median milliseconds of one forward + backward per ``chunk_rows`` (the chunks the Critic actually makes
from it: equal whole states). Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import torch

from orlkit.nets.ensemble import Critic
from orlkit.nets.precision import autocast


def median_ms(f, n: int = 10, blocks: int = 7) -> float:
    for _ in range(3):
        f()
    times = []
    for _ in range(blocks):
        t0 = time.perf_counter()
        for _ in range(n):
            f()
        times.append((time.perf_counter() - t0) / n)
    return sorted(times)[blocks // 2] * 1e3


def cql_update_rate(one_pass: bool, precision: str, updates: int) -> float:
    """Updates/s of CQL's default update on Hopper-shaped data (median of 3 blocks), with or without chunks."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from compare import median_rate
    from update_speed import dataset

    from orlkit.algos import DataSpec, config_from_dict, make_algorithm

    ds = dataset(discrete=False)
    algo = make_algorithm("cql-continuous", DataSpec.from_dataset(ds),
                          config_from_dict("cql-continuous", {"batch_size": 256, "hidden": (256, 256)}))
    if one_pass:
        algo.critic.chunk_rows = 10 ** 9
    sampler = ds.sampler(256, seed=0)

    def step() -> float:
        batch = sampler.sample()
        t0 = time.perf_counter()
        with autocast(precision):
            algo.update(batch)
        return time.perf_counter() - t0

    for _ in range(10):
        step()
    return median_rate(step, updates)


def cql_update_ab(rounds: int, updates: int) -> None:
    """Fresh processes, one pass and chunks taking turns, per precision; the median over rounds."""
    for precision in ("fp32", "bf16"):
        rates: dict[str, list[float]] = {"one pass": [], "chunks": []}
        for _ in range(rounds):
            for name in rates:
                cmd = [sys.executable, __file__, "--worker", json.dumps([name == "one pass", precision, updates])]
                rates[name].append(float(subprocess.check_output(cmd, text=True).strip().splitlines()[-1]))
        med = {k: sorted(v)[len(v) // 2] for k, v in rates.items()}
        print(f"CQL update, {precision}: one pass {med['one pass']:.1f} upd/s {rates['one pass']}, chunks "
              f"{med['chunks']:.1f} upd/s {rates['chunks']} ({med['chunks'] / med['one pass'] - 1:+.0%})",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cql-update", action="store_true", help="time the whole CQL update instead")
    parser.add_argument("--rounds", type=int, default=3, help="--cql-update: fresh processes per variant")
    parser.add_argument("--updates", type=int, default=60, help="--cql-update: updates per timed block")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, default=7680, help="B·3N: 256 states × 30 actions for CQL's defaults")
    parser.add_argument("--precision", default="fp32", help="fp32 or bf16")
    args = parser.parse_args()
    if args.worker:
        print(cql_update_rate(*json.loads(args.worker)))
        return
    if args.cql_update:
        if args.rounds < 1 or args.updates < 1:
            parser.error("--rounds and --updates must be at least 1")
        cql_update_ab(args.rounds, args.updates)
        return
    torch.manual_seed(0)
    critic = Critic(11, 3, (256, 256))
    n = 30
    obs, actions = torch.randn(args.rows // n, 11), torch.rand(args.rows // n, n, 3) * 2 - 1
    default = critic.chunk_rows

    def step() -> None:
        with autocast(args.precision):
            q = critic(obs, actions)
        q.float().sum().backward()

    b = args.rows // n
    print(f"{b} states × {n} actions = {b * n} rows, {args.precision}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    for rows in (b * n, 3840, 2560, 2048, 1024, 256):
        critic.chunk_rows = rows
        states = critic.chunk_states(b, n)
        mark = "  (default)" if rows == default else ""
        print(f"chunk_rows {rows:5d}: {math.ceil(b / states)} chunks of ≤ {states * n:4d} rows: "
              f"{median_ms(step):6.1f} ms{mark}")


if __name__ == "__main__":
    main()
