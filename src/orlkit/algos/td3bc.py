"""TD3+BC (Fujimoto & Gu 2021): TD3 with a behavior-cloning term in the actor loss.

    L_Q(θ)  = Σ_i E_D [ (Q_θi(s,a) − y)² ],  y = r + γ(1 − terminal)·min_i Q̄_i(s', clip(π̄(s') + ε, −1, 1)),
              ε = clip(N(0, σ²), −c, c)
    L_π(φ)  = −λ·E_D [ Q_θ1(s, π_φ(s)) ] + E_D [ (π_φ(s) − a)² ],   λ = α / mean|Q_θ1(s, π_φ(s))|

The actor and the targets update every ``policy_freq`` critic updates.
Defaults from the paper: α = 2.5, σ = 0.2, c = 0.5, policy_freq 2, τ 0.005, lr 3e-4, 2×256 MLPs,
batch 256. Deviations: no state normalisation by default (the paper normalises observations by the
dataset's mean and std: ``normalize_obs=True``, off so that the d3rlpy comparison runs both without);
the actor updates on critic updates 1, 3, 5, ... rather than 2, 4, 6.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch.func import vmap

from orlkit.algos.base import Algorithm, DataSpec, adam, polyak_update, to_floats
from orlkit.data.dataset import Batch
from orlkit.nets.ensemble import Critic
from orlkit.nets.policies import DeterministicPolicy
from orlkit.nets.precision import grad_and_value

if TYPE_CHECKING:
    from orlkit.train.seeds import SeedStack


@dataclass
class TD3BCConfig:
    """TD3+BC hyperparameters (the paper's defaults)."""

    lr: float = 3e-4  # Adam learning rate, actor and critics
    batch_size: int = 256  # transitions per update
    hidden: tuple[int, ...] = (256, 256)  # MLP widths
    gamma: float = 0.99  # γ, discount
    tau: float = 0.005  # Polyak rate of the targets
    alpha: float = 2.5  # α, weight of the Q term relative to BC
    policy_noise: float = 0.2  # σ, target policy smoothing noise
    noise_clip: float = 0.5  # c, clip of the smoothing noise
    policy_freq: int = 2  # actor and target updates every this many critic updates
    normalize_obs: bool = False  # standardise observations by the data's mean and std (Algorithm.prepare)


def critic_loss(q: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Σ_i MSE(Q_i, y); q (E, B), target (B,)."""
    loss = (q - target.unsqueeze(0)).pow(2).mean(1).sum()
    return loss, {"loss/q": loss, "stats/q": q.mean()}


def actor_loss(q_pi: torch.Tensor, pi: torch.Tensor, actions: torch.Tensor, alpha: float
               ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """−λ·mean Q_θ1(s, π(s)) + mean (π(s) − a)², λ = α / mean|Q_θ1(s, π(s))| (no gradient through λ)."""
    lam = alpha / q_pi.abs().mean().detach()
    bc = (pi - actions).pow(2).mean()
    loss = -lam * q_pi.mean() + bc
    return loss, {"loss/actor": loss, "loss/bc": bc, "stats/lambda": lam}


class TD3BC(Algorithm):
    """TD3+BC (see the module docstring). Continuous actions.

    Metrics: ``loss/q``, ``stats/q``, ``loss/actor``, ``loss/bc``, ``stats/lambda`` (the last three
    are the values of the most recent actor update).
    """

    name = "td3bc"
    config_class = TD3BCConfig
    continuous_only = True
    metric_keys: ClassVar[tuple[str, ...]] = ("loss/q", "stats/q", "loss/actor", "loss/bc", "stats/lambda")

    def __init__(self, config: TD3BCConfig, spec: DataSpec, device="cpu", seed: int = 0):
        super().__init__(config, spec, device, seed)
        self.critic = Critic(spec.obs_dim, spec.action_dim, config.hidden).to(self.device)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.actor = DeterministicPolicy(spec.obs_dim, spec.action_dim, config.hidden).to(self.device)
        self.actor_target = copy.deepcopy(self.actor).requires_grad_(False)
        # The last actor update's loss/actor, loss/bc, λ: reported between actor updates, and checkpointed.
        self.actor_stats = torch.nn.Module()
        self.actor_stats.register_buffer("values", torch.zeros(3, device=self.device))
        self.modules = {"critic": self.critic, "critic_target": self.critic_target, "actor": self.actor,
                        "actor_target": self.actor_target, "actor_stats": self.actor_stats}
        self.optimizers = {"critic": adam(self.critic.parameters(), lr=config.lr),
                           "actor": adam(self.actor.parameters(), lr=config.lr)}

    def update(self, batch: Batch) -> dict[str, float]:
        cfg = self.config
        with torch.no_grad():
            noise = torch.randn(batch.actions.shape, generator=self.generator, device=self.device)
            noise = (noise * cfg.policy_noise).clamp(-cfg.noise_clip, cfg.noise_clip)
            next_a = (self.actor_target(batch.next_obs) + noise).clamp(-1.0, 1.0)
            next_q = self.critic_target(batch.next_obs, next_a).min(0).values  # (B,)
            target = batch.rewards + cfg.gamma * (1.0 - batch.terminals.float()) * next_q
        loss_q, m_q = critic_loss(self.critic(batch.obs, batch.actions), target)  # Q: (E, B)
        self._step("critic", loss_q)

        self.n_updates += 1
        if (self.n_updates - 1) % cfg.policy_freq == 0:  # updates 1, 1 + freq, ...: the paper's rate
            pi = self.actor(batch.obs)
            q_pi = self.critic(batch.obs, pi)[0]  # Q_θ1(s, π(s)), (B,)
            loss_pi, m_pi = actor_loss(q_pi, pi, batch.actions, cfg.alpha)
            self._step("actor", loss_pi)
            polyak_update(self.critic_target, self.critic, cfg.tau)
            polyak_update(self.actor_target, self.actor, cfg.tau)
            self.actor_stats.values.copy_(torch.stack([m.detach() for m in m_pi.values()]))
        last = self.actor_stats.values
        return to_floats({**m_q, "loss/actor": last[0], "loss/bc": last[1], "stats/lambda": last[2]})

    def seed_inputs(self, stack: SeedStack, batch: Batch) -> dict[str, Any]:
        """Each seed's smoothing noise from its own generator, and whether this update steps the actor."""
        return {"noise": stack.randn(batch.actions.shape[1:]),
                "actor_step": self.n_updates % self.config.policy_freq == 0}  # update n_updates + 1: as in update()

    def update_seeds(self, stack: SeedStack, batch: Batch, noise: torch.Tensor, actor_step: bool
                     ) -> dict[str, torch.Tensor]:
        """:meth:`update` for S seeds at once (orlkit.train.seeds): the same losses, in the same order, with
        batch fields (S, B, ...); ``noise`` and ``actor_step`` from :meth:`seed_inputs`."""
        cfg, T = self.config, stack.tensors
        critic, critic_target, actor, actor_target = (stack.caller(m) for m in
                                                      ("critic", "critic_target", "actor", "actor_target"))
        noise = (noise * cfg.policy_noise).clamp(-cfg.noise_clip, cfg.noise_clip)
        next_a = (vmap(actor_target)(T["actor_target"], batch.next_obs) + noise).clamp(-1.0, 1.0)  # (S, B, act)
        next_q = vmap(lambda p, s, a: critic_target(p, s, a).min(0).values)(T["critic_target"], batch.next_obs,
                                                                            next_a)  # (S, B)
        target = batch.rewards + cfg.gamma * (1.0 - batch.terminals.float()) * next_q

        def critic_objective(p, obs, actions, target):
            return critic_loss(critic(p, obs, actions), target)

        grads, (_, m_q) = vmap(grad_and_value(critic_objective, has_aux=True))(T["critic"], batch.obs,
                                                                                batch.actions, target)
        stack.step("critic", grads)

        if actor_step:
            def actor_objective(p, critic_p, obs, actions):
                pi = actor(p, obs)
                return actor_loss(critic(critic_p, obs, pi)[0], pi, actions, cfg.alpha)

            grads, (_, m_pi) = vmap(grad_and_value(actor_objective, has_aux=True))(T["actor"], T["critic"],
                                                                                    batch.obs, batch.actions)
            stack.step("actor", grads)
            stack.polyak("critic_target", "critic", cfg.tau)
            stack.polyak("actor_target", "actor", cfg.tau)
            T["actor_stats"]["values"].copy_(torch.stack(list(m_pi.values()), 1))  # (S, 3)
        last = T["actor_stats"]["values"]
        return {**m_q, "loss/actor": last[:, 0], "loss/bc": last[:, 1], "stats/lambda": last[:, 2]}

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        x, single = self._obs_tensor(obs)
        a = self.actor(x).cpu().numpy()
        return a[0] if single else a
