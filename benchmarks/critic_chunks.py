"""Twin 256-wide critics over CQL's 7,680 sampled (state, action) rows, forward and backward, in one pass or in
chunks: the measurement behind ``orlkit.nets.ensemble.CHUNK_FLOATS``.

    python benchmarks/critic_chunks.py [--rows 7680] [--precision fp32|bf16]

Prints the median milliseconds of one forward + backward per ``chunk_rows`` (the chunks the Critic actually makes
from it: equal whole states). Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import math
import time

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=7680, help="B·3N: 256 states × 30 actions for CQL's defaults")
    parser.add_argument("--precision", default="fp32")
    args = parser.parse_args()
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
