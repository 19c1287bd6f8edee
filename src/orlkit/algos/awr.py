"""Advantage-weighted regression (AWR; Peng et al. 2019), offline: the lecture's weighted imitation.

    L_V(ψ) = E_D [ (R_t − V_ψ(s_t))² ]
    L_π(φ) = −E_D [ min(exp(Â_t / T), w_max) · log π_φ(a_t|s_t) ],   Â = normalise(R_t − V_ψ(s_t))

R_t is the discounted return-to-go of row t within its episode; Â is normalised to zero mean and
unit std over the batch. Discrete actions use a categorical policy, continuous ones a Gaussian
with a state-independent std.

Defaults from xbpeng/awr: temperature T = 1.0, weight clip w_max = 20, γ 0.99. Deviations: the
value target is the Monte-Carlo return (TD(λ) with λ = 1, computed once from the data) instead
of TD(λ = 0.95) recomputed with the current V, so a time-limit-cut episode's last returns are
truncated; Adam 3e-4 for both networks instead of SGD with momentum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from orlkit.algos.base import Algorithm, DataSpec, adam, to_floats
from orlkit.data.dataset import Batch, TransitionDataset
from orlkit.nets import mlp
from orlkit.nets.policies import GaussianPolicy


@dataclass
class AWRConfig:
    """AWR hyperparameters."""

    lr: float = 3e-4  # Adam learning rate, actor and value
    batch_size: int = 256  # transitions per update
    hidden: tuple[int, ...] = (256, 256)  # MLP widths
    gamma: float = 0.99  # γ, discount of the returns-to-go
    temperature: float = 1.0  # T, temperature of the advantage weights
    max_weight: float = 20.0  # w_max, clip of exp(Â/T)
    normalize_obs: bool = False  # standardise observations by the data's mean and std (Algorithm.prepare)


def awr_weights(adv: torch.Tensor, temperature: float, max_weight: float) -> torch.Tensor:
    """min(exp(Â/T), w_max) with Â the batch-normalised advantage. adv (B,) → (B,)."""
    norm = (adv - adv.mean()) / (adv.std() + 1e-8)
    return torch.exp(norm / temperature).clamp(max=max_weight)


class AWR(Algorithm):
    """Offline AWR (see the module docstring). Discrete or continuous actions.

    Metrics: ``loss/v``, ``loss/actor``, ``stats/v``, ``stats/adv_weight``.
    """

    name = "awr"
    config_class = AWRConfig
    metric_keys: ClassVar[tuple[str, ...]] = ("loss/v", "stats/v", "loss/actor", "stats/adv_weight")

    def __init__(self, config: AWRConfig, spec: DataSpec, device="cpu", seed: int = 0):
        super().__init__(config, spec, device, seed)
        self.value = mlp(spec.obs_dim, 1, config.hidden).to(self.device)
        if spec.discrete:
            self.actor = mlp(spec.obs_dim, spec.n_actions, config.hidden).to(self.device)
        else:
            self.actor = GaussianPolicy(spec.obs_dim, spec.action_dim, config.hidden).to(self.device)
        self.modules = {"value": self.value, "actor": self.actor}
        self.optimizers = {"value": adam(self.value.parameters(), lr=config.lr),
                           "actor": adam(self.actor.parameters(), lr=config.lr)}

    def prepare_dataset(self, dataset: TransitionDataset) -> TransitionDataset:
        returns_to_go = dataset.returns_to_go(self.config.gamma).astype(np.float32)
        return dataset.replace(extras={**dataset.extras, "returns_to_go": returns_to_go})

    def _log_prob(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        if self.spec.discrete:
            return -F.cross_entropy(self.actor(obs), actions, reduction="none")  # (B,)
        return self.actor.log_prob(obs, actions)  # (B,)

    def update(self, batch: Batch) -> dict[str, float]:
        cfg = self.config
        returns = batch.extras["returns_to_go"]  # (B,)
        v = self.value(batch.obs).squeeze(-1)  # (B,)
        v_loss = (v - returns).pow(2).mean()
        self._step("value", v_loss)

        weight = awr_weights(returns - v.detach(), cfg.temperature, cfg.max_weight)
        actor_loss = -(weight * self._log_prob(batch.obs, batch.actions)).mean()
        self._step("actor", actor_loss)
        self.n_updates += 1
        return to_floats({"loss/v": v_loss, "stats/v": v.mean(), "loss/actor": actor_loss,
                          "stats/adv_weight": weight.mean()})

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        if not self.spec.discrete:
            return self._policy_act(self.actor, obs, deterministic)
        x, single = self._obs_tensor(obs)
        logits = self.actor(x)
        a = logits.argmax(-1) if deterministic else torch.multinomial(logits.softmax(-1), 1,
                                                                      generator=self.generator).squeeze(-1)
        a = a.cpu().numpy()
        return a[0] if single else a
