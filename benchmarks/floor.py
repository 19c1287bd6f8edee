"""The GEMM floor of one gradient update: the same matrix multiplications, same shapes, same order, bare.

``record_gemms(fn)`` runs ``fn()`` once under a ``TorchDispatchMode`` and lists every ``mm``, ``addmm``,
``bmm`` and ``baddbmm`` that reached ATen, forward and backward (their shapes). ``gemm_floor``
replays that list on random contiguous tensors, all in float32 or all in bfloat16 (the bf16 floor
also runs orlkit's float32 output layers in bf16, so it is slightly low), and returns the median
seconds per replay:
no Python, no autograd, no optimizer, no elementwise work. An update's time divided by its floor is
how far the implementation is from what the matmuls alone cost on this CPU.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode

aten = torch.ops.aten
GEMMS = {aten.mm.default: "mm", aten.addmm.default: "addmm", aten.bmm.default: "bmm",
         aten.baddbmm.default: "baddbmm"}

Call = tuple[str, list[tuple[int, ...]]]


class _Recorder(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[Call] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func in GEMMS:
            self.calls.append((GEMMS[func], [tuple(a.shape) for a in args if torch.is_tensor(a)]))
        return func(*args, **(kwargs or {}))


def record_gemms(fn: Callable[[], object]) -> list[Call]:
    """The matmuls ``fn()`` runs (forward and backward), in order."""
    with _Recorder() as rec:
        fn()
    return rec.calls


def gemm_flops(calls: list[Call]) -> float:
    total = 0.0
    for name, shapes in calls:
        a, b = shapes[-2], shapes[-1]
        batch = a[0] if name in ("bmm", "baddbmm") else 1
        m, k, n = a[-2], a[-1], b[-1]
        total += 2.0 * batch * m * k * n
    return total


def gemm_floor(calls: list[Call], dtype: torch.dtype = torch.float32, repeats: int = 30,
               device: str = "cpu") -> float:
    """Median seconds to run ``calls`` as bare GEMMs in ``dtype`` on ``device`` (after 3 warm-up replays; on a GPU
    each replay is timed to its last kernel's end)."""
    gen = torch.Generator().manual_seed(0)
    ops = {"mm": torch.mm, "addmm": torch.addmm, "bmm": torch.bmm, "baddbmm": torch.baddbmm}
    prepared = [(ops[name], [torch.randn(s, generator=gen).to(device=device, dtype=dtype) for s in shapes])
                for name, shapes in calls]
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    times = []
    for i in range(repeats + 3):
        sync()
        t0 = time.perf_counter()
        for op, tensors in prepared:
            op(*tensors)
        sync()
        if i >= 3:
            times.append(time.perf_counter() - t0)
    return float(np.median(times))
