"""tune_malloc: blocks under 32 MiB come from the heap once training starts; opt-outs are respected.

Each case runs in a fresh interpreter: the settings are process-wide and applied once per process."""

from __future__ import annotations

import ctypes
import json
import os
import platform
import subprocess
import sys

import pytest

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
MALLINFO2 = GLIBC and hasattr(ctypes.CDLL("libc.so.6"), "mallinfo2")  # glibc 2.33+

PROBE = """
import ctypes, json
import torch
from orlkit.train.malloc import tune_malloc

class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]

try:  # glibc 2.33+; elsewhere only the flags are read
    info = ctypes.CDLL("libc.so.6").mallinfo2
    info.restype = MallInfo2
except (OSError, AttributeError):
    info = None
mapped = lambda: info().hblkhd if info else 0  # bytes in blocks glibc got with mmap
applied = tune_malloc()
again = tune_malloc()
before = mapped()
x = torch.empty(1 << 20)  # 4 MiB: a CQL-sized activation
x.fill_(1.0)
print(json.dumps({"applied": applied, "again": again, "mmapped": mapped() - before if info else None}))
"""


def probe(**env: str) -> dict:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("ORLKIT_MALLOC_TUNING", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")}
    out = subprocess.run([sys.executable, "-c", PROBE], env={**clean, **env},
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.skipif(not MALLINFO2, reason="mallopt is glibc's; the check reads glibc 2.33's mallinfo2")
def test_training_allocations_come_from_the_heap_after_tuning():
    r = probe()
    assert r["applied"] is True and r["again"] is True
    assert r["mmapped"] == 0  # a 4 MiB tensor is no longer a fresh mmap (glibc's default threshold: 128 KiB-32 MiB)


def test_opt_outs_leave_glibc_alone():
    assert probe(ORLKIT_MALLOC_TUNING="0")["applied"] is False
    assert probe(ORLKIT_MALLOC_TUNING="Off")["applied"] is False
    assert probe(MALLOC_MMAP_THRESHOLD_="1000000")["applied"] is False  # the user's own setting wins
    assert probe(MALLOC_TRIM_THRESHOLD_="1000000")["applied"] is False


@pytest.mark.skipif(not MALLINFO2, reason="mallopt is glibc's; the check reads glibc 2.33's mallinfo2")
def test_opted_out_allocations_keep_glibcs_behaviour():
    # the user's fixed 1 MB threshold is kept: the 4 MiB tensor is a fresh mmap again
    assert probe(MALLOC_MMAP_THRESHOLD_="1000000")["mmapped"] > 0
