"""Adversarial rewards from demonstrations: GAIL (Ho & Ermon 2016) and AIRL (Fu, Luo & Levine 2018).

A discriminator learns to tell the expert's transitions from the policy's; the policy is rewarded
for transitions that look like the expert's, and the discriminator is retrained as the policy
changes (the lecture's "this is also how GANs work"). Here D is the probability that a transition
came from the *expert*; both discriminators are trained with the same loss on logits ℓ::

    L_D = −½ E_{expert}[log σ(ℓ)] − ½ E_{π}[log(1 − σ(ℓ))]        (``disc_loss``)

GAIL
    ℓ = ℓ_ω(s, a), an MLP on [s, a];  D(s, a) = σ(ℓ).
    Reward r(s, a) = −log(1 − D(s, a)) = softplus(ℓ(s, a)) > 0: larger where the pair looks like
    the expert's. (Ho & Ermon write D for the probability of the *policy* and use the cost log D;
    with D flipped to mean "expert", their cost becomes this reward, as in the ``imitation`` library.)

AIRL
    f(s, a, s′) = g_θ(s) + γ·(1 − terminal)·h_φ(s′) − h_φ(s)     (g_θ(s, a) with ``state_only=False``)
    D(s, a, s′) = exp f / (exp f + π(a|s)),  i.e. the logit ℓ = f − log π(a|s).
    Reward r = log D − log(1 − D) = f − log π(a|s). ``reward(obs, actions, next_obs)`` returns f:
    an entropy-regularised learner (SAC) adds the −α·log π term itself; pass ``log_pi`` to get
    f − log π for a learner that does not. ``disentangled_reward`` returns g alone, the part that
    transfers to new dynamics when ``state_only``.

What the RL loop calls::

    disc = make_discriminator(obs_dim, action_dim, AdversarialConfig(kind="airl"), device)
    every round: disc.update(expert_batch, policy_batch, policy_logp_fn=actor.log_prob)   # AIRL needs it
                 rewards = disc.reward(obs, actions, next_obs)

``expert_batch`` / ``policy_batch`` are :class:`orlkit.data.dataset.Batch` objects (or mappings)
with ``obs`` (B, obs_dim), ``actions`` (B, action_dim) float, ``next_obs`` and optionally
``terminals`` (B,); ``policy_logp_fn(obs, actions) -> (B,)`` is log π(a|s) of the *given* actions
under the current policy (evaluated without gradients, for expert and policy batches alike).
Discrete actions go in one-hot.

Deviations
    * Only the discriminator lives here; the policy optimiser (TRPO in both papers) is the RL loop's.
    * Optional zero-centred gradient penalty c_gp·E‖∇_x ℓ(x̂)‖² at interpolates x̂ = εx_E + (1 − ε)x_π,
      ε ~ U(0, 1) (for AIRL on f, the learned part of the logit); off by default.
    * Network sizes follow the rest of orlkit (2×256), not the papers'.
    * Time-limit truncations (``timeouts``) are not terminals: AIRL's shaping keeps γh(s′) there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from orlkit.errors import OrlkitError
from orlkit.nets.mlp import mlp
from orlkit.nets.optim import adam, load_optimizer_state
from orlkit.rewards.base import read_reward_checkpoint, write_reward_checkpoint
from orlkit.rewards.goal_classifier import gradient_penalty
from orlkit.train.checkpoint import module_tensors, optimizer_tensors, select

KINDS = ("gail", "airl")
LogProbFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class AdversarialConfig:
    """Discriminator hyperparameters for GAIL and AIRL."""

    kind: str = "gail"  # "gail" (D on (s, a)) or "airl" (D = exp f / (exp f + π))
    hidden: tuple[int, ...] = (256, 256)  # widths of ℓ_ω (GAIL) and of g_θ and h_φ (AIRL)
    lr: float = 3e-4  # Adam learning rate of the discriminator
    batch_size: int = 256  # expert transitions and policy transitions per discriminator step (each)
    grad_penalty: float = 0.0  # c_gp, zero-centred gradient penalty at expert/policy interpolates
    gamma: float = 0.99  # γ of AIRL's shaping γ·h(s′) − h(s)
    state_only: bool = True  # AIRL: reward term g_θ(s) (disentangled) instead of g_θ(s, a)
    seed: int = 0  # network initialisation and the penalty's interpolation weights


def disc_loss(expert_logits: torch.Tensor, policy_logits: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """−½ E_E[log σ(ℓ)] − ½ E_π[log(1 − σ(ℓ))] on logits, i.e. ½(softplus(−ℓ_E) + softplus(ℓ_π))."""
    loss = 0.5 * (F.softplus(-expert_logits).mean() + F.softplus(policy_logits).mean())
    with torch.no_grad():
        acc = 0.5 * ((expert_logits > 0).float().mean() + (policy_logits <= 0).float().mean())
    return loss, {"loss/disc": loss, "stats/d_expert": torch.sigmoid(expert_logits).mean(),
                  "stats/d_policy": torch.sigmoid(policy_logits).mean(), "stats/accuracy": acc,
                  "stats/logit_expert": expert_logits.mean(), "stats/logit_policy": policy_logits.mean()}


def _field(batch: Any, name: str, required: bool = True) -> torch.Tensor | None:
    value = batch.get(name) if isinstance(batch, Mapping) else getattr(batch, name, None)
    if value is None and required:
        raise OrlkitError(f"discriminator batch: field '{name}' is missing")
    return value


class _Discriminator:
    """What GAIL and AIRL share: building, the update step, save and load."""

    kind: ClassVar[str]

    def __init__(self, obs_dim: int, action_dim: int, config: AdversarialConfig | None = None,
                 device: torch.device | str = "cpu"):
        config = config or AdversarialConfig(kind=self.kind)
        if config.kind != self.kind:
            raise OrlkitError(f"{type(self).__name__} needs AdversarialConfig(kind='{self.kind}'), got {config.kind!r}")
        if obs_dim < 1 or action_dim < 1:
            raise OrlkitError(f"{type(self).__name__}: obs_dim and action_dim must be positive, got {obs_dim}, "
                              f"{action_dim}")
        if config.grad_penalty < 0 or not 0.0 <= config.gamma <= 1.0:
            raise OrlkitError(f"AdversarialConfig: need grad_penalty >= 0 and gamma in [0, 1], got "
                              f"{config.grad_penalty}, {config.gamma}")
        self.config, self.obs_dim, self.action_dim = config, obs_dim, action_dim
        self.device = torch.device(device)
        with torch.random.fork_rng(devices=[]):  # seeded initialisation without touching the global RNG
            torch.manual_seed(config.seed)
            self.modules: dict[str, nn.Module] = {k: m.to(self.device) for k, m in self._build().items()}
        params = [p for m in self.modules.values() for p in m.parameters()]
        self.optimizer = adam(params, lr=config.lr)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(config.seed + 1)
        self.n_updates = 0

    def _build(self) -> dict[str, nn.Module]:
        raise NotImplementedError

    def score(self, obs: torch.Tensor, actions: torch.Tensor, next_obs: torch.Tensor,
              terminals: torch.Tensor | None = None) -> torch.Tensor:
        """The learned part of the logit (B,): ℓ_ω(s, a) for GAIL, f(s, a, s′) for AIRL."""
        raise NotImplementedError

    def _tensors(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        out = []
        for name, width in (("obs", self.obs_dim), ("actions", self.action_dim), ("next_obs", self.obs_dim)):
            t = torch.as_tensor(_field(batch, name), dtype=torch.float32, device=self.device)
            if t.ndim != 2 or t.shape[1] != width:
                raise OrlkitError(f"discriminator batch: '{name}' must have shape (B, {width}), got {tuple(t.shape)}")
            out.append(t)
        if not out[0].shape[0] == out[1].shape[0] == out[2].shape[0]:
            raise OrlkitError(f"discriminator batch: obs, actions and next_obs have {[len(t) for t in out]} rows")
        term = _field(batch, "terminals", required=False)
        return out[0], out[1], out[2], None if term is None else torch.as_tensor(term, device=self.device).float()

    def _log_pis(self, expert: tuple, policy: tuple, policy_logp_fn: LogProbFn | None
                 ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        return None, None

    def update(self, expert_batch: Any, policy_batch: Any, policy_logp_fn: LogProbFn | None = None
               ) -> dict[str, float]:
        """One Adam step of ``disc_loss`` on an expert batch and a policy batch (module doc).

        Returns ``loss/disc``, ``stats/d_expert``, ``stats/d_policy`` (mean D), ``stats/accuracy``
        (balanced, threshold ½), ``stats/logit_expert``, ``stats/logit_policy``, and
        ``loss/grad_penalty`` / ``stats/grad_norm`` when the gradient penalty is on.
        """
        e, p = self._tensors(expert_batch), self._tensors(policy_batch)
        lp_e, lp_p = self._log_pis(e, p, policy_logp_fn)
        expert_logits = self.score(*e) - (lp_e if lp_e is not None else 0.0)  # (B_E,)
        policy_logits = self.score(*p) - (lp_p if lp_p is not None else 0.0)  # (B_π,)
        loss, metrics = disc_loss(expert_logits, policy_logits)
        if self.config.grad_penalty > 0:
            n = min(len(e[0]), len(p[0]))
            eps = torch.rand(n, 1, generator=self.generator, device=self.device)  # (n, 1)
            mixed = [(eps * x_e[:n] + (1 - eps) * x_p[:n]).requires_grad_(True)  # x̂: s, a, s′, each (n, ·)
                     for x_e, x_p in zip(e[:3], p[:3], strict=True)]
            gp, gp_metrics = gradient_penalty(self.score(*mixed), mixed)
            loss = loss + self.config.grad_penalty * gp
            metrics.update(gp_metrics)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.n_updates += 1
        return {k: float(v.detach()) for k, v in metrics.items()}

    # ------------------------------------------------------------------ save / load
    def save(self, path: str | Path) -> Path:
        """Weights, Adam state and the generator as ``path``.safetensors + ``path``.json (atomic)."""
        tensors = {**{k: v for name, m in self.modules.items() for k, v in module_tensors(name, m).items()},
                   **optimizer_tensors("optimizer", self.optimizer), "rng.generator": self.generator.get_state()}
        meta = {"obs_dim": self.obs_dim, "action_dim": self.action_dim, "config": dataclasses.asdict(self.config),
                "n_updates": self.n_updates, "param_groups": self.optimizer.state_dict()["param_groups"]}
        return write_reward_checkpoint(path, self.kind, tensors, meta)

    @classmethod
    def load(cls, path: str | Path, device: torch.device | str = "cpu") -> _Discriminator:
        """The discriminator saved at ``path`` (it must be of this class's kind)."""
        tensors, meta = read_reward_checkpoint(path, cls.kind)
        cfg = dict(meta["config"], hidden=tuple(meta["config"]["hidden"]))
        disc = cls(int(meta["obs_dim"]), int(meta["action_dim"]), AdversarialConfig(**cfg), device)
        for name, module in disc.modules.items():
            module.load_state_dict(select(tensors, f"{name}."))
        load_optimizer_state(disc.optimizer, select(tensors, "optimizer."), meta["param_groups"])
        disc.generator.set_state(tensors["rng.generator"])
        disc.n_updates = int(meta["n_updates"])
        return disc


class GAILDiscriminator(_Discriminator):
    """D(s, a) = σ(ℓ_ω(s, a)) (probability of the expert); reward softplus(ℓ) = −log(1 − D)."""

    kind = "gail"

    def _build(self) -> dict[str, nn.Module]:
        return {"net": mlp(self.obs_dim + self.action_dim, 1, self.config.hidden)}

    def score(self, obs, actions, next_obs, terminals=None) -> torch.Tensor:
        return self.modules["net"](torch.cat([obs, actions], dim=-1)).squeeze(-1)  # (B,)

    @torch.no_grad()
    def reward(self, obs: torch.Tensor, actions: torch.Tensor, next_obs: torch.Tensor,
               terminals: torch.Tensor | None = None) -> torch.Tensor:
        """r(s, a) = −log(1 − D(s, a)) = softplus(ℓ(s, a)) (B,); next_obs and terminals are ignored."""
        o, a, n, _ = self._tensors({"obs": obs, "actions": actions, "next_obs": next_obs})
        return F.softplus(self.score(o, a, n))


class AIRLDiscriminator(_Discriminator):
    """f(s, a, s′) = g(s[, a]) + γ(1 − terminal)h(s′) − h(s); D = exp f / (exp f + π(a|s))."""

    kind = "airl"

    def _build(self) -> dict[str, nn.Module]:
        g_in = self.obs_dim if self.config.state_only else self.obs_dim + self.action_dim
        return {"g": mlp(g_in, 1, self.config.hidden), "h": mlp(self.obs_dim, 1, self.config.hidden)}

    def g(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        x = obs if self.config.state_only else torch.cat([obs, actions], dim=-1)
        return self.modules["g"](x).squeeze(-1)  # (B,)

    def score(self, obs, actions, next_obs, terminals=None) -> torch.Tensor:
        """f(s, a, s′) (B,)."""
        h = self.modules["h"]
        not_done = 1.0 if terminals is None else 1.0 - terminals
        return self.g(obs, actions) + self.config.gamma * not_done * h(next_obs).squeeze(-1) - h(obs).squeeze(-1)

    def _log_pis(self, expert, policy, policy_logp_fn):
        if policy_logp_fn is None:
            raise OrlkitError("AIRLDiscriminator.update needs policy_logp_fn(obs, actions) -> log π(a|s) (B,), "
                              "e.g. actor.log_prob: D = exp f / (exp f + π(a|s))")
        out = []
        with torch.no_grad():
            for obs, actions, *_ in (expert, policy):
                lp = policy_logp_fn(obs, actions).reshape(-1).float()
                if lp.shape != (len(obs),):
                    raise OrlkitError(f"policy_logp_fn returned shape {tuple(lp.shape)}, expected ({len(obs)},)")
                out.append(lp)
        return out[0], out[1]

    @torch.no_grad()
    def reward(self, obs: torch.Tensor, actions: torch.Tensor, next_obs: torch.Tensor,
               terminals: torch.Tensor | None = None, log_pi: torch.Tensor | None = None) -> torch.Tensor:
        """f(s, a, s′) (B,), or f − log π(a|s) = log D − log(1 − D) when ``log_pi`` (B,) is given."""
        o, a, n, t = self._tensors({"obs": obs, "actions": actions, "next_obs": next_obs, "terminals": terminals})
        f = self.score(o, a, n, t)
        return f if log_pi is None else f - torch.as_tensor(log_pi, device=self.device).reshape(-1)

    @torch.no_grad()
    def disentangled_reward(self, obs: torch.Tensor, actions: torch.Tensor | None = None) -> torch.Tensor:
        """g(s) (or g(s, a) without ``state_only``) (B,): the reward without the shaping terms."""
        o = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        if actions is None:
            if not self.config.state_only:
                raise OrlkitError("disentangled_reward needs actions when state_only=False")
            actions = torch.zeros(len(o), self.action_dim, device=self.device)
        return self.g(o, torch.as_tensor(actions, dtype=torch.float32, device=self.device))


def make_discriminator(obs_dim: int, action_dim: int, config: AdversarialConfig | None = None,
                       device: torch.device | str = "cpu") -> GAILDiscriminator | AIRLDiscriminator:
    """The discriminator of ``config.kind``."""
    config = config or AdversarialConfig()
    if config.kind not in KINDS:
        raise OrlkitError(f"AdversarialConfig.kind must be one of {KINDS}, got {config.kind!r}")
    cls = GAILDiscriminator if config.kind == "gail" else AIRLDiscriminator
    return cls(obs_dim, action_dim, config, device)


def load_discriminator(path: str | Path, device: torch.device | str = "cpu") -> GAILDiscriminator | AIRLDiscriminator:
    """A saved GAIL or AIRL discriminator, whichever ``path`` holds."""
    from orlkit.train.checkpoint import read_checkpoint

    kind = read_checkpoint(path)[1].get("reward_model")
    if kind not in KINDS:
        raise OrlkitError(f"{Path(path).with_suffix('.json')}: not a GAIL/AIRL discriminator (holds {kind!r})")
    return (GAILDiscriminator if kind == "gail" else AIRLDiscriminator).load(path, device)
