"""Subnormal floats flushed to zero during training on the CPU.

Some values an update computes fall, as training goes on, below float32's smallest normal number (about 1.2e-38)
(which ones was not traced; IQL's advantage weights exp(β·(Q − V)) of strongly negative advantages and Adam's second
moments of tiny gradients are candidates). An x86 CPU computes with such subnormal numbers many times slower than
with normal ones, so an update slows down although it does the same work: measured on the project's Intel Xeon
(2026-12-01, hopper-medium, blocks of 500 updates in one process), compiled bf16 IQL fell from 416 to 319–335
updates/s within its first 1,500 updates and compiled fp32 IQL from 316 to 238–258; with subnormals flushed they
stayed at 348–399 and 283–304.

:func:`flush_denormals` turns on the CPU's flush-to-zero and denormals-are-zero modes (``torch.set_flush_denormal``):
a result or operand below 1.2e-38 counts as 0. The modes belong to a thread, and a thread starts with its creator's,
so OpenMP's worker threads (created at torch's first parallel operation in the process) have them only if they were
set before that. ``orlkit train`` sets them before it loads or builds anything; ``orlkit.train.fit.train``,
``train_together`` and ``orlkit.train.online.train_online`` set them first thing, which reaches the workers unless
the process ran a parallel torch operation before. ``ORLKIT_FLUSH_DENORMAL=0`` (or ``false``, ``no``, ``off``) leaves
the modes as they are. d3rlpy does not set them.
"""

from __future__ import annotations

import torch

from orlkit.settings import env_switch


def flush_denormals() -> bool:
    """Flush subnormal floats to zero on the CPU from now on (see the module docstring); whether that is in effect."""
    if not env_switch("ORLKIT_FLUSH_DENORMAL", default=True):
        return False
    return bool(torch.set_flush_denormal(True))  # False where the CPU has no such mode (then nothing changes)
