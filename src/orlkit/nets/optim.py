"""The optimizer every orlkit network is trained with (algorithms, reward models, OPE fits)."""

from __future__ import annotations

from typing import Any

import torch


def adam(params: Any, lr: float, weight_decay: float = 0.0) -> torch.optim.Adam:
    """Adam as orlkit builds it everywhere: the fused kernel (one kernel per step over all tensors;
    about 2.5× faster than the per-tensor loop on CPU, same update rule). ``weight_decay`` is Adam's
    L2 term (added to the gradient), as in ``torch.optim.Adam``."""
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=True)


def load_optimizer_state(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                         param_groups: list[dict[str, Any]]) -> None:
    """Restore an optimizer from its per-parameter state as flat ``"idx.key"`` → tensor (how orlkit's
    checkpoints store Adam's moments and step) and its saved param groups.

    The optimizer's own implementation flags (``fused``, ``foreach``, ...) are kept: a checkpoint written
    before orlkit switched to the fused kernel stores ``fused: None``, which would otherwise turn it off
    for the rest of the run."""
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = value
    impl = ("fused", "foreach", "capturable", "differentiable")
    groups = [{**saved, **{k: current[k] for k in impl if k in current}}
              for saved, current in zip(param_groups, optimizer.param_groups, strict=True)]
    optimizer.load_state_dict({"state": state, "param_groups": groups})
