"""Updates per second of one algorithm's ``update()``, eager or under ``torch.compile`` (one variant per process).

Shapes as in ``update_speed.py`` (D4RL Hopper, batch 256, 256×256 networks). 30 warm-up updates (which include the
compilation, timed and printed), then ``--blocks`` blocks of ``--updates`` updates inside
``metrics_read_back(False)``, as the fit loop runs between log steps. Run each variant in its own process, eager
before and after the compiled ones, on a quiet machine (benchmarks/README.md#torchcompile-measured-not-adopted):

    for v in eager compile compile-noopt eager; do python benchmarks/compile_probe.py iql $v; done

Variants: ``eager``; ``compile`` (``torch.compile(algo.update)``, default mode); ``compile-noopt`` (the same with
every optimizer's ``step`` excluded from compilation, ``torch._dynamo.disable``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from update_speed import built  # benchmarks/update_speed.py

from orlkit.algos import ALGORITHMS
from orlkit.algos.base import metrics_read_back
from orlkit.nets.precision import PRECISIONS, autocast


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("algo", choices=sorted(ALGORITHMS))
    parser.add_argument("variant", choices=("eager", "compile", "compile-noopt"))
    parser.add_argument("--updates", type=int, default=200, help="updates per timed block")
    parser.add_argument("--blocks", type=int, default=5, help="timed blocks")
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32", help="bf16: updates under bf16 autocast")
    args = parser.parse_args()
    algo, sampler = built(args.algo)
    update = algo.update
    if args.variant == "compile-noopt":
        for opt in algo.optimizers.values():
            opt.step = torch._dynamo.disable(opt.step)
    if args.variant != "eager":
        update = torch.compile(algo.update)
    rates = []
    with metrics_read_back(False), autocast(args.precision):
        t0 = time.perf_counter()
        for _ in range(30):
            update(sampler.sample())
        warmup = time.perf_counter() - t0
        for _ in range(args.blocks):
            t0 = time.perf_counter()
            for _ in range(args.updates):
                update(sampler.sample())
            rates.append(args.updates / (time.perf_counter() - t0))
    print(f"{args.algo} {args.variant} {args.precision}: warm-up {warmup:.1f} s, "
          f"updates/s {[round(r) for r in rates]}, median {np.median(rates):.1f} "
          f"({torch.get_num_threads()} threads, torch {torch.__version__})")


if __name__ == "__main__":
    main()
