"""Updates per second with a shorter Adam step against torch.optim.Adam(fused=True), side by side.

Each algorithm is built once (shapes of the D4RL Hopper task, batch 256, 256×256 networks, as in
``update_speed.py``); its optimizers (``torch.optim.Adam(fused=True)``, what orlkit trains with) are then swapped with
:class:`ShortStepAdam` copies of the same state, in alternating timed blocks, so both
variants see the same machine load. Prints the median updates/s of each and their ratio.

    python benchmarks/adam_step.py [--updates 200] [--blocks 7] [--algos bc,iql,...]
"""

from __future__ import annotations

import argparse
import copy
import inspect
import time

import numpy as np
import torch
from machine import cpu_name  # benchmarks/machine.py
from update_speed import built  # benchmarks/update_speed.py


class ShortStepAdam(torch.optim.Adam):
    """Fused Adam whose ``step()`` hands the parameter, gradient and moment lists straight to the fused kernel once
    every parameter has a gradient and a state (bitwise the same parameters as ``torch.optim.Adam(fused=True)``);
    anything else goes through torch's own step. The variant this script measures; orlkit does not use it."""

    @torch.no_grad()
    def step(self, closure=None):
        full_step = inspect.unwrap(torch.optim.Adam.step)  # torch wraps both methods; hooks run once
        if closure is not None:
            return full_step(self, closure)
        work = []
        for group in self.param_groups:
            if not group["fused"] or group["amsgrad"] or group["capturable"] or group["decoupled_weight_decay"]:
                return full_step(self)
            lists = ([], [], [], [], [])
            for p in group["params"]:
                g, st = p.grad, self.state.get(p)
                if g is None or not st or g.dtype != p.dtype:
                    return full_step(self)
                for out, t in zip(lists, (p, g, st["exp_avg"], st["exp_avg_sq"], st["step"]), strict=True):
                    out.append(t)
            work.append((group, lists))
        for group, (params, grads, exp_avgs, exp_avg_sqs, steps) in work:
            beta1, beta2 = group["betas"]
            torch._foreach_add_(steps, 1)
            torch._fused_adam_(params, grads, exp_avgs, exp_avg_sqs, [], steps, amsgrad=False, lr=group["lr"],
                               beta1=beta1, beta2=beta2, weight_decay=group["weight_decay"], eps=group["eps"],
                               maximize=group["maximize"])
        return None


def short_step_adams(optimizers: dict[str, torch.optim.Optimizer]) -> dict[str, torch.optim.Optimizer]:
    """A ShortStepAdam per optimizer: same parameters, learning rate and (copied) state."""
    out = {}
    for name, opt in optimizers.items():
        assert len(opt.param_groups) == 1, name
        short = ShortStepAdam(opt.param_groups[0]["params"], lr=opt.param_groups[0]["lr"], fused=True)
        short.load_state_dict(copy.deepcopy(opt.state_dict()))
        out[name] = short
    return out


def compare(name: str, updates: int, blocks: int) -> tuple[float, float]:
    algo, batch = built(name)
    for _ in range(20):  # creates every optimizer's state
        algo.update(batch.sample())
    variants = {"short": short_step_adams(algo.optimizers), "torch": algo.optimizers}
    times: dict[str, list[float]] = {k: [] for k in variants}
    for i in range(blocks * 2):
        key = ("short", "torch")[i % 2]
        algo.optimizers = variants[key]
        for _ in range(10):
            algo.update(batch.sample())
        t0 = time.perf_counter()
        for _ in range(updates):
            algo.update(batch.sample())
        times[key].append(time.perf_counter() - t0)
    return updates / float(np.median(times["short"])), updates / float(np.median(times["torch"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--updates", type=int, default=200, help="updates per timed block")
    parser.add_argument("--blocks", type=int, default=7, help="timed blocks per variant (alternating)")
    parser.add_argument("--algos", default="bc,td3bc,iql,cql-discrete,awr", help="comma-separated")
    args = parser.parse_args()
    print(f"{time.strftime('%Y-%m-%d')}, {cpu_name()}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| algorithm | short step (upd/s) | torch Adam fused (upd/s) | ratio |")
    print("|---|---|---|---|")
    for name in args.algos.split(","):
        ours, plain = compare(name, args.updates, args.blocks)
        print(f"| {name} | {ours:.1f} | {plain:.1f} | {ours / plain:.3f} |")


if __name__ == "__main__":
    main()
