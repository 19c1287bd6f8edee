"""Behavior cloning (BC) and filtered behavior cloning (%BC).

Objective (discrete actions, a categorical policy π_θ(a|s) = softmax(f_θ(s))_a):

    min_θ  E_{(s,a)~D} [ −log π_θ(a|s) ]

Objective (continuous actions, a deterministic policy μ_θ(s) = tanh(f_θ(s))):

    min_θ  E_{(s,a)~D} [ ‖μ_θ(s) − a‖² ]

%BC (the "filtered imitation" baseline of the lecture) is BC on the best part of the data:
the best whole episodes by undiscounted return while their timesteps stay ≤ ``top_pct`` × all
timesteps, as in the Decision Transformer code (Chen et al. 2021). ``orlkit train pct-bc``
is this class with ``top_pct = 0.1``.

Deviations: none for BC. CORL's %BC keeps the top 10% of *episodes by discounted return*;
we follow the Decision Transformer code (timestep budget, undiscounted return).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import vmap

from orlkit.algos.base import Algorithm, DataSpec, adam, to_floats
from orlkit.data.dataset import Batch, TransitionDataset
from orlkit.nets import mlp
from orlkit.nets.precision import grad_and_value

if TYPE_CHECKING:
    from orlkit.train.seeds import SeedStack


@dataclass
class BCConfig:
    """Behavior cloning hyperparameters (CORL's defaults)."""

    lr: float = 3e-4  # Adam learning rate
    batch_size: int = 256  # transitions per update
    hidden: tuple[int, ...] = (256, 256)  # policy MLP widths
    top_pct: float = 1.0  # fraction of timesteps kept, best episodes first (1.0 = plain BC, 0.1 = %BC)
    normalize_obs: bool = False  # standardise observations by the data's mean and std (Algorithm.prepare)


def bc_discrete_loss(logits: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Negative log-likelihood of the data actions under softmax(logits). logits (B, A), actions (B,)."""
    loss = F.cross_entropy(logits, actions)
    accuracy = (logits.argmax(-1) == actions).float().mean()
    return loss, {"loss/bc": loss, "stats/accuracy": accuracy}


def bc_continuous_loss(pred: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Squared error between predicted and data actions, summed over action dims. (B, d) each."""
    loss = (pred - actions).pow(2).sum(-1).mean()
    return loss, {"loss/bc": loss}


class BC(Algorithm):
    """Behavior cloning: supervised learning of the data's actions (see the module docstring).

    Metrics: ``loss/bc`` (NLL for discrete actions, squared error for continuous ones) and, for
    discrete actions only, ``stats/accuracy`` (how often the argmax action is the data's action).
    """

    name = "bc"
    config_class = BCConfig
    metric_keys = ("loss/bc", "stats/accuracy")
    continuous_metric_keys = ("loss/bc",)

    def __init__(self, config: BCConfig, spec: DataSpec, device="cpu", seed: int = 0):
        super().__init__(config, spec, device, seed)
        self.policy = mlp(spec.obs_dim, spec.action_dim, config.hidden).to(self.device)
        self.modules = {"policy": self.policy}
        self.optimizers = {"policy": adam(self.policy.parameters(), lr=config.lr)}

    def prepare_dataset(self, dataset: TransitionDataset) -> TransitionDataset:
        return dataset.top_fraction(self.config.top_pct)

    def update(self, batch: Batch) -> dict[str, float]:
        out = self.policy(batch.obs)  # (B, action_dim)
        if self.spec.discrete:
            loss, metrics = bc_discrete_loss(out, batch.actions)
        else:
            loss, metrics = bc_continuous_loss(torch.tanh(out), batch.actions)
        self._step("policy", loss)
        self.n_updates += 1
        return to_floats(metrics)

    def update_seeds(self, stack: SeedStack, batch: Batch) -> dict[str, torch.Tensor]:
        """:meth:`update` for S seeds at once (orlkit.train.seeds): batch fields (S, B, ...)."""
        policy = stack.caller("policy")

        def objective(p, obs, actions):
            out = policy(p, obs)  # (B, action_dim)
            if self.spec.discrete:
                return bc_discrete_loss(out, actions)
            return bc_continuous_loss(torch.tanh(out), actions)

        grads, (_, metrics) = vmap(grad_and_value(objective, has_aux=True))(stack.tensors["policy"], batch.obs,
                                                                             batch.actions)
        stack.step("policy", grads)
        return metrics

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        x, single = self._obs_tensor(obs)
        out = self.policy(x)
        if self.spec.discrete:
            if deterministic:
                a = out.argmax(-1)
            else:
                a = torch.multinomial(out.softmax(-1), 1, generator=self.generator).squeeze(-1)
        else:
            a = torch.tanh(out)
        a = a.cpu().numpy()
        return a[0] if single else a
