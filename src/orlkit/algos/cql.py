"""Conservative Q-learning for continuous actions (CQL(H); Kumar et al. 2020), on SAC.

Critic, per head i, with N samples from each of Unif[−1,1]^d, π(·|s) and π(·|s') (all at Q(s,·)):

    penalty_i = log Σ_{j=1..3N} exp( Q_i(s, a_j) − log ρ(a_j) ) − E_D [ Q_i(s, a) ]
                (ρ: the density each sample came from: 0.5^d, π(a|s), π(a'|s'), detached)
    L_Q(θ)    = Σ_i [ E_D (Q_i(s,a) − y)² + w·penalty_i ]      (fixed α = w), or with Lagrange:
                Σ_i [ E_D (Q_i − y)² + α'·(w·penalty_i − τ_gap) ],  α' ← argmax, clamped to [0, 1e6]
    y         = r + γ(1 − terminal)·min_i Q̄_i(s', a'), a' ~ π(·|s')      (deterministic backup)
                or, with ``max_backup = K``, max over K samples a'_k ~ π(·|s') of min_i Q̄_i(s', a'_k)
                (CORL's cql_max_target_backup, used for AntMaze; the official code's max_q_backup
                takes each critic's max over the samples, then the min: never lower than this)

Actor (SAC, the lecture's θ ← θ + η∇E[Q̂(s, π_θ(s))]): E_s[α·log π(a|s) − min_i Q_i(s, a)], a ~ π;
during the first ``bc_steps`` updates: E_s[α·log π(a|s) − log π(a_data|s)] (BC warm-up).

Defaults from the official rlkit code (min_q_version 3) and REFERENCES.md: N = 10, w = 5
(Gym), twin critics, critic lr 3e-4, actor lr 1e-4, batch 256, γ 0.99, τ 0.005, automatic
entropy tuning (target −|A|), 3×256 MLPs. Deviations: 2×256 MLPs by default (the benchmark
size of this project; set ``hidden=256,256,256`` for the paper's); BC warm-up 0 by default
(paper: 40k) so short runs train the real objective. The Bellman term is the plain mean squared
error, as in the official code and d3rlpy; the paper writes ½·E(Q − y)², which would double the
penalty's weight relative to it: w = 5 is the code's value for the code's form. Option not in the paper:
``critic_layer_norm`` (off by default) puts a layer norm after each hidden layer of the critics, which bounds how
far Q can extrapolate to actions far from the data (Ball et al. 2023).
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
from orlkit.data.dataset import Batch
from orlkit.nets.ensemble import Critic
from orlkit.nets.policies import TanhGaussianPolicy
from orlkit.nets.precision import grad_and_value

if TYPE_CHECKING:
    from orlkit.train.seeds import SeedStack


@dataclass
class CQLConfig:
    """Continuous CQL hyperparameters."""

    critic_lr: float = 3e-4  # Adam lr of the critics
    actor_lr: float = 1e-4  # Adam lr of the actor (CORL: 3e-5 on Gym)
    batch_size: int = 256  # transitions per update
    hidden: tuple[int, ...] = (256, 256)  # MLP widths
    gamma: float = 0.99  # γ, discount
    tau: float = 0.005  # Polyak rate of the target critics
    alpha: float = 5.0  # w, weight of the CQL penalty (α in the paper)
    n_action_samples: int = 10  # N samples from each of the three proposal distributions
    lagrange: bool = False  # tune α' to keep the penalty near target_gap
    target_gap: float = 5.0  # τ_gap of the Lagrangian variant
    bc_steps: int = 0  # BC warm-up updates of the actor (paper: 40k)
    target_entropy: float | None = None  # H̄ of SAC's temperature; None: −|A|
    max_backup: int = 0  # K: back up the max over K policy samples at s' (0: one sample)
    critic_layer_norm: bool = False  # layer norm after each hidden layer of the critics (not in the paper)
    normalize_obs: bool = False  # standardise observations by the data's mean and std (Algorithm.prepare)


def cql_penalty(q_samples: torch.Tensor, log_density: torch.Tensor, q_data: torch.Tensor
                ) -> tuple[torch.Tensor, dict]:
    """Importance-sampled logsumexp minus the data Q, per head, summed over heads.

    q_samples (E, B, 3N), log_density (B, 3N), q_data (E, B).
    """
    lse = torch.logsumexp(q_samples - log_density.unsqueeze(0), dim=-1)  # (E, B)
    gap = (lse - q_data).mean(1)  # (E,)
    return gap.sum(), {"stats/cql_gap": gap.mean(), "stats/logsumexp": lse.mean()}


class CQL(Algorithm):
    """CQL(H) for continuous actions (see the module docstring).

    Metrics: ``loss/q``, ``loss/cql_penalty``, ``loss/actor``, ``loss/alpha``, ``loss/alpha_prime``,
    ``stats/q``, ``stats/cql_gap``, ``stats/logsumexp``, ``stats/alpha``, ``stats/alpha_prime``.
    """

    name = "cql-continuous"
    config_class = CQLConfig
    continuous_only = True
    metric_keys: ClassVar[tuple[str, ...]] = (
        "loss/q", "stats/q", "stats/cql_gap", "stats/logsumexp", "loss/cql_penalty", "loss/alpha_prime",
        "stats/alpha_prime", "loss/actor", "loss/alpha", "stats/alpha")

    def __init__(self, config: CQLConfig, spec: DataSpec, device="cpu", seed: int = 0):
        super().__init__(config, spec, device, seed)
        self.critic = Critic(spec.obs_dim, spec.action_dim, config.hidden,
                             layer_norm=config.critic_layer_norm).to(self.device)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.actor = TanhGaussianPolicy(spec.obs_dim, spec.action_dim, config.hidden).to(self.device)
        self.scalars = torch.nn.ParameterDict({"log_alpha": torch.nn.Parameter(torch.zeros((), device=self.device))})
        if config.lagrange:
            self.scalars["log_alpha_prime"] = torch.nn.Parameter(torch.zeros((), device=self.device))
        self.target_entropy = (config.target_entropy if config.target_entropy is not None
                               else -float(spec.action_dim))
        self.modules = {"critic": self.critic, "critic_target": self.critic_target, "actor": self.actor,
                        "scalars": self.scalars}
        self.optimizers = {
            "critic": adam(self.critic.parameters(), lr=config.critic_lr),
            "actor": adam(self.actor.parameters(), lr=config.actor_lr),
            "alpha": adam([self.scalars["log_alpha"]], lr=config.actor_lr)}
        if config.lagrange:
            self.optimizers["alpha_prime"] = adam([self.scalars["log_alpha_prime"]], lr=config.critic_lr)


    def _proposals(self, obs: torch.Tensor, next_obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """3N actions per state and their log densities: (B, 3N, d), (B, 3N), all detached."""
        n, (b, d) = self.config.n_action_samples, (obs.shape[0], self.spec.action_dim)
        with torch.no_grad():
            uniform = torch.rand((b, n, d), generator=self.generator, device=self.device) * 2 - 1
            log_uniform = torch.full((b, n), d * math.log(0.5), device=self.device)
            # π(·|s) and π(·|s′) from one forward pass of the 2B states, N samples each
            a_pi, logp_pi = self.actor.sample(torch.cat([obs, next_obs]), self.generator, n)  # (2B, N, d), (2B, N)
        actions = torch.cat([uniform, a_pi[:b], a_pi[b:]], 1)  # (B, 3N, d)
        log_density = torch.cat([log_uniform, logp_pi[:b], logp_pi[b:]], 1)  # (B, 3N)
        return actions, log_density

    def update(self, batch: Batch) -> dict[str, float]:
        cfg = self.config
        alpha = self.scalars["log_alpha"].exp().detach()
        with torch.no_grad():
            next_a, _ = self.actor.sample(batch.next_obs, self.generator, cfg.max_backup or None)  # (B, [K,] d)
            next_q = self.critic_target(batch.next_obs, next_a).min(0).values  # (B,) or (B, K)
            next_q = next_q.max(-1).values if cfg.max_backup else next_q
            target = batch.rewards + cfg.gamma * (1.0 - batch.terminals.float()) * next_q
        q_data = self.critic(batch.obs, batch.actions)  # (E, B)
        bellman = (q_data - target.unsqueeze(0)).pow(2).mean(1).sum()
        actions, log_density = self._proposals(batch.obs, batch.next_obs)
        penalty, m_cql = cql_penalty(self.critic(batch.obs, actions), log_density, q_data)
        if cfg.lagrange:
            alpha_prime = self.scalars["log_alpha_prime"].exp().clamp(0.0, 1e6)
            n_heads = q_data.shape[0]
            conservative = alpha_prime.detach() * (cfg.alpha * penalty - n_heads * cfg.target_gap)
            alpha_prime_loss = -alpha_prime * (cfg.alpha * penalty.detach() - n_heads * cfg.target_gap)
            self._step("alpha_prime", alpha_prime_loss)
        else:
            alpha_prime = torch.ones((), device=self.device)
            conservative = cfg.alpha * penalty
            alpha_prime_loss = torch.zeros((), device=self.device)
        q_loss = bellman + conservative
        self._step("critic", q_loss)

        a, logp = self.actor.sample(batch.obs, self.generator)
        if self.n_updates < cfg.bc_steps:
            actor_loss = (alpha * logp - self.actor.log_prob(batch.obs, batch.actions)).mean()
        else:
            actor_loss = (alpha * logp - self.critic(batch.obs, a).min(0).values).mean()
        self._step("actor", actor_loss)
        alpha_loss = -(self.scalars["log_alpha"] * (logp.detach() + self.target_entropy)).mean()
        self._step("alpha", alpha_loss)
        polyak_update(self.critic_target, self.critic, cfg.tau)
        self.n_updates += 1
        return to_floats({"loss/q": bellman, "stats/q": q_data.mean(), **m_cql, "loss/cql_penalty": penalty,
                          "loss/alpha_prime": alpha_prime_loss, "stats/alpha_prime": alpha_prime,
                          "loss/actor": actor_loss, "loss/alpha": alpha_loss, "stats/alpha": alpha})

    def seed_inputs(self, stack: SeedStack, batch: Batch) -> dict[str, Any]:
        """Every random draw of the update, each seed's from its own generator in ``update``'s order (the noise of the
        action at s', the uniform proposals, the noise of the policy proposals at s and s', the noise of the actor's
        sample), and whether the actor is still in its BC warm-up."""
        cfg, (b, d) = self.config, batch.actions.shape[1:]  # batch fields (S, B, ...)
        n = cfg.n_action_samples
        return {"next_noise": stack.randn((b, cfg.max_backup, d) if cfg.max_backup else (b, d)),
                "uniform": stack.rand((b, n, d)),
                "proposal_noise": stack.randn((2 * b, n, d)),
                "actor_noise": stack.randn((b, d)),
                "bc_phase": self.n_updates < cfg.bc_steps}

    def update_seeds(self, stack: SeedStack, batch: Batch, next_noise: torch.Tensor, uniform: torch.Tensor,
                     proposal_noise: torch.Tensor, actor_noise: torch.Tensor, bc_phase: bool
                     ) -> dict[str, torch.Tensor]:
        """:meth:`update` for S seeds at once (orlkit.train.seeds): the same losses and steps, batch fields
        (S, B, ...); the random draws and ``bc_phase`` from :meth:`seed_inputs`."""
        cfg, T = self.config, stack.tensors
        b, d = batch.actions.shape[1:]
        critic, critic_target = stack.caller("critic"), stack.caller("critic_target")
        sample, log_prob = stack.caller("actor", "sample_from_noise"), stack.caller("actor", "log_prob")
        alpha = T["scalars"]["log_alpha"].exp()  # (S,), before this update's steps
        next_a, _ = vmap(sample)(T["actor"], batch.next_obs, next_noise)
        next_q = vmap(lambda p, s, a: critic_target(p, s, a).min(0).values)(T["critic_target"], batch.next_obs,
                                                                            next_a)  # (S, B) or (S, B, K)
        next_q = next_q.max(-1).values if cfg.max_backup else next_q
        target = batch.rewards + cfg.gamma * (1.0 - batch.terminals.float()) * next_q
        uniform = uniform * 2 - 1  # (S, B, N, d)
        a_pi, logp_pi = vmap(sample)(T["actor"], torch.cat([batch.obs, batch.next_obs], 1),
                                     proposal_noise)  # (S, 2B, N, d), (S, 2B, N)
        proposals = torch.cat([uniform, a_pi[:, :b], a_pi[:, b:]], 2)  # (S, B, 3N, d)
        log_density = torch.cat([torch.full(uniform.shape[:3], d * math.log(0.5), device=uniform.device),
                                 logp_pi[:, :b], logp_pi[:, b:]], 2)  # (S, B, 3N)
        if cfg.lagrange:
            alpha_prime = T["scalars"]["log_alpha_prime"].exp().clamp(0.0, 1e6)  # (S,), before its step
        else:
            alpha_prime = torch.ones(stack.n_seeds, device=uniform.device)

        def critic_objective(p, obs, actions, target, proposals, log_density, alpha_prime):
            q_data = critic(p, obs, actions)  # (E, B)
            bellman = (q_data - target.unsqueeze(0)).pow(2).mean(1).sum()
            penalty, m_cql = cql_penalty(critic(p, obs, proposals), log_density, q_data)
            gap = q_data.shape[0] * cfg.target_gap
            conservative = alpha_prime * (cfg.alpha * penalty - gap) if cfg.lagrange else cfg.alpha * penalty
            return bellman + conservative, {"loss/q": bellman, "stats/q": q_data.mean(), **m_cql,
                                            "loss/cql_penalty": penalty}

        grads, (_, m_q) = vmap(grad_and_value(critic_objective, has_aux=True))(
            T["critic"], batch.obs, batch.actions, target, proposals, log_density, alpha_prime)
        if cfg.lagrange:
            n_heads = self.critic.net.ensemble_size

            def alpha_prime_objective(p, penalty):
                ap = p["log_alpha_prime"].exp().clamp(0.0, 1e6)
                return -ap * (cfg.alpha * penalty - n_heads * cfg.target_gap)

            g_ap, alpha_prime_loss = vmap(grad_and_value(alpha_prime_objective))(T["scalars"], m_q["loss/cql_penalty"])
            stack.step("alpha_prime", {"log_alpha_prime": g_ap["log_alpha_prime"]})
        else:
            alpha_prime_loss = torch.zeros(stack.n_seeds, device=uniform.device)
        stack.step("critic", grads)

        def actor_objective(p, critic_p, obs, actions, noise, alpha):
            a, logp = sample(p, obs, noise)
            fit = log_prob(p, obs, actions) if bc_phase else critic(critic_p, obs, a).min(0).values
            return (alpha * logp - fit).mean(), logp

        grads, (actor_loss, logp) = vmap(grad_and_value(actor_objective, has_aux=True))(
            T["actor"], T["critic"], batch.obs, batch.actions, actor_noise, alpha)
        stack.step("actor", grads)

        def alpha_objective(p, logp):
            return -(p["log_alpha"] * (logp + self.target_entropy)).mean()

        g_alpha, alpha_loss = vmap(grad_and_value(alpha_objective))(T["scalars"], logp)
        stack.step("alpha", {"log_alpha": g_alpha["log_alpha"]})
        stack.polyak("critic_target", "critic", cfg.tau)
        return {**m_q, "loss/alpha_prime": alpha_prime_loss, "stats/alpha_prime": alpha_prime,
                "loss/actor": actor_loss, "loss/alpha": alpha_loss, "stats/alpha": alpha}

    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        return self._policy_act(self.actor, obs, deterministic)
