"""What CPU a benchmark ran on, in words a reader can compare: its model name and the matrix units that decide
bf16 speed (AMX-BF16 on Intel Sapphire Rapids and later, AVX512-BF16 on AMD Zen 4 and others). Machines of the
same kind differ here: the project's sessions have run on an AMD EPYC with AVX512-BF16 and on an Intel Xeon with
AMX, both reported by ``platform.processor()`` as "x86_64". Also: a worker process's own peak memory."""

from __future__ import annotations

import platform
from pathlib import Path


def cpu_name() -> str:
    """``"<model name> (<bf16 units>, or the widest vector unit where there are none)"`` from /proc/cpuinfo;
    ``platform.processor()`` where there is none."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    name = fields.get("model name") or platform.processor() or platform.machine()
    flags = set(fields.get("flags", "").split())
    units = [label for flag, label in (("amx_bf16", "AMX-BF16"), ("avx512_bf16", "AVX512-BF16")) if flag in flags]
    if not units:  # the widest vector unit, so that a table says why its fp32 is slower and it has no bf16 column
        vector = (("avx512f", "AVX512, no bf16"), ("avx2", "AVX2, no bf16"))
        units = [label for flag, label in vector if flag in flags][:1]
    return f"{name} ({', '.join(units)})" if units else name


def peak_rss_mb() -> float | None:
    """This process's peak resident memory since it exec'd (``VmHWM``, Linux), None where there is no /proc. Not
    ``ru_maxrss``: Linux carries the parent's resident size at fork into the child's maximum across exec, so every
    worker of a parent that had made a 1M-transition dataset reported that parent's 892 MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return None
