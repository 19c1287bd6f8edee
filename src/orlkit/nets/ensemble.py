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
                if self.weight.shape[-1] == 1 and torch.compiler.is_compiling():
                    # One output (a Q-value): the same float32 sum, up to summation order, as a product-sum that
                    # inductor can fuse with the cast, so that no float32 copy of the bf16 input need be made. Eager
                    # keeps the matmul: there the product-sum would make the copy and a float32 product too.
                    return (x.float() * self.weight.transpose(1, 2)).sum(-1, keepdim=True) + self.bias
                return torch.baddbmm(self.bias, x.float(), self.weight)
        return torch.baddbmm(self.bias, x, self.weight)  # (E, B, out)


class EnsembleLayerNorm(nn.Module):
    """Layer normalisation over the features of (E, B, width), with a gain and bias per member."""

    def __init__(self, ensemble_size: int, width: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ensemble_size, 1, width))
        self.bias = nn.Parameter(torch.zeros(ensemble_size, 1, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.layer_norm(x, x.shape[-1:]) * self.weight + self.bias


class EnsembleMLP(nn.Module):
    """E MLPs in parallel. Input (B, in) is shared by all members, or (E, B, in) per member. ``layer_norm``: a
    layer normalisation after each hidden linear layer, before its ReLU (as in RLPD's critics; ReBRAC's put it
    after the ReLU)."""

    def __init__(self, ensemble_size: int, in_dim: int, out_dim: int, hidden: Sequence[int] = (256, 256),
                 layer_norm: bool = False):
        super().__init__()
        self.ensemble_size = ensemble_size
        layers: list[nn.Module] = []
        width = in_dim
        for h in hidden:
            layers.append(EnsembleLinear(ensemble_size, width, h))
            layers += [EnsembleLayerNorm(ensemble_size, h)] if layer_norm else []
            layers.append(nn.ReLU())
            width = h
        layers.append(EnsembleLinear(ensemble_size, width, out_dim, full_precision=True))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 2:
            x = x.unsqueeze(0).expand(self.ensemble_size, *x.shape)  # (E, B, in)
        return self.net(x)


# Target size, in floats (E · rows · widest layer), of one chunk when a Critic evaluates sampled actions on the CPU.
# CQL's 30 actions per state make 7,680 rows; twin 256-wide critics then run forward and backward faster in chunks of
# about 2,000 rows than in one pass (benchmarks/critic_chunks.py: about 25 % in bf16, 5–15 % in fp32, on the project's
# 2-core CPU). Smaller temporaries are the likely reason: a 15.7 MB activation leaves the 2 MiB per-core L2 and is a
# fresh mmap whose pages fault in on first touch (glibc hands large freed blocks back to the OS).
CHUNK_FLOATS = 1 << 20
MIN_CHUNK_ROWS = 512  # never split finer than this: each chunk is a Python-level pass through the network


class Critic(nn.Module):
    """Q(s, a) for an ensemble of E critics: (B, obs), (B, act) → (E, B); or (B, N, act) → (E, B, N).

    On the CPU, N actions per state are evaluated in equal chunks of whole states of about ``chunk_rows`` rows
    (``CHUNK_FLOATS``); values and gradients equal one pass up to floating-point rounding. Other devices take
    one pass."""

    def __init__(self, obs_dim: int, action_dim: int, hidden: Sequence[int] = (256, 256), n_critics: int = 2,
                 layer_norm: bool = False):
        super().__init__()
        self.net = EnsembleMLP(n_critics, obs_dim + action_dim, 1, hidden, layer_norm)
        self.chunk_rows = max(MIN_CHUNK_ROWS, CHUNK_FLOATS // (n_critics * max(hidden, default=1)))

    def chunk_states(self, b: int, n: int) -> int:
        """States per chunk for B states with N actions each: ≈ ``chunk_rows`` rows, chunks as equal as they can be."""
        if b * n <= self.chunk_rows:
            return b
        return math.ceil(b / math.ceil(b * n / self.chunk_rows))

    def forward(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        if actions.ndim == 3:  # N sampled actions per state
            b, n, _ = actions.shape
            x = torch.cat([obs.unsqueeze(1).expand(b, n, obs.shape[-1]), actions], -1)  # (B, N, obs + act)
            states = self.chunk_states(b, n) if x.device.type == "cpu" else b
            if states >= b:
                return self.net(x.reshape(b * n, -1)).reshape(-1, b, n)  # (E, B, N)
            q = [self.net(c.reshape(-1, c.shape[-1])).reshape(-1, c.shape[0], n) for c in x.split(states)]
            return torch.cat(q, 1)  # (E, B, N)
        return self.net(torch.cat([obs, actions], -1)).squeeze(-1)  # (E, B)
