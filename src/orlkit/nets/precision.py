"""Opt-in bf16 training: matrix multiplications in bfloat16, everything that needs range in float32.

``--precision bf16`` runs every ``update()`` under ``torch.autocast(dtype=torch.bfloat16)``. The weights,
the optimizer state and the gradients stay float32 (autocast casts copies of the weights for each
matmul), reductions and losses that autocast lists as float32 ops run in float32, and the *last* layer
of every network (:class:`OutputLinear`, :class:`orlkit.nets.ensemble.EnsembleLinear` with
``full_precision=True``) runs in float32 on a float32 input: Q-values, values, log-stds and logits keep
24 bits of mantissa, so a TD target r + γQ' is not rounded to bf16's 8 bits (Q ≈ 300 would be off by
about 1). The hidden layers, where the FLOPs are, run in bf16. Backward passes run outside autocast
(``Algorithm._step``), each op's gradient in its forward's dtypes; the several-seeds path (``orlkit.train.seeds``,
``torch.func``) takes its gradients inside the forward's autocast region, so there the last layers' weight gradients
are computed in bf16 (up to about 2 % off in a test of one layer).
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from orlkit.errors import OrlkitError

PRECISIONS = ("fp32", "bf16")


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise OrlkitError(f"unknown precision '{precision}'; choose one of {', '.join(PRECISIONS)}")
    return precision


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
