"""Conservative Q-learning for discrete actions (CQL(H), Kumar et al. 2020), on Double DQN.

Objective: the Double DQN loss plus the conservative penalty,

    min_φ  α · E_{s~D} [ log Σ_a exp Q_φ(s,a) − E_{a~D(·|s)} Q_φ(s,a) ]  +  E_D [ ℓ( Q_φ(s,a) − y ) ]

    y = r + γ (1 − terminal) · Q_φ̄(s', argmax_a' Q_φ(s', a'))

The logsumexp is the lecture's "push down on large Q-values" with the max-entropy choice of μ
(μ(a|s) ∝ exp Q(s,a)); the second term pushes up Q on the data's actions. The greedy policy acts.
Theory: for α large enough, E_π[Q̂(s,·)] ≤ E_π[Q^π(s,·)] at every dataset state.

Defaults follow the official Atari code (aviralkumar2907/CQL, batch_rl): α = 1.0 for 10% data
(4.0 for 1% data), Huber TD loss. Deviations: Adam lr 3e-4, batch 256, 2×256 MLP and a hard
target copy every 1000 updates rather than the Atari lr 5e-5 / conv nets / 8000-step copies;
DQN rather than QR-DQN as the base learner (the lecture's DDQN+CQL).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.func import vmap

from orlkit.algos.base import Algorithm, DataSpec, adam, to_floats
from orlkit.algos.dqn import td_loss, td_target
from orlkit.data.dataset import Batch
from orlkit.nets import mlp
from orlkit.nets.precision import grad_and_value

if TYPE_CHECKING:
    from orlkit.train.seeds import SeedStack


@dataclass
class DiscreteCQLConfig:
    """Discrete CQL hyperparameters."""

    lr: float = 3e-4  # Adam learning rate
    batch_size: int = 256  # transitions per update
    hidden: tuple[int, ...] = (256, 256)  # Q-network MLP widths
    gamma: float = 0.99  # γ, discount
    target_update_interval: int = 1000  # hard copy φ̄ ← φ every this many updates
    alpha: float = 1.0  # α, weight of the conservative penalty (paper: 1.0 for 10% data, 4.0 for 1%)
    double: bool = True  # Double DQN target (the lecture's DDQN + CQL)
    normalize_obs: bool = False  # standardise observations by the data's mean and std (Algorithm.prepare)


def cql_penalty(q_all: torch.Tensor, q_data: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """E_s[logsumexp_a Q(s,a) − Q(s, a_data)]. q_all (B, A), q_data (B,)."""
    lse = torch.logsumexp(q_all, dim=-1)  # (B,)
    penalty = (lse - q_data).mean()
    return penalty, {"loss/cql_penalty": penalty, "stats/logsumexp": lse.mean()}


def cql_dqn_loss(q_all: torch.Tensor, actions: torch.Tensor, target: torch.Tensor, alpha: float
                 ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Huber TD loss + α · CQL(H) penalty. q_all (B, A), actions (B,) int, target (B,) detached."""
    q_data = q_all.gather(-1, actions.unsqueeze(-1)).squeeze(-1)  # (B,)
    bellman, td_metrics = td_loss(q_data, target)
    penalty, cql_metrics = cql_penalty(q_all, q_data)
    loss = bellman + alpha * penalty
    return loss, {**td_metrics, **cql_metrics, "loss/total": loss, "stats/q_max": q_all.max(-1).values.mean()}


class DiscreteCQL(Algorithm):
    """Double DQN + the CQL(H) penalty (see the module docstring).

    Metrics: ``loss/td`` (Huber TD loss), ``loss/cql_penalty`` (the CQL(H) penalty before α),
    ``loss/total`` (TD loss + α·penalty), ``stats/q_data`` (mean Q(s, a_data)), ``stats/target``
    (mean TD target y), ``stats/logsumexp`` (mean logsumexp_a Q(s, a)) and ``stats/q_max``.
    """

    name = "cql-discrete"
    config_class = DiscreteCQLConfig
    discrete_only = True
    metric_keys = ("loss/td", "loss/cql_penalty", "loss/total", "stats/q_data", "stats/target",
                   "stats/logsumexp", "stats/q_max")

    def __init__(self, config: DiscreteCQLConfig, spec: DataSpec, device="cpu", seed: int = 0):
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
        loss, metrics = cql_dqn_loss(self.q(batch.obs), batch.actions, target, cfg.alpha)
        self._step("q", loss)
        self.n_updates += 1
        if self.n_updates % cfg.target_update_interval == 0:
            self.q_target.load_state_dict(self.q.state_dict())
        return to_floats(metrics)

    def update_seeds(self, stack: SeedStack, batch: Batch) -> dict[str, torch.Tensor]:
        """:meth:`update` for S seeds at once (orlkit.train.seeds): batch fields (S, B, ...)."""
        cfg, T = self.config, stack.tensors
        q = stack.caller("q")
        q_next_online = vmap(q)(T["q"], batch.next_obs) if cfg.double else None  # (S, B, A)
        target = td_target(vmap(stack.caller("q_target"))(T["q_target"], batch.next_obs), q_next_online,
                           batch.rewards, batch.terminals, cfg.gamma)  # (S, B)

        def objective(p, obs, actions, target):
            return cql_dqn_loss(q(p, obs), actions, target, cfg.alpha)

        grads, (_, metrics) = vmap(grad_and_value(objective, has_aux=True))(T["q"], batch.obs, batch.actions, target)
        stack.step("q", grads)
        stack.copy_every("q_target", "q", cfg.target_update_interval)  # after updates interval, 2·interval, ...
        return metrics

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
