"""What every learned reward model shares: one method, ``reward(obs, actions, next_obs) -> Tensor[B]``.

A reward model is trained from some kind of supervision (success examples, demonstrations,
preferences) and then stands in for the environment's reward: online (the replay buffer is
relabelled with it, PEBBLE-style) or offline (``orlkit relabel`` writes a dataset whose
``rewards`` column comes from it). Models that ignore actions or next states take them anyway,
so callers never need to know which kind they hold.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import torch


@runtime_checkable
class RewardModel(Protocol):
    """The one interface of every reward model in orlkit."""

    def reward(self, obs: torch.Tensor, actions: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
        """Rewards (B,) for a batch of transitions: obs (B, obs_dim), actions (B, act_dim), next_obs (B, obs_dim)."""
        ...


@torch.no_grad()
def relabel_rewards(model: RewardModel, obs: np.ndarray, actions: np.ndarray, next_obs: np.ndarray,
                    chunk: int = 65_536) -> np.ndarray:
    """``model.reward`` over arrays of any length, in chunks; float32 (N,)."""
    out = np.empty(len(obs), dtype=np.float32)
    for i in range(0, len(obs), chunk):
        sl = slice(i, i + chunk)
        r = model.reward(torch.as_tensor(obs[sl], dtype=torch.float32),
                         torch.as_tensor(actions[sl], dtype=torch.float32),
                         torch.as_tensor(next_obs[sl], dtype=torch.float32))
        out[sl] = r.detach().float().cpu().numpy().reshape(-1)
    return out
