"""Opt-in bf16 training: matrix multiplications in bfloat16, everything that needs range in float32.

``--precision bf16`` runs every ``update()`` under ``torch.autocast(dtype=torch.bfloat16)``. The weights,
the optimizer state and the gradients stay float32 (autocast casts copies of the weights for each
matmul), reductions and losses that autocast lists as float32 ops run in float32, and the *last* layer
of every network (:class:`OutputLinear`, :class:`orlkit.nets.ensemble.EnsembleLinear` with
``full_precision=True``) runs in float32 on a float32 input: Q-values, values, log-stds and logits keep
24 bits of mantissa, so a TD target r + γQ' is not rounded to bf16's 8 bits (Q ≈ 300 would be off by
about 1). The hidden layers, where the FLOPs are, run in bf16. Backward passes run outside autocast
(``Algorithm._step``; :func:`grad_and_value` for the several-seeds path, ``orlkit.train.seeds``), each op's gradient
in its forward's dtypes. Inside autocast, autocast would recast the float32 last layer's backward matmuls to bf16
(its weight gradient about 2 % off in a test of one layer). Under ``--compile``, an ensemble's one-output last layer
(a critic's Q-head) is the same float32 sum, up to summation order, written as a product-sum that inductor can fuse
with the cast, instead of a matmul on a float32 copy of the bf16 hidden features
(benchmarks/README.md#a-fused-q-head-under---compile).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from orlkit.errors import OrlkitError
from orlkit.settings import env_switch

PRECISIONS = ("fp32", "bf16")
_AUTOCAST_DEVICES = ("cpu", "cuda")  # where orlkit trains


def check_precision(precision: str, device: torch.device | str | None = None) -> str:
    """``precision`` if it is one orlkit knows; with a ``device``, also refuses bf16 on a CPU without bf16 matmuls.

    Such a CPU (x86 without AVX512-BF16 or AMX, e.g. an AVX2 AMD EPYC) runs bf16 matmuls emulated: there, on
    2026-12-01, a bf16 IQL update ran at 4.7 updates/s against 92.7 in fp32 (``benchmarks/compile_probe.py iql eager
    --precision bf16``), so a user asking for bf16 to go faster would wait 20x longer. ``ORLKIT_ALLOW_SLOW_BF16=1``
    runs it anyway (to test bf16 on such a machine; the test suite sets it).
    """
    if precision not in PRECISIONS:
        raise OrlkitError(f"unknown precision '{precision}'; choose one of {', '.join(PRECISIONS)}")
    # the device by its name: a bad name is reported where the device is made, not here
    if (precision == "bf16" and device is not None and str(device).split(":")[0] == "cpu"
            and not cpu_has_bf16_matmul() and not env_switch("ORLKIT_ALLOW_SLOW_BF16", default=False)):
        raise OrlkitError(
            "precision bf16: this CPU has no bf16 matrix instructions (oneDNN finds neither AVX512-BF16 nor AMX nor "
            "ARM BF16), so bf16 matmuls run emulated, about 20x slower than fp32 (a bf16 IQL update 4.7 against "
            "92.7 updates/s on an AVX2 AMD EPYC). Train in fp32 (--precision fp32), or set ORLKIT_ALLOW_SLOW_BF16=1 "
            "to run bf16 anyway")
    return precision


def check_device(device: torch.device | str) -> torch.device:
    """``device`` as a ``torch.device`` if this machine can train on it: the CPU, a CUDA GPU this torch build sees
    (``cuda`` or ``cuda:N`` with N below the GPU count), or Apple's ``mps`` where it is available. Anything else
    raises one OrlkitError naming the device, before any data is read or anything written."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise OrlkitError(f"device {device!r} is not a device name ({e}); use cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            built = "built without CUDA" if torch.version.cuda is None else f"CUDA {torch.version.cuda}, no GPU visible"
            raise OrlkitError(f"device {device!r}: this torch ({torch.__version__}, {built}) cannot use a GPU here; "
                              "train with --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise OrlkitError(f"device {device!r}: this machine has {torch.cuda.device_count()} GPU(s), "
                              f"cuda:0 to cuda:{torch.cuda.device_count() - 1}")
    elif dev.type == "mps":
        if not torch.backends.mps.is_available():
            raise OrlkitError(f"device {device!r}: Apple's MPS backend is not available here; train with --device cpu")
    elif dev.type != "cpu":
        raise OrlkitError(f"device {device!r}: orlkit trains on cpu, cuda or mps, not {dev.type}")
    return dev


def cpu_has_bf16_matmul() -> bool:
    """Whether oneDNN runs bf16 matmuls natively on this CPU (True where PyTorch cannot tell)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a build without oneDNN, or the private op renamed
        return True


def autocast(precision: str, device: torch.device | str = "cpu") -> contextlib.AbstractContextManager:
    """The context an update runs in: bf16 autocast for ``"bf16"``, nothing for ``"fp32"``."""
    if check_precision(precision) == "fp32":
        return contextlib.nullcontext()
    # cache_enabled=False: autocast would otherwise keep the bf16 copy of each weight for the whole region, and a
    # network used again after its own optimizer step within one update (the critic in the actor loss) would be
    # evaluated with its weights from before that step.
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16, cache_enabled=False)


class OutputLinear(nn.Linear):
    """``nn.Linear`` that always computes in float32, also inside a bf16 autocast region (a network's last layer)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_autocast_enabled(x.device.type):
            with torch.autocast(x.device.type, enabled=False):
                return super().forward(x.float())
        return super().forward(x)


def grad_and_value(func: Callable, has_aux: bool = False) -> Callable:
    """``torch.func.grad_and_value(func, has_aux)`` whose backward pass runs outside autocast.

    Called inside a bf16 autocast region (as ``orlkit.train.seeds`` calls ``update_seeds``), ``func``'s forward
    still runs under that autocast, but the gradient is taken with autocast off, as ``Algorithm._step`` does for a
    single run: each op's gradient in its forward's dtypes, so a float32 last layer gets a float32 weight gradient.
    Outside autocast it is ``torch.func.grad_and_value``.
    """

    def run(*args: Any) -> Any:
        # the device types whose autocast is on here (the arguments' device, without walking them: inside vmap they
        # are batched tensors in nested containers)
        enabled = [(d, torch.get_autocast_dtype(d)) for d in _AUTOCAST_DEVICES if torch.is_autocast_enabled(d)]
        if not enabled:
            return torch.func.grad_and_value(func, has_aux=has_aux)(*args)
        if len(enabled) > 1:
            raise OrlkitError(f"grad_and_value: autocast is on for several device types ({enabled}); orlkit turns it "
                              "on for the run's device only")
        # plain with-statements (no ExitStack), which torch.compile traces into the update's graph
        (device, dtype), = enabled

        def forward(*a: Any) -> Any:
            with torch.autocast(device, dtype=dtype, cache_enabled=False):
                return func(*a)

        with torch.autocast(device, enabled=False):
            return torch.func.grad_and_value(forward, has_aux=has_aux)(*args)

    return run
