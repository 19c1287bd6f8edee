"""Multi-layer perceptrons: the one network builder every algorithm uses."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from orlkit.nets.precision import OutputLinear


def mlp(in_dim: int, out_dim: int, hidden: Sequence[int] = (256, 256),
        activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """Linear → activation → ... → Linear; ``hidden`` lists the widths of the hidden layers.

    The last layer is an :class:`OutputLinear` (float32 even under bf16 autocast; the same parameters)."""
    layers: list[nn.Module] = []
    width = in_dim
    for h in hidden:
        layers += [nn.Linear(width, h), activation()]
        width = h
    layers.append(OutputLinear(width, out_dim))
    return nn.Sequential(*layers)
