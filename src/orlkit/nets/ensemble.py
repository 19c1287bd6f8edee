"""Batched ensembles: E independent MLPs evaluated as one network (twin critics, reward ensembles)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


class EnsembleLinear(nn.Module):
    """E independent linear layers applied with one batched matmul: (E, B, in) → (E, B, out)."""

    def __init__(self, ensemble_size: int, in_dim: int, out_dim: int, full_precision: bool = False):
        super().__init__()
        self.full_precision = full_precision  # float32 even under bf16 autocast (a network's last layer)
        self.weight = nn.Parameter(torch.empty(ensemble_size, in_dim, out_dim))
        self.bias = nn.Parameter(torch.empty(ensemble_size, 1, out_dim))
        bound = 1.0 / math.sqrt(in_dim)  # nn.Linear's default initialisation, per member
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.full_precision and torch.is_autocast_enabled(x.device.type):
            with torch.autocast(x.device.type, enabled=False):
                return torch.baddbmm(self.bias, x.float(), self.weight)
        return torch.baddbmm(self.bias, x, self.weight)  # (E, B, out)


class EnsembleMLP(nn.Module):
    """E MLPs in parallel. Input (B, in) is shared by all members, or (E, B, in) per member."""

    def __init__(self, ensemble_size: int, in_dim: int, out_dim: int, hidden: Sequence[int] = (256, 256)):
        super().__init__()
        self.ensemble_size = ensemble_size
        layers: list[nn.Module] = []
        width = in_dim
        for h in hidden:
            layers += [EnsembleLinear(ensemble_size, width, h), nn.ReLU()]
            width = h
        layers.append(EnsembleLinear(ensemble_size, width, out_dim, full_precision=True))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 2:
            x = x.unsqueeze(0).expand(self.ensemble_size, *x.shape)  # (E, B, in)
        return self.net(x)


# Largest activation, in floats (E · rows · width), of one pass of a Critic over sampled actions. CQL's 30 actions per
# state make 7680 rows; on the project's CPU (2 MiB L2 per core, 32 MiB L3) twin 256-wide critics run forward and
# backward about 20 % faster in chunks of ~2000 rows than in one pass (benchmarks/README.md, "Critic chunks").
CHUNK_FLOATS = 1 << 20


class Critic(nn.Module):
    """Q(s, a) for an ensemble of E critics: (B, obs), (B, act) → (E, B); or (B, N, act) → (E, B, N).

    With N actions per state the B·N rows are evaluated in chunks of whole states, each small enough to stay in
    the CPU's caches (``CHUNK_FLOATS``); the result is the same as one pass."""

    def __init__(self, obs_dim: int, action_dim: int, hidden: Sequence[int] = (256, 256), n_critics: int = 2):
        super().__init__()
        self.net = EnsembleMLP(n_critics, obs_dim + action_dim, 1, hidden)
        self.chunk_rows = max(1, CHUNK_FLOATS // (n_critics * max(hidden, default=1)))

    def forward(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        if actions.ndim == 3:  # N sampled actions per state
            b, n, _ = actions.shape
            x = torch.cat([obs.unsqueeze(1).expand(b, n, obs.shape[-1]), actions], -1)  # (B, N, obs + act)
            states = max(1, self.chunk_rows // n)  # whole states per chunk
            q = [self.net(c.reshape(-1, c.shape[-1])).reshape(-1, c.shape[0], n) for c in x.split(states)]
            return q[0] if len(q) == 1 else torch.cat(q, 1)  # (E, B, N)
        return self.net(torch.cat([obs, actions], -1)).squeeze(-1)  # (E, B)
