"""Updates per second of one algorithm's ``update()``, eager or under ``torch.compile`` (one variant per process).

Shapes as in ``update_speed.py`` (D4RL Hopper, batch 256, 256×256 networks). 30 warm-up updates (which include the
compilation, timed and printed), then ``--blocks`` blocks of ``--updates`` updates inside
``metrics_read_back(False)``, as the fit loop runs between log steps, with glibc's allocator tuned as ``train()``
tunes it (``orlkit.train.malloc``; since 2026-12-01, ``ORLKIT_MALLOC_TUNING=0`` to leave it). Run each variant in
its own process, eager before and after the compiled ones, on a quiet machine
(benchmarks/README.md#torchcompile-measured-not-adopted):

    for v in eager compile compile-noopt eager; do python benchmarks/compile_probe.py iql $v; done

Variants: ``eager``; ``compile`` (``torch.compile(algo.update)``, default mode); ``functional`` (what ``--compile``
runs for the algorithms with an ``update_seeds``: that, compiled, for this one seed, on views of the algorithm's
weights); ``compile-noopt`` (the same with
every optimizer's ``step`` excluded from compilation, ``torch._dynamo.disable``); ``compile-cudagraphs``
(``mode="reduce-overhead"``: on a GPU, the compiled update replayed as CUDA graphs); ``cudagraph`` (GPU only: one
eager update captured whole with ``torch.cuda.graph``, Adam made ``capturable``, then replayed on a static batch
that each sampled batch is copied into). ``cudagraph`` measures speed only: what the Python side decides per update
(TD3+BC's every-other-step actor, IQL's learning-rate schedule, a periodic target copy) is frozen at the capture.
``--device cuda`` waits for the GPU at the end of each block, so a block's time includes all the GPU work it queued.
The graph holds the update it captured: the fourth (after three warm-up updates), which for TD3+BC (actor every
second update) is a critic-only update.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from update_speed import built  # benchmarks/update_speed.py

from orlkit.algos import ALGORITHMS
from orlkit.algos.base import metrics_read_back
from orlkit.data.dataset import FIELDS
from orlkit.nets.precision import PRECISIONS, autocast
from orlkit.train.denormal import flush_denormals
from orlkit.train.fit import _compiled_update
from orlkit.train.malloc import tune_malloc
from orlkit.train.seeds import supported


def graphed(algo, sampler):
    """``algo.update`` captured once as a CUDA graph; the returned function copies a batch into the captured one's
    tensors and replays the graph."""
    for opt in algo.optimizers.values():
        for group in opt.param_groups:
            group["capturable"] = True
    static = sampler.sample()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up on a side stream, as torch.cuda.graph's documentation asks
        for _ in range(3):
            algo.update(static)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    gen = getattr(algo, "generator", None)
    if gen is not None:  # the algorithm's own CUDA generator: its offset advances with each replay
        graph.register_generator_state(gen)
    with torch.cuda.graph(graph):
        algo.update(static)
    def update(batch) -> None:
        for n in FIELDS:
            getattr(static, n).copy_(getattr(batch, n))
        for k, v in static.extras.items():
            v.copy_(batch.extras[k])
        graph.replay()

    return update


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("algo", choices=sorted(ALGORITHMS))
    parser.add_argument("variant", choices=("eager", "compile", "compile-noopt", "compile-cudagraphs", "cudagraph",
                                            "functional"))
    parser.add_argument("--updates", type=int, default=200, help="updates per timed block")
    parser.add_argument("--blocks", type=int, default=5, help="timed blocks")
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32", help="bf16: updates under bf16 autocast")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    args = parser.parse_args()
    if args.variant == "cudagraph" and not args.device.startswith("cuda"):
        parser.error("the cudagraph variant needs --device cuda")
    if args.variant == "functional" and args.algo not in supported():
        parser.error(f"the functional variant needs an update_seeds; {args.algo} has none (these do: "
                     f"{', '.join(supported())})")
    malloc_tuned = tune_malloc()  # as train() does before its first update (ORLKIT_MALLOC_TUNING=0: off); since 12-01
    flushed = flush_denormals()  # as `orlkit train` does (ORLKIT_FLUSH_DENORMAL=0: off); since 2026-12-01, 20th session
    algo, sampler = built(args.algo, args.device)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    update = algo.update
    if args.variant == "compile-noopt":
        for opt in algo.optimizers.values():
            opt.step = torch._dynamo.disable(opt.step)
    if args.variant == "functional":  # what --compile runs where update_seeds exists
        update = _compiled_update(algo)
    elif args.variant not in ("eager", "cudagraph"):
        update = torch.compile(algo.update, mode="reduce-overhead" if args.variant == "compile-cudagraphs" else None)
    rates = []
    with metrics_read_back(False), autocast(args.precision, args.device):
        t0 = time.perf_counter()
        if args.variant == "cudagraph":
            update = graphed(algo, sampler)
        for _ in range(30):
            update(sampler.sample())
        sync()
        warmup = time.perf_counter() - t0
        for _ in range(args.blocks):
            t0 = time.perf_counter()
            for _ in range(args.updates):
                update(sampler.sample())
            sync()
            rates.append(args.updates / (time.perf_counter() - t0))
    print(f"{args.algo} {args.variant} {args.precision} {args.device}: warm-up {warmup:.1f} s, "
          f"updates/s {[round(r) for r in rates]}, median {np.median(rates):.1f} "
          f"({torch.get_num_threads()} threads, torch {torch.__version__}, malloc tuned: {malloc_tuned}, "
          f"subnormals flushed: {flushed})")


if __name__ == "__main__":
    main()
