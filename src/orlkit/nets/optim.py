"""The optimizer every orlkit network is trained with (algorithms, reward models, OPE fits)."""

from __future__ import annotations

from typing import Any

import torch


def adam(params: Any, lr: float, weight_decay: float = 0.0) -> torch.optim.Adam:
    """Adam as orlkit builds it everywhere: the fused kernel (one kernel per step over all tensors;
    about 2.5× faster than the per-tensor loop on CPU, same update rule). ``weight_decay`` is Adam's
    L2 term (added to the gradient), as in ``torch.optim.Adam``."""
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=True)
