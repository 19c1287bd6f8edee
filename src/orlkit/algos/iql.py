"""Implicit Q-learning (IQL; Kostrikov, Nair & Levine 2021), continuous actions.

Objectives, with u = min_i Q̄_i(s, a) − V(s) on dataset pairs only:

    L_V(ψ) = E_D [ |τ − 1(u < 0)| · u² ]                                  (expectile regression)
    L_Q(θ) = Σ_i E_D [ (r + γ(1 − terminal)·V_ψ(s') − Q_θi(s, a))² ]
    L_π(φ) = −E_D [ min(exp(β·(min_i Q̄_i(s,a) − V_ψ(s))), 100) · log π_φ(a|s) ]

Updates in the paper's order V, actor, Q, then Polyak target (τ_target = 0.005). IQL never
evaluates a critic on an action outside the batch (a test checks it).

Defaults from the paper / ikostrikov/implicit_q_learning (MuJoCo): τ = 0.7, β = 3.0, lr 3e-4,
2×256 MLPs, batch 256, cosine decay of the actor lr over 1M updates, Gaussian policy with a
state-independent std, rewards scaled by 1000 / (max − min episode return).
Deviations: the cosine schedule's length is a config field (``actor_lr_decay_steps``), not the
run's --steps, so resumed and uninterrupted runs agree; actor means pass through tanh.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch.func import vmap

from orlkit.algos.base import Algorithm, DataSpec, adam, polyak_update, to_floats
from orlkit.data.dataset import Batch, TransitionDataset
from orlkit.errors import OrlkitError
from orlkit.nets import mlp
from orlkit.nets.ensemble import Critic
from orlkit.nets.policies import GaussianPolicy
from orlkit.nets.precision import grad_and_value

if TYPE_CHECKING:
    from orlkit.train.seeds import SeedStack


@dataclass
class IQLConfig:
    """IQL hyperparameters (the paper's MuJoCo defaults)."""

    lr: float = 3e-4  # Adam learning rate for V, Q and the actor
    batch_size: int = 256  # transitions per update
    hidden: tuple[int, ...] = (256, 256)  # MLP widths
    gamma: float = 0.99  # γ, discount
    tau: float = 0.005  # Polyak rate of the target critics
    expectile: float = 0.7  # τ, the expectile of the value loss
    beta: float = 3.0  # β, inverse temperature of the advantage weights
    max_weight: float = 100.0  # clip of exp(β·A)
    actor_lr_decay_steps: int = 1_000_000  # cosine decay of the actor lr over this many updates (0: off)
    reward_scale_by_return_range: bool = True  # r ← r·1000/(max − min episode return), as for MuJoCo
    normalize_obs: bool = False  # standardise observations by the data's mean and std (Algorithm.prepare)


def expectile_loss(diff: torch.Tensor, expectile: float) -> torch.Tensor:
    """E[|τ − 1(u < 0)|·u²] for u = diff. With τ = 0.5 it is ½·MSE."""
    weight = torch.where(diff < 0, 1.0 - expectile, expectile)
    return (weight * diff.pow(2)).mean()


def v_loss(q_target_min: torch.Tensor, v: torch.Tensor, expectile: float) -> tuple[torch.Tensor, dict]:
    loss = expectile_loss(q_target_min - v, expectile)
    return loss, {"loss/v": loss, "stats/v": v.mean()}


def q_loss(q: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """Σ_i MSE(Q_i, y); q (E, B), target (B,)."""
    loss = (q - target.unsqueeze(0)).pow(2).mean(1).sum()
    return loss, {"loss/q": loss, "stats/q": q.mean()}


def awr_actor_loss(log_prob: torch.Tensor, adv: torch.Tensor, beta: float, max_weight: float
                   ) -> tuple[torch.Tensor, dict]:
    weight = torch.exp(beta * adv).clamp(max=max_weight)
    loss = -(weight * log_prob).mean()
    return loss, {"loss/actor": loss, "stats/adv_weight": weight.mean()}


class IQL(Algorithm):
    """Implicit Q-learning (see the module docstring). Continuous actions.

    Metrics: ``loss/v``, ``loss/q``, ``loss/actor``, ``stats/v``, ``stats/q``, ``stats/adv_weight``.
    """

    name = "iql"
    config_class = IQLConfig
    continuous_only = True
    metric_keys: ClassVar[tuple[str, ...]] = ("loss/v", "stats/v", "loss/actor", "stats/adv_weight", "loss/q",
                                              "stats/q")

    def __init__(self, config: IQLConfig, spec: DataSpec, device="cpu", seed: int = 0):
        super().__init__(config, spec, device, seed)
        self.critic = Critic(spec.obs_dim, spec.action_dim, config.hidden).to(self.device)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.value = mlp(spec.obs_dim, 1, config.hidden).to(self.device)
        self.actor = GaussianPolicy(spec.obs_dim, spec.action_dim, config.hidden).to(self.device)
        self.modules = {"critic": self.critic, "critic_target": self.critic_target, "value": self.value,
                        "actor": self.actor}
        self.optimizers = {name: adam(getattr(self, name).parameters(), lr=config.lr)
                           for name in ("critic", "value", "actor")}
        self.reward_scale = 1.0  # what prepare_dataset multiplied the rewards by; value_estimate undoes it

    def prepare_dataset(self, dataset: TransitionDataset) -> TransitionDataset:
        self.reward_scale = 1.0
        if not self.config.reward_scale_by_return_range:
            return dataset
        returns = dataset.episode_returns
        spread = float(returns.max() - returns.min())
        if spread <= 0:
            return dataset
        self.reward_scale = 1000.0 / spread
        return dataset.replace(rewards=dataset.rewards * self.reward_scale)

    def copy_prepared(self, source: Algorithm) -> None:
        super().copy_prepared(source)
        self.reward_scale = source.reward_scale

    def value_estimate(self, obs: np.ndarray) -> np.ndarray | None:
        """min_i Q_i(s, mode π(s)) in the data's reward units (the critics learn scaled rewards)."""
        q = super().value_estimate(obs)
        return None if q is None else q / self.reward_scale

    def state_meta(self) -> dict[str, Any]:
        return {**super().state_meta(), "reward_scale": self.reward_scale}

    def load_state(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        scale = meta.get("reward_scale", self.reward_scale)  # older checkpoints: as prepared
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale <= 0:
            raise OrlkitError(f"checkpoint state: reward_scale must be a positive finite number, got {scale!r}")
        super().load_state(tensors, meta)
        self.reward_scale = float(scale)


    def update(self, batch: Batch) -> dict[str, float]:
        cfg = self.config
        with torch.no_grad():
            q_target_min = self.critic_target(batch.obs, batch.actions).min(0).values  # (B,)
        v = self.value(batch.obs).squeeze(-1)  # (B,)
        loss_v, m_v = v_loss(q_target_min, v, cfg.expectile)
        self._step("value", loss_v)

        with torch.no_grad():
            adv = q_target_min - self.value(batch.obs).squeeze(-1)  # with the updated V, as the reference code

        loss_pi, m_pi = awr_actor_loss(self.actor.log_prob(batch.obs, batch.actions), adv, cfg.beta,
                                       cfg.max_weight)
        self._set_actor_lr()
        self._step("actor", loss_pi)

        with torch.no_grad():
            next_v = self.value(batch.next_obs).squeeze(-1)
            target = batch.rewards + cfg.gamma * (1.0 - batch.terminals.float()) * next_v
        loss_q, m_q = q_loss(self.critic(batch.obs, batch.actions), target)
        self._step("critic", loss_q)
        polyak_update(self.critic_target, self.critic, cfg.tau)
        self.n_updates += 1
        return to_floats({**m_v, **m_pi, **m_q})

    def update_seeds(self, stack: SeedStack, batch: Batch) -> dict[str, torch.Tensor]:
        """:meth:`update` for S seeds at once (orlkit.train.seeds): the same losses, in the same order, with
        batch fields (S, B, ...) and each gradient taken for all seeds by ``vmap(grad_and_value(...))``."""
        cfg, T = self.config, stack.tensors
        critic_target, value = stack.caller("critic_target"), stack.caller("value")
        q_target_min = vmap(lambda p, s, a: critic_target(p, s, a).min(0).values)(T["critic_target"], batch.obs,
                                                                                  batch.actions)  # (S, B)

        def value_objective(p, obs, qt):
            return v_loss(qt, value(p, obs).squeeze(-1), cfg.expectile)

        grads, (_, m_v) = vmap(grad_and_value(value_objective, has_aux=True))(T["value"], batch.obs, q_target_min)
        stack.step("value", grads)

        adv = q_target_min - vmap(value)(T["value"], batch.obs).squeeze(-1)  # (S, B), with the updated V
        log_prob = stack.caller("actor", "log_prob")

        def actor_objective(p, obs, actions, adv):
            return awr_actor_loss(log_prob(p, obs, actions), adv, cfg.beta, cfg.max_weight)

        grads, (_, m_pi) = vmap(grad_and_value(actor_objective, has_aux=True))(T["actor"], batch.obs,
                                                                                batch.actions, adv)
        stack.step("actor", grads)  # at the cosine-decayed lr: SeedStack.update set it (scheduled_lrs)

        next_v = vmap(value)(T["value"], batch.next_obs).squeeze(-1)  # (S, B)
        target = batch.rewards + cfg.gamma * (1.0 - batch.terminals.float()) * next_v
        critic = stack.caller("critic")

        def critic_objective(p, obs, actions, target):
            return q_loss(critic(p, obs, actions), target)

        grads, (_, m_q) = vmap(grad_and_value(critic_objective, has_aux=True))(T["critic"], batch.obs,
                                                                                batch.actions, target)
        stack.step("critic", grads)
        stack.polyak("critic_target", "critic", cfg.tau)
        return {**m_v, **m_pi, **m_q}

    def _actor_lr(self) -> float | None:
        """The cosine-decayed actor learning rate at this update (None: no decay)."""
        T = self.config.actor_lr_decay_steps
        if not T:
            return None
        return self.config.lr * 0.5 * (1 + math.cos(math.pi * min(self.n_updates, T) / T))

    def scheduled_lrs(self) -> dict[str, float]:
        lr = self._actor_lr()
        return {} if lr is None else {"actor": lr}

    def _set_actor_lr(self) -> None:
        for name, lr in self.scheduled_lrs().items():
            for group in self.optimizers[name].param_groups:
                group["lr"] = lr

    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        return self._policy_act(self.actor, obs, deterministic)
