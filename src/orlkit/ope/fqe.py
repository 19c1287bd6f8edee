"""Fitted Q evaluation (FQE; Le, Voloshin & Yue 2019): regress Q^π on bootstrapped targets.

With a target network Q̄ (a hard copy of Q every ``target_update_interval`` updates):

    min_φ  E_{(s,a,r,s')~D} [ (Q_φ(s,a) − y)² ],   y = r + γ (1 − terminal) · Σ_a' π(a'|s') Q̄(s',a')

    V̂_FQE = (1/E) Σ_i Σ_a π(a|s_0^i) Q_φ(s_0^i, a)      over the E episode starts s_0^i

Only ``terminals`` stop bootstrapping; a time-limit cut (``timeouts``) bootstraps, so FQE
estimates the infinite-horizon value. ``hidden=()`` makes Q linear in the observation (tabular
for one-hot observations). Assumption: the data covers the state-actions π visits (no
importance weights here, so no propensities are needed, but Q is extrapolated where it does not).

Deviations: the paper solves each regression to convergence (one "iteration" per target); here
the target is copied every ``target_update_interval`` minibatch Adam steps, as in DQN.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from orlkit.data.dataset import TransitionDataset
from orlkit.nets import mlp
from orlkit.nets.optim import adam
from orlkit.ope.common import Policy, check_discrete, check_gamma, policy_probs


@dataclass(frozen=True)
class FQEResult:
    """The FQE estimate of V^π, the fitted Q (obs (B, *obs_shape) → (B, A)), and V̂(s_0) per episode."""

    estimate: float
    q: Callable[[np.ndarray], np.ndarray]
    start_values: np.ndarray  # (E,) Σ_a π(a|s_0) Q(s_0, a)
    final_loss: float  # mean squared TD error over the last 100 updates


def fqe_loss(q_data: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Squared error between Q(s, a_data) and the (already detached) target, both (B,)."""
    loss = F.mse_loss(q_data, target)
    return loss, {"loss/fqe": loss}


def fqe(dataset: TransitionDataset, pi: Policy, gamma: float, steps: int = 5000,
        hidden: Sequence[int] = (64, 64), lr: float = 1e-3, batch_size: int = 256,
        target_update_interval: int = 100, seed: int = 0, device: torch.device | str = "cpu",
        pi_obs: np.ndarray | None = None, pi_next: np.ndarray | None = None) -> FQEResult:
    """Fit Q^π by FQE and return the estimate of V^π from the dataset's episode starts.

    Args:
        steps: Adam updates on minibatches of ``batch_size`` transitions.
        hidden: Q-network widths; ``()`` for a linear (tabular, on one-hot observations) Q.
        target_update_interval: copy Q̄ ← Q every this many updates.
        pi_obs, pi_next: π(·|s) at ``dataset.obs`` / ``dataset.next_obs`` (N, A), if already computed.
    """
    check_discrete(dataset)
    check_gamma(gamma)
    device = torch.device(device)
    n, n_actions = len(dataset), dataset.n_actions
    if pi_obs is None:
        pi_obs = policy_probs(pi, dataset.obs, n_actions)
    if pi_next is None:
        pi_next = policy_probs(pi, dataset.next_obs, n_actions)

    def tensor(x: np.ndarray, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.as_tensor(np.asarray(x), device=device).to(dtype)

    obs = tensor(dataset.obs.reshape(n, -1))  # (N, obs_dim)
    next_obs = tensor(dataset.next_obs.reshape(n, -1))  # (N, obs_dim)
    actions = tensor(dataset.actions, torch.int64)  # (N,)
    rewards, not_terminal = tensor(dataset.rewards), tensor(~dataset.terminals)  # (N,), (N,)
    pi_next_t = tensor(pi_next)  # (N, A)

    with torch.random.fork_rng(devices=[]):  # initialisation from ``seed``; the global RNG is left alone
        torch.manual_seed(seed)
        q = mlp(obs.shape[1], n_actions, hidden).to(device)
    q_target = copy.deepcopy(q).requires_grad_(False)
    opt = adam(q.parameters(), lr=lr)
    generator = torch.Generator(device=device).manual_seed(seed)
    recent: list[torch.Tensor] = []
    for step in range(1, steps + 1):
        idx = torch.randint(0, n, (batch_size,), generator=generator, device=device)  # (B,)
        with torch.no_grad():
            v_next = (pi_next_t[idx] * q_target(next_obs[idx])).sum(-1)  # (B,)
            target = rewards[idx] + gamma * not_terminal[idx] * v_next  # (B,)
        q_data = q(obs[idx]).gather(-1, actions[idx, None]).squeeze(-1)  # (B,)
        loss, _ = fqe_loss(q_data, target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % target_update_interval == 0:
            q_target.load_state_dict(q.state_dict())
        if step > steps - 100:
            recent.append(loss.detach())
    q.eval()

    @torch.no_grad()
    def q_fn(x: np.ndarray) -> np.ndarray:
        x = tensor(np.asarray(x, dtype=np.float32).reshape(len(x), -1))  # (B, obs_dim)
        return torch.cat([q(chunk) for chunk in x.split(65_536)]).double().cpu().numpy()  # (B, A)

    starts = dataset.episode_bounds[0]
    v0 = (pi_obs[starts] * q_fn(dataset.obs[starts])).sum(-1)  # (E,)
    final_loss = float(torch.stack(recent).mean()) if recent else float("nan")
    return FQEResult(float(v0.mean()), q_fn, v0, final_loss)
