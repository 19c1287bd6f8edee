"""glibc's allocator, tuned for training loops on the CPU.

A CPU update allocates and frees the same large temporaries every step (CQL's critics: activations of
2 × 1,920 × 256 floats, 2–4 MB each). glibc serves a block above its mmap threshold with a fresh ``mmap`` and
hands it back to the OS on ``free``, so every step faults those pages in again, and it also trims freed memory at
the top of the heap once more than 128 KiB lie there. :func:`tune_malloc` raises both limits for this process
(``mallopt``: blocks under 32 MiB come from the heap, up to 128 MiB of freed memory stays there for the next step),
as ``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_`` would. Measured on the project's 2-core Intel Xeon
(benchmarks/README.md#allocator): bf16 CQL's update 1.2–1.3× faster, fp32 CQL about 1.1×.

``orlkit.train.fit.train`` and ``train_together`` (``orlkit train``) and ``orlkit.train.online.train_online``
(``orlkit online``) call it before their first update. It changes nothing where the C library is not
glibc, where the user set either environment variable (theirs wins), or with ``ORLKIT_MALLOC_TUNING=0``
(or ``false``, ``no``, ``off``). The cost:
up to 128 MiB of freed memory per malloc arena is kept by the process instead of returned to the OS.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

from orlkit.settings import env_switch

MMAP_THRESHOLD = 32 << 20  # bytes: blocks smaller than this come from the heap
TRIM_THRESHOLD = 128 << 20  # bytes of free memory at the top of the heap before glibc returns it to the OS
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)
_applied: bool | None = None


def tune_malloc() -> bool:
    """Raise glibc's mmap and trim thresholds for this process (see the module docstring), once.

    Returns whether the settings are in effect."""
    global _applied
    if _applied is None:
        _applied = _apply()
    return _applied


def _apply() -> bool:
    if not env_switch("ORLKIT_MALLOC_TUNING", default=True):
        return False
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")  # glibc's soname; find_library (which runs ldconfig) only if that fails
    except OSError:
        name = ctypes.util.find_library("c")
        try:
            libc = ctypes.CDLL(name) if name else None
        except OSError:
            libc = None
    if libc is None:
        return False
    try:
        libc.gnu_get_libc_version  # noqa: B018 (glibc only: musl and others have no mallopt with these numbers)
        mallopt = libc.mallopt
    except AttributeError:
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
