"""Soft actor-critic (SAC; Haarnoja et al. 2018) trained offline: the lecture's naive off-policy critic.

    L_Q(θ) = Σ_i E_D [ (Q_θi(s,a) − y)² ],  y = r + γ(1 − terminal)·(min_i Q̄_i(s', a') − α·log π(a'|s')),
             a' ~ π(·|s')
    L_π(φ) = E_{s~D, a~π_φ} [ α·log π_φ(a|s) − min_i Q_θi(s, a) ]      (the lecture's θ ← θ + η∇E[Q̂(s, π(s))])
    L_α    = −E [ log α · (log π(a|s) + H̄) ],  H̄ = −|A| (automatic entropy tuning)

Offline the target queries Q at a' ~ π(·|s'), actions the data need not contain: the critic
overestimates them and nothing corrects it. Defaults: lr 3e-4, 2×256 MLPs, batch 256, γ 0.99,
τ 0.005, twin critics as one batched ensemble.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from orlkit.algos.base import Algorithm, DataSpec, adam, polyak_update, to_floats
from orlkit.data.dataset import Batch
from orlkit.nets.ensemble import Critic
from orlkit.nets.policies import TanhGaussianPolicy


@dataclass
class SACConfig:
    """SAC hyperparameters (Haarnoja et al. 2018)."""

    lr: float = 3e-4  # Adam learning rate, actor, critics and α
    batch_size: int = 256  # transitions per update
    hidden: tuple[int, ...] = (256, 256)  # MLP widths
    gamma: float = 0.99  # γ, discount
    tau: float = 0.005  # Polyak rate of the target critics
    init_alpha: float = 1.0  # initial entropy temperature α
    target_entropy: float | None = None  # H̄; None: −|A|
    normalize_obs: bool = False  # standardise observations by the data's mean and std (Algorithm.prepare)


class SAC(Algorithm):
    """SAC on a fixed dataset (see the module docstring). Continuous actions.

    Metrics: ``loss/q``, ``loss/actor``, ``loss/alpha``, ``stats/q``, ``stats/alpha``, ``stats/entropy``.
    """

    name = "sac"
    config_class = SACConfig
    continuous_only = True
    metric_keys: ClassVar[tuple[str, ...]] = ("loss/q", "stats/q", "loss/actor", "stats/entropy", "loss/alpha",
                                              "stats/alpha")

    def __init__(self, config: SACConfig, spec: DataSpec, device="cpu", seed: int = 0):
        super().__init__(config, spec, device, seed)
        self.critic = Critic(spec.obs_dim, spec.action_dim, config.hidden).to(self.device)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.actor = TanhGaussianPolicy(spec.obs_dim, spec.action_dim, config.hidden).to(self.device)
        self.log_alpha = torch.nn.Parameter(torch.tensor(float(np.log(config.init_alpha)), device=self.device))
        self.alpha_holder = torch.nn.ParameterDict({"log_alpha": self.log_alpha})
        self.target_entropy = (config.target_entropy if config.target_entropy is not None
                               else -float(spec.action_dim))
        self.modules = {"critic": self.critic, "critic_target": self.critic_target, "actor": self.actor,
                        "alpha": self.alpha_holder}
        self.optimizers = {"critic": adam(self.critic.parameters(), lr=config.lr),
                           "actor": adam(self.actor.parameters(), lr=config.lr),
                           "alpha": adam([self.log_alpha], lr=config.lr)}


    def update(self, batch: Batch) -> dict[str, float]:
        cfg = self.config
        alpha = self.log_alpha.exp().detach()
        with torch.no_grad():
            next_a, next_logp = self.actor.sample(batch.next_obs, self.generator)
            next_q = self.critic_target(batch.next_obs, next_a).min(0).values - alpha * next_logp  # (B,)
            target = batch.rewards + cfg.gamma * (1.0 - batch.terminals.float()) * next_q
        q = self.critic(batch.obs, batch.actions)  # (E, B)
        q_loss = (q - target.unsqueeze(0)).pow(2).mean(1).sum()
        self._step("critic", q_loss)

        a, logp = self.actor.sample(batch.obs, self.generator)
        actor_loss = (alpha * logp - self.critic(batch.obs, a).min(0).values).mean()
        self._step("actor", actor_loss)

        alpha_loss = -(self.log_alpha * (logp.detach() + self.target_entropy)).mean()
        self._step("alpha", alpha_loss)
        polyak_update(self.critic_target, self.critic, cfg.tau)
        self.n_updates += 1
        return to_floats({"loss/q": q_loss, "stats/q": q.mean(), "loss/actor": actor_loss,
                          "stats/entropy": -logp.mean(), "loss/alpha": alpha_loss, "stats/alpha": alpha})

    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        return self._policy_act(self.actor, obs, deterministic)
