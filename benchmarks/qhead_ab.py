"""Compiled bf16 CQL's update with the critics' float32 Q-head as a fused product-sum (what orlkit runs under
``--compile``) against the same head as a ``baddbmm`` on a float32 copy (before 2026-11-30), in one process.

Two CQL instances on hopper-medium (batch 256, 2×256 networks) are compiled, one per head, and timed in alternating
blocks (order flipped every block), inside ``metrics_read_back(False)`` as the fit loop runs. One process, because the
same compiled update varies by ±10 % between processes here; the ratio of medians is the result
(benchmarks/README.md#a-fused-q-head-under---compile). Run on a quiet machine, in the .venv-bench venv:

    python benchmarks/qhead_ab.py [--blocks 8] [--updates 40]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from compare import load_data, orlkit_algo  # benchmarks/compare.py

from orlkit.algos.base import metrics_read_back
from orlkit.nets import ensemble
from orlkit.nets.precision import autocast
from orlkit.train.fit import _compiled_update
from orlkit.train.malloc import tune_malloc

_fused_forward = ensemble.EnsembleLinear.forward


def _forward(self: ensemble.EnsembleLinear, x: torch.Tensor) -> torch.Tensor:
    """The head as it was: ``baddbmm`` on a float32 copy of the input, for layers marked ``baddbmm_head``."""
    if getattr(self, "baddbmm_head", False) and self.full_precision and torch.is_autocast_enabled(x.device.type):
        with torch.autocast(x.device.type, enabled=False):
            return torch.baddbmm(self.bias, x.float(), self.weight)
    return _fused_forward(self, x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=8, help="timed blocks per head")
    parser.add_argument("--updates", type=int, default=40, help="updates per block")
    args = parser.parse_args()
    tune_malloc()
    torch._dynamo.config.cache_size_limit = 64  # two compiled instances of the same update
    ensemble.EnsembleLinear.forward = _forward
    ds = load_data("hopper-medium")
    runs = {}
    for head in ("baddbmm", "fused"):
        algo, sampler = orlkit_algo("cql", ds, 0, "cpu")
        for module in algo.modules.values():
            for layer in module.modules():
                if isinstance(layer, ensemble.EnsembleLinear):
                    layer.baddbmm_head = head == "baddbmm"
        runs[head] = (_compiled_update(algo), sampler)

    def block(head: str, n: int) -> float:
        update, sampler = runs[head]
        t0 = time.perf_counter()
        for _ in range(n):
            with autocast("bf16", "cpu"), metrics_read_back(False):
                update(sampler.sample())
        return n / (time.perf_counter() - t0)

    for head in runs:  # compile and warm up
        block(head, 20)
    rates: dict[str, list[float]] = {head: [] for head in runs}
    for i in range(args.blocks):
        for head in (("baddbmm", "fused") if i % 2 == 0 else ("fused", "baddbmm")):
            rates[head].append(block(head, args.updates))
    for head, r in rates.items():
        print(f"{head:8s} head: median {np.median(r):.1f} updates/s, blocks {min(r):.1f}–{max(r):.1f}")
    print(f"fused / baddbmm: {np.median(rates['fused']) / np.median(rates['baddbmm']):.3f} "
          f"({torch.get_num_threads()} threads, torch {torch.__version__})")


if __name__ == "__main__":
    main()
