"""DQN and Double DQN trained offline: the lecture's naive off-policy critic.

Objective (Mnih et al. 2015), on a fixed dataset D with a target network Q_φ̄:

    min_φ  E_{(s,a,r,s')~D} [ ℓ( Q_φ(s,a) − y ) ],   y = r + γ (1 − terminal) · Q_φ̄(s', a')

with a' = argmax_a Q_φ̄(s', a) for DQN, and a' = argmax_a Q_φ(s', a) for Double DQN
(van Hasselt et al. 2016). ℓ is the Huber loss. The greedy policy acts.

Offline, the max (or argmax) over a' queries Q on actions the data never shows at s'; nothing
corrects those values, so the critic overestimates them — ``orlkit demo conservatism``
measures this against exact answers.

Deviations: Adam lr 3e-4, batch 256, 2×256 MLP and a hard target copy every 1000 updates
instead of the Atari settings (lr 6.25e-5, batch 32, conv nets, copy every 8000 steps):
the built-in tasks are small vector-observation problems.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from orlkit.algos.base import Algorithm, DataSpec, adam, to_floats
from orlkit.data.dataset import Batch
from orlkit.nets import mlp


@dataclass
class DQNConfig:
    """DQN / Double DQN hyperparameters."""

    lr: float = 3e-4  # Adam learning rate
    batch_size: int = 256  # transitions per update
    hidden: tuple[int, ...] = (256, 256)  # Q-network MLP widths
    gamma: float = 0.99  # γ, discount
    target_update_interval: int = 1000  # hard copy φ̄ ← φ every this many updates
    double: bool = False  # Double DQN: pick a' with the online network, evaluate with the target
    normalize_obs: bool = False  # standardise observations by the data's mean and std (Algorithm.prepare)


def td_target(q_next_target: torch.Tensor, q_next_online: torch.Tensor | None, rewards: torch.Tensor,
              terminals: torch.Tensor, gamma: float) -> torch.Tensor:
    """y = r + γ(1 − terminal)·Q̄(s', a'). Inputs (B, A), (B, A) or None for plain DQN, (B,), (B,)."""
    if q_next_online is None:
        next_v = q_next_target.max(-1).values  # (B,)
    else:
        a_next = q_next_online.argmax(-1, keepdim=True)  # (B, 1)
        next_v = q_next_target.gather(-1, a_next).squeeze(-1)  # (B,)
    return rewards + gamma * (1.0 - terminals.float()) * next_v


def td_loss(q_data: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Huber loss between Q(s, a_data) and the (already detached) target, both (B,)."""
    loss = F.smooth_l1_loss(q_data, target)
    return loss, {"loss/td": loss, "stats/q_data": q_data.mean(), "stats/target": target.mean()}


class DQN(Algorithm):
    """Offline DQN (``double=False``) or Double DQN (``double=True``).

    Metrics: ``loss/td`` (Huber TD loss), ``stats/q_data`` (mean Q(s, a_data)), ``stats/target``
    (mean TD target y) and ``stats/q_max`` (mean max_a Q(s, a)).
    """

    name = "dqn"
    config_class = DQNConfig
    discrete_only = True
    metric_keys = ("loss/td", "stats/q_data", "stats/target", "stats/q_max")

    def __init__(self, config: DQNConfig, spec: DataSpec, device="cpu", seed: int = 0):
        super().__init__(config, spec, device, seed)
        self.q = mlp(spec.obs_dim, spec.n_actions, config.hidden).to(self.device)
        self.q_target = copy.deepcopy(self.q).requires_grad_(False)
        self.modules = {"q": self.q, "q_target": self.q_target}
        self.optimizers = {"q": adam(self.q.parameters(), lr=config.lr)}

    def update(self, batch: Batch) -> dict[str, float]:
        cfg = self.config
        with torch.no_grad():
            q_next_online = self.q(batch.next_obs) if cfg.double else None
            target = td_target(self.q_target(batch.next_obs), q_next_online, batch.rewards,
                               batch.terminals, cfg.gamma)
        q_all = self.q(batch.obs)  # (B, A)
        q_data = q_all.gather(-1, batch.actions.unsqueeze(-1)).squeeze(-1)  # (B,)
        loss, metrics = td_loss(q_data, target)

        self._step("q", loss)
        self.n_updates += 1
        if self.n_updates % cfg.target_update_interval == 0:
            self.q_target.load_state_dict(self.q.state_dict())
        metrics["stats/q_max"] = q_all.max(-1).values.mean()
        return to_floats(metrics)

    @torch.no_grad()
    def q_values(self, obs: np.ndarray) -> np.ndarray:
        """Q(s, ·) for a batch of observations, (B, A)."""
        x, _ = self._obs_tensor(obs)
        return self.q(x).cpu().numpy()

    @torch.no_grad()
    def value_estimate(self, obs: np.ndarray) -> np.ndarray:
        x, _ = self._obs_tensor(obs)
        return self.q(x).max(-1).values.cpu().numpy()

    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        return self._greedy(self.q, obs)
