"""The behavior policy μ estimated by behavior cloning, for data without logged propensities.

A softmax MLP μ̂_θ(a|s) = softmax(f_θ(s))_a fitted by maximum likelihood on the dataset's
(obs, action) pairs (``hidden=()`` makes it multinomial logistic regression):

    min_θ  −(1/N) Σ_t log μ̂_θ(a_t|s_t)

The propensity of a logged action is μ̂(a_t|s_t) clipped to ≥ 1e-3, so that no importance
ratio exceeds 1000 × π(a_t|s_t). Estimated propensities make every importance-sampling
estimator biased by however wrong μ̂ is; doubly robust estimators stay consistent when either
μ̂ or the Q-model is right.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from orlkit.data.dataset import TransitionDataset
from orlkit.nets import mlp
from orlkit.nets.optim import adam

MIN_PROPENSITY = 1e-3  # estimated μ(a|s) is clipped to at least this


def behavior_loss(logits: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Negative log-likelihood of the logged actions under softmax(logits). logits (B, A), actions (B,)."""
    loss = F.cross_entropy(logits, actions)
    return loss, {"loss/behavior": loss}


def fit_behavior_policy(dataset: TransitionDataset, hidden: Sequence[int] = (64, 64), steps: int = 2000,
                        lr: float = 1e-3, batch_size: int = 512, seed: int = 0,
                        device: torch.device | str = "cpu") -> torch.nn.Module:
    """A softmax MLP f_θ with μ̂(·|s) = softmax(f_θ(s)), fitted by minibatch Adam (see module doc).

    The network takes flattened observations (B, obs_dim) and returns logits (B, A).
    """
    device = torch.device(device)
    obs = torch.as_tensor(dataset.obs.reshape(len(dataset), -1), device=device)  # (N, obs_dim)
    actions = torch.as_tensor(dataset.actions, device=device)  # (N,)
    with torch.random.fork_rng(devices=[]):  # initialisation from ``seed``; the global RNG is left alone
        torch.manual_seed(seed)
        net = mlp(obs.shape[1], dataset.n_actions, hidden).to(device)
    opt = adam(net.parameters(), lr=lr)
    generator = torch.Generator(device=device).manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, len(obs), (batch_size,), generator=generator, device=device)  # (B,)
        loss, _ = behavior_loss(net(obs[idx]), actions[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return net.eval()


def estimate_propensities(dataset: TransitionDataset, hidden: Sequence[int] = (64, 64), steps: int = 2000,
                          lr: float = 1e-3, batch_size: int = 512, seed: int = 0,
                          device: torch.device | str = "cpu") -> np.ndarray:
    """(N,) μ̂(a_t|s_t) of the logged actions, clipped to ≥ 1e-3, from :func:`fit_behavior_policy`."""
    net = fit_behavior_policy(dataset, hidden, steps, lr, batch_size, seed, device)
    obs = torch.as_tensor(dataset.obs.reshape(len(dataset), -1), device=net[0].weight.device)  # (N, obs_dim)
    actions = torch.as_tensor(dataset.actions, device=obs.device)  # (N,)
    with torch.no_grad():
        probs = torch.cat([net(x).softmax(-1) for x in obs.split(65_536)])  # (N, A)
    mu = probs.gather(-1, actions[:, None]).squeeze(-1).double().cpu().numpy()  # (N,)
    return np.clip(mu, MIN_PROPENSITY, 1.0)
