"""Multi-layer perceptrons: the one network builder every algorithm uses."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn


def mlp(in_dim: int, out_dim: int, hidden: Sequence[int] = (256, 256),
        activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """Linear → activation → ... → Linear; ``hidden`` lists the widths of the hidden layers."""
    layers: list[nn.Module] = []
    width = in_dim
    for h in hidden:
        layers += [nn.Linear(width, h), activation()]
        width = h
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)
