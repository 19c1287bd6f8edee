"""Policies for continuous actions in [-1, 1]^d: tanh-Gaussian, Gaussian, deterministic."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from orlkit.nets.mlp import mlp

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


def normal_log_prob(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """log N(x; μ, σ²), elementwise: ``torch.distributions.Normal(mean, std).log_prob(x)``'s formula without its
    argument checks, whose data-dependent ``if`` cannot run under ``torch.func.vmap`` (orlkit.train.seeds)."""
    return -((x - mean) ** 2) / (2 * std**2) - std.log() - 0.5 * math.log(2 * math.pi)


class TanhGaussianPolicy(nn.Module):
    """a = tanh(u), u ~ N(μ(s), σ(s)²): SAC's and CQL's actor. ``sample`` returns (a, log π(a|s))."""

    def __init__(self, obs_dim: int, action_dim: int, hidden: Sequence[int] = (256, 256)):
        super().__init__()
        self.action_dim = action_dim
        self.net = mlp(obs_dim, 2 * action_dim, hidden)

    def _dist(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_std = self.net(obs).chunk(2, -1)
        return mean, log_std.clamp(LOG_STD_MIN, LOG_STD_MAX).exp()

    def sample(self, obs: torch.Tensor, generator: torch.Generator | None = None, n: int | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """One action per state, (B, d) and (B,); with ``n``, n actions per state from one forward pass,
        (B, n, d) and (B, n)."""
        shape = (*obs.shape[:-1], self.action_dim) if n is None else (*obs.shape[:-1], n, self.action_dim)
        dtype = next(self.parameters()).dtype  # the dtype of the mean (float32 under bf16 autocast too)
        noise = torch.randn(shape, generator=generator, device=obs.device, dtype=dtype)
        return self.sample_from_noise(obs, noise)

    def sample_from_noise(self, obs: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``sample`` with its standard normal draw given: noise (B, d) or (B, n, d). Several seeds at once
        (orlkit.train.seeds) draw each seed's noise from its own generator and pass it in."""
        mean, std = self._dist(obs)
        if noise.ndim == mean.ndim + 1:  # n samples per state
            mean, std = (x.unsqueeze(-2).expand(*x.shape[:-1], noise.shape[-2], x.shape[-1]) for x in (mean, std))
        noise = noise.to(mean.dtype)
        u = mean + std * noise
        a = torch.tanh(u)
        # log N(u; μ, σ) − Σ log(1 − tanh(u)²), the latter in the stable form 2(log 2 − u − softplus(−2u))
        log_prob = (-0.5 * noise.pow(2) - std.log() - 0.5 * math.log(2 * math.pi)).sum(-1)
        log_prob = log_prob - (2 * (math.log(2) - u - nn.functional.softplus(-2 * u))).sum(-1)
        return a, log_prob

    def log_prob(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """log π(a|s) of given actions in (-1, 1) (clipped away from ±1)."""
        mean, std = self._dist(obs)
        a = actions.clamp(-1 + 1e-6, 1 - 1e-6)
        u = torch.atanh(a)
        log_prob = normal_log_prob(u, mean, std).sum(-1)
        return log_prob - torch.log1p(-a.pow(2)).sum(-1)

    def mode(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self._dist(obs)[0])


class GaussianPolicy(nn.Module):
    """a ~ N(tanh(μ(s)), σ²) with a state-independent σ (IQL's and AWR's actor)."""

    def __init__(self, obs_dim: int, action_dim: int, hidden: Sequence[int] = (256, 256)):
        super().__init__()
        self.net = mlp(obs_dim, action_dim, hidden)
        self.log_std = nn.Parameter(torch.zeros(action_dim))

    def log_prob(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        mean = torch.tanh(self.net(obs))
        std = self.log_std.clamp(LOG_STD_MIN, LOG_STD_MAX).exp()
        return normal_log_prob(actions, mean, std).sum(-1)

    def sample(self, obs: torch.Tensor, generator: torch.Generator | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Actions clipped to [-1, 1], and the log-density of the unclipped sample."""
        mean = torch.tanh(self.net(obs))
        std = self.log_std.clamp(LOG_STD_MIN, LOG_STD_MAX).exp()
        noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        a = mean + std * noise
        log_prob = normal_log_prob(a, mean, std).sum(-1)
        return a.clamp(-1.0, 1.0), log_prob

    def mode(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(obs))


class DeterministicPolicy(nn.Module):
    """a = tanh(f(s)) (TD3+BC's actor)."""

    def __init__(self, obs_dim: int, action_dim: int, hidden: Sequence[int] = (256, 256)):
        super().__init__()
        self.net = mlp(obs_dim, action_dim, hidden)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(obs))

    def mode(self, obs: torch.Tensor) -> torch.Tensor:
        return self(obs)
