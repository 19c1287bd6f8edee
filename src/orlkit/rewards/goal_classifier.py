"""Goal classifiers: a reward from examples of success (VICE, Fu et al. 2018; VICE-RAQ, Singh et al. 2019).

A classifier f_θ(s) (a logit) learns to tell success states D₊ from other states D₋; its logit is
the reward. Trained once and frozen, the policy exploits it: it seeks states the classifier was
never shown and happens to score high. VICE keeps training it during RL with the states the policy
visits added to D₋, so a state the policy keeps visiting cannot stay rewarding unless it looks like
D₊. Balanced batches (half D₊, half D₋) keep p ≥ ½ on true successes even when the policy visits
them and they land in D₋ as well.

Objective (balanced binary cross-entropy on logits, ``classifier_loss``)::

    L(θ) = −½ E_{s~D₊}[log σ(ℓ(s))] − ½ E_{s~D₋}[log(1 − σ(ℓ(s)))]   (+ c_gp · E‖∇_s f_θ(s)‖²)

    ℓ(s) = f_θ(s)                      plain classifier
    ℓ(s) = f_θ(s) − log π(a|s), a~π(·|s)   VICE (``use_vice_pi``): D = e^f / (e^f + π), the softmax
                                           cross-entropy over [log π(a|s), f(s)] of the official code

Regularisers: mixup (Zhang et al. 2018) mixes every positive with a negative,
x̃ = λ·x₊ + (1 − λ)·x₋, ỹ = λ, λ ~ Beta(α, α); label smoothing y ← y(1 − ε) + ε/2; a zero-centred
gradient penalty on the batch inputs; weight decay.

Reward: r(s, a, s′) = f_θ(s′), the logit of p(success | s′) — the state the transition *reaches*
(``score_next_obs=True``, the default); ``score_next_obs=False`` scores s as the official code does.

RAQ (reward-learning-rl's ``RAQ``/``VICERAQ``): every k epochs the RL loop calls
:meth:`GoalClassifier.active_query` with the states of its last k epochs; the one with the highest
reward is labelled by a teacher (a person or ``is_success``) and joins D₊ or D₋.

What the online RL loop calls (VICE)::

    clf = GoalClassifier(obs_dim, GoalClassifierConfig(), device)
    clf.add_positives(success_examples); clf.add_negatives(failure_examples)   # or train_frozen(...)
    every epoch (1000 env steps):
        clf.update(states_visited_this_epoch[, log_pi_fn])        # D₋ ∪= visited; 10 balanced steps
        relabel the replay buffer / rewards with clf.reward(obs, actions, next_obs)
        every k epochs (RAQ): clf.active_query(states_of_last_k_epochs, teacher_fn)

Defaults (REFERENCES.md, avisingh599/reward-learning-rl): 2×256 MLP, Adam 1e-4, batches of 128
positives + 128 negatives, mixup α = 1.0, 10 classifier steps per epoch, reward = logit.

Deviations
    * Mixup pairs every positive with a negative (and every negative with a positive), so every
      mixed label is λ ∈ (0, 1); the official ``mixup`` mixes the whole batch with a shuffled copy of
      itself, so a quarter of its pairs are positive–positive and a quarter negative–negative.
    * The reward scores s′ by default (the official code scores s); see ``score_next_obs``.
    * The official VICE/RAQ use the whole replay buffer as D₋; here D₋ holds what the caller adds
      (failure examples and the visited states passed to :meth:`GoalClassifier.update`), no cap.
    * Optional extras not in the papers: gradient penalty, weight decay, label smoothing (all off).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from orlkit.errors import OrlkitError
from orlkit.nets.mlp import mlp
from orlkit.nets.optim import adam, load_optimizer_state
from orlkit.rewards.base import read_reward_checkpoint, write_reward_checkpoint
from orlkit.train.checkpoint import module_tensors, optimizer_tensors, select


@dataclass
class GoalClassifierConfig:
    """Goal-classifier hyperparameters (VICE-RAQ defaults)."""

    hidden: tuple[int, ...] = (256, 256)  # widths of f_θ's MLP
    lr: float = 1e-4  # Adam learning rate
    batch_size: int = 256  # states per step: exactly half from D₊, half from D₋ (128 + 128)
    mixup_alpha: float = 1.0  # α of λ ~ Beta(α, α); 0 turns mixup off
    grad_penalty: float = 0.0  # c_gp, weight of E‖∇_s f_θ(s)‖² at the (mixed) batch inputs
    weight_decay: float = 0.0  # Adam weight decay
    label_smoothing: float = 0.0  # ε: labels y(1 − ε) + ε/2
    steps_per_update: int = 10  # classifier steps per call of update() (one RL epoch, 1000 env steps)
    use_vice_pi: bool = False  # VICE: logit f(s) − log π(a|s), a ~ π(·|s); update() then needs log_pi_fn
    score_next_obs: bool = True  # reward(obs, actions, next_obs) scores next_obs (else obs)
    query_every: int = 5  # k: the RL loop calls active_query every k epochs (RAQ; 0 = never)
    seed: int = 0  # network initialisation, batch sampling and mixup's λ


# ---------------------------------------------------------------------- losses (pure)
def smooth_labels(labels: torch.Tensor, label_smoothing: float) -> torch.Tensor:
    """y(1 − ε) + ε/2: hard labels 1/0 become 1 − ε/2 and ε/2."""
    return labels * (1.0 - label_smoothing) + 0.5 * label_smoothing


def classifier_loss(logits: torch.Tensor, labels: torch.Tensor, label_smoothing: float = 0.0
                    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Binary cross-entropy on logits (B,) against soft labels (B,) in [0, 1], after smoothing."""
    if logits.shape != labels.shape:
        raise OrlkitError(f"classifier_loss: logits {tuple(logits.shape)} and labels {tuple(labels.shape)} differ")
    targets = smooth_labels(labels, label_smoothing)
    loss = F.binary_cross_entropy_with_logits(logits, targets)
    return loss, {"loss/classifier": loss}


def mixup(x_pos: np.ndarray, x_neg: np.ndarray, alpha: float, generator: np.random.Generator
          ) -> tuple[np.ndarray, np.ndarray]:
    """Mix every positive with a negative: inputs (2n, d) and labels (2n,) in (0, 1).

    Row i < n mixes ``x_pos[i]`` with ``x_neg[σ(i)]``, row n + i mixes ``x_pos[τ(i)]`` with ``x_neg[i]``
    (σ, τ random permutations), so every example is used twice. With λ ~ Beta(α, α) per row::

        x̃ = λ·x₊ + (1 − λ)·x₋,   ỹ = λ·1 + (1 − λ)·0 = λ.

    ``alpha = 0`` turns mixing off: ``[x_pos; x_neg]`` with labels ``[1…; 0…]``.
    """
    if x_pos.shape != x_neg.shape or x_pos.ndim != 2:
        raise OrlkitError(f"mixup: x_pos {x_pos.shape} and x_neg {x_neg.shape} must both be (n, obs_dim)")
    n = len(x_pos)
    if alpha == 0:
        return (np.concatenate([x_pos, x_neg]).astype(np.float32),
                np.concatenate([np.ones(n), np.zeros(n)]).astype(np.float32))
    if alpha < 0:
        raise OrlkitError(f"mixup: alpha must be >= 0, got {alpha}")
    pos_idx = np.concatenate([np.arange(n), generator.permutation(n)])  # (2n,)
    neg_idx = np.concatenate([generator.permutation(n), np.arange(n)])  # (2n,)
    lam = generator.beta(alpha, alpha, size=2 * n)  # (2n,)
    lam = np.clip(lam, 1e-6, 1 - 1e-6)  # a Beta draw may round to exactly 0 or 1 for small α
    x = lam[:, None] * x_pos[pos_idx] + (1.0 - lam[:, None]) * x_neg[neg_idx]  # (2n, d)
    return x.astype(np.float32), lam.astype(np.float32)


def gradient_penalty(outputs: torch.Tensor, inputs: torch.Tensor | Sequence[torch.Tensor]
                     ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Zero-centred gradient penalty E_b[Σ_i ‖∇_{x_i} out_b‖²] of outputs (B,) w.r.t. inputs (each (B, ·)).

    The inputs must require grad and ``outputs`` must be computed from them (the graph is kept, so
    the penalty can be minimised); an input the outputs do not depend on adds 0.
    """
    inputs = [inputs] if torch.is_tensor(inputs) else list(inputs)
    grads = torch.autograd.grad(outputs.sum(), inputs, create_graph=True, allow_unused=True)  # each (B, ·)
    sq = sum(g.pow(2).reshape(len(g), -1).sum(-1) for g in grads if g is not None)  # (B,)
    penalty = sq.mean()
    return penalty, {"loss/grad_penalty": penalty, "stats/grad_norm": sq.sqrt().mean()}


# ---------------------------------------------------------------------- data
class _Pool:
    """A growable (N, obs_dim) float32 array."""

    def __init__(self, obs_dim: int, name: str):
        self.name, self.obs_dim = name, obs_dim
        self._data = np.empty((0, obs_dim), dtype=np.float32)
        self.size = 0

    @property
    def data(self) -> np.ndarray:
        return self._data[:self.size]

    def add(self, states: Any) -> None:
        x = states.detach().cpu().numpy() if torch.is_tensor(states) else np.asarray(states)
        if x.ndim == 1 and x.shape[0] == self.obs_dim:
            x = x[None]
        if x.ndim != 2 or x.shape[1] != self.obs_dim:
            raise OrlkitError(f"{self.name}: states must have shape (N, {self.obs_dim}), got {x.shape}")
        x = x.astype(np.float32)
        bad = np.flatnonzero(~np.isfinite(x).all(axis=1))
        if len(bad):
            raise OrlkitError(f"{self.name}: row {int(bad[0])} of the added states is not finite: {x[bad[0]]}")
        if self.size + len(x) > len(self._data):
            grown = np.empty((max(2 * len(self._data), self.size + len(x), 1024), self.obs_dim), np.float32)
            grown[:self.size] = self.data
            self._data = grown
        self._data[self.size:self.size + len(x)] = x
        self.size += len(x)


class BalancedSampler:
    """Two pools of states, D₊ (positives) and D₋ (negatives); every batch is exactly half of each.

    Each half is drawn uniformly with replacement from its own pool, whatever the pools' sizes
    (D₋ grows by a whole epoch of visited states per update, D₊ by one RAQ query at most).
    """

    def __init__(self, obs_dim: int, rng: np.random.Generator):
        self.rng = rng
        self.positives = _Pool(obs_dim, "positives (D+)")
        self.negatives = _Pool(obs_dim, "negatives (D-)")

    def add_positives(self, states: Any) -> None:
        self.positives.add(states)

    def add_negatives(self, states: Any) -> None:
        self.negatives.add(states)

    def sample(self, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        """(x_pos, x_neg), each (batch_size // 2, obs_dim) float32."""
        if batch_size < 2 or batch_size % 2:
            raise OrlkitError(f"BalancedSampler: batch_size must be even and >= 2, got {batch_size}")
        for pool in (self.positives, self.negatives):
            if pool.size == 0:
                raise OrlkitError(f"BalancedSampler: the pool of {pool.name} is empty; add states before training")
        half = batch_size // 2
        pos = self.positives.data[self.rng.integers(self.positives.size, size=half)]  # (half, d)
        neg = self.negatives.data[self.rng.integers(self.negatives.size, size=half)]  # (half, d)
        return pos, neg


@dataclass
class QueryResult:
    """One RAQ query: the chosen candidate, its reward before the query, and the teacher's label."""

    index: int  # row of the chosen state in the candidates
    state: np.ndarray  # (obs_dim,)
    logit: float  # f_θ(state) when it was chosen
    label: bool  # the teacher's answer: True → D₊, False → D₋


# ---------------------------------------------------------------------- the classifier
class GoalClassifier:
    """f_θ(s): the logit of p(success | s), trained on balanced batches; its logit is the reward.

    Args:
        obs_dim: length of the (flat) states it classifies.
        config: hyperparameters (:class:`GoalClassifierConfig`).
        device: where the network lives.

    ``update`` and ``train_frozen`` return ``loss/classifier``, ``stats/p_pos`` / ``stats/p_neg``
    (mean σ(f) on the unmixed positives / negatives of the batches), ``stats/logit_pos`` /
    ``stats/logit_neg``, ``stats/accuracy`` (balanced, threshold ½), ``stats/n_pos`` / ``stats/n_neg``
    (pool sizes), and ``loss/grad_penalty`` / ``stats/grad_norm`` when the gradient penalty is on.
    """

    def __init__(self, obs_dim: int, config: GoalClassifierConfig | None = None,
                 device: torch.device | str = "cpu"):
        self.config = config = config or GoalClassifierConfig()
        if obs_dim < 1:
            raise OrlkitError(f"GoalClassifier: obs_dim must be positive, got {obs_dim}")
        if config.batch_size < 2 or config.batch_size % 2:
            raise OrlkitError(f"GoalClassifierConfig.batch_size must be even and >= 2, got {config.batch_size}")
        if not 0.0 <= config.label_smoothing < 1.0 or config.mixup_alpha < 0 or config.grad_penalty < 0:
            raise OrlkitError("GoalClassifierConfig: need 0 <= label_smoothing < 1, mixup_alpha >= 0 and "
                              f"grad_penalty >= 0; got {config.label_smoothing}, {config.mixup_alpha}, "
                              f"{config.grad_penalty}")
        self.obs_dim, self.device = obs_dim, torch.device(device)
        with torch.random.fork_rng(devices=[]):  # seeded initialisation without touching the global RNG
            torch.manual_seed(config.seed)
            self.net: nn.Module = mlp(obs_dim, 1, config.hidden).to(self.device)
        self.optimizer = adam(self.net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.rng = np.random.default_rng(config.seed)  # batches and mixup's λ
        self.sampler = BalancedSampler(obs_dim, self.rng)
        self.n_updates = 0  # gradient steps taken
        self.n_queries = 0  # RAQ queries asked

    # ------------------------------------------------------------------ scoring
    def _tensor(self, x: Any) -> torch.Tensor:
        t = torch.as_tensor(np.asarray(x, dtype=np.float32) if not torch.is_tensor(x) else x,
                            dtype=torch.float32, device=self.device)
        if t.ndim != 2 or t.shape[1] != self.obs_dim:
            raise OrlkitError(f"GoalClassifier: states must have shape (B, {self.obs_dim}), got {tuple(t.shape)}")
        return t

    def logits(self, states: Any) -> torch.Tensor:
        """f_θ(s) (B,) for states (B, obs_dim), with gradients."""
        return self.net(self._tensor(states)).squeeze(-1)

    @torch.no_grad()
    def prob(self, states: Any) -> np.ndarray:
        """σ(f_θ(s)) (B,) as NumPy: the classifier's p(success | s)."""
        return torch.sigmoid(self.logits(states)).cpu().numpy()

    @torch.no_grad()
    def reward(self, obs: torch.Tensor, actions: torch.Tensor, next_obs: torch.Tensor,
               terminals: torch.Tensor | None = None) -> torch.Tensor:
        """r = f_θ(next_obs) (B,) (f_θ(obs) with ``score_next_obs=False``); actions and terminals are ignored."""
        return self.logits(next_obs if self.config.score_next_obs else obs)

    # ------------------------------------------------------------------ data
    def add_positives(self, states: Any) -> None:
        """Add success states (N, obs_dim) to D₊."""
        self.sampler.add_positives(states)

    def add_negatives(self, states: Any) -> None:
        """Add states (N, obs_dim) to D₋: failure examples, or the states the policy visited."""
        self.sampler.add_negatives(states)

    # ------------------------------------------------------------------ training
    def train_step(self, log_pi_fn: Callable[[torch.Tensor], torch.Tensor] | None = None) -> dict[str, float]:
        """One Adam step on one balanced batch (see module doc); returns its metrics."""
        cfg = self.config
        if cfg.use_vice_pi and log_pi_fn is None:
            raise OrlkitError("GoalClassifier: use_vice_pi=True needs log_pi_fn(states) -> log π(a|s), a ~ π(·|s)")
        x_pos, x_neg = self.sampler.sample(cfg.batch_size)  # (B/2, d) each
        x_np, y_np = mixup(x_pos, x_neg, cfg.mixup_alpha, self.rng)  # (B, d), (B,)
        x = torch.as_tensor(x_np, device=self.device).requires_grad_(cfg.grad_penalty > 0)
        y = torch.as_tensor(y_np, device=self.device)
        f = self.net(x).squeeze(-1)  # (B,)
        logits = f
        if cfg.use_vice_pi:
            with torch.no_grad():
                log_pi = log_pi_fn(x.detach()).reshape(-1)  # (B,)
            if log_pi.shape != f.shape:
                raise OrlkitError(f"log_pi_fn returned shape {tuple(log_pi.shape)}, expected ({len(f)},)")
            logits = f - log_pi  # D = e^f / (e^f + π(a|s))
        loss, metrics = classifier_loss(logits, y, cfg.label_smoothing)
        if cfg.grad_penalty > 0:
            gp, gp_metrics = gradient_penalty(f, x)
            loss = loss + cfg.grad_penalty * gp
            metrics.update(gp_metrics)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.n_updates += 1
        with torch.no_grad():
            f_pos = self.net(torch.as_tensor(x_pos, device=self.device)).squeeze(-1)  # (B/2,)
            f_neg = self.net(torch.as_tensor(x_neg, device=self.device)).squeeze(-1)  # (B/2,)
        metrics.update({
            "stats/p_pos": torch.sigmoid(f_pos).mean(), "stats/p_neg": torch.sigmoid(f_neg).mean(),
            "stats/logit_pos": f_pos.mean(), "stats/logit_neg": f_neg.mean(),
            "stats/accuracy": 0.5 * ((f_pos > 0).float().mean() + (f_neg <= 0).float().mean()),
        })
        out = {k: float(v.detach()) for k, v in metrics.items()}
        out["stats/n_pos"], out["stats/n_neg"] = float(self.sampler.positives.size), float(self.sampler.negatives.size)
        return out

    def _train(self, steps: int, log_pi_fn: Callable | None) -> dict[str, float]:
        if steps < 1:
            raise OrlkitError(f"GoalClassifier: steps must be positive, got {steps}")
        runs = [self.train_step(log_pi_fn) for _ in range(steps)]
        return {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}

    def train_frozen(self, positives: Any, negatives: Any, steps: int,
                     log_pi_fn: Callable[[torch.Tensor], torch.Tensor] | None = None) -> dict[str, float]:
        """The "trained once and frozen" baseline: add D₊ and D₋, take ``steps`` balanced steps.

        Returns the metrics averaged over the steps. Calling :meth:`update` afterwards turns the
        frozen baseline into VICE.
        """
        self.add_positives(positives)
        self.add_negatives(negatives)
        return self._train(steps, log_pi_fn)

    def update(self, policy_states: Any, log_pi_fn: Callable[[torch.Tensor], torch.Tensor] | None = None
               ) -> dict[str, float]:
        """One VICE round (call once per RL epoch): D₋ ∪= ``policy_states`` (N, obs_dim), then
        ``steps_per_update`` balanced steps; returns the metrics averaged over the steps.

        ``log_pi_fn(states (B, obs_dim)) -> (B,)`` gives log π(a|s) of an action a ~ π(·|s) sampled
        at each state; it is required (only) with ``use_vice_pi``.
        """
        if policy_states is not None and len(policy_states):
            self.add_negatives(policy_states)
        return self._train(self.config.steps_per_update, log_pi_fn)

    def active_query(self, candidate_states: Any, teacher_fn: Callable[[np.ndarray], Any]) -> QueryResult:
        """RAQ: ask ``teacher_fn(state (obs_dim,)) -> bool`` about the candidate (N, obs_dim) with the
        highest f_θ; a success joins D₊, a failure D₋."""
        x = self._tensor(candidate_states)
        if len(x) == 0:
            raise OrlkitError("GoalClassifier.active_query: no candidate states")
        with torch.no_grad():
            f = self.net(x).squeeze(-1)  # (N,)
        i = int(f.argmax())
        state = x[i].cpu().numpy()
        label = bool(np.asarray(teacher_fn(state)).reshape(()))
        (self.add_positives if label else self.add_negatives)(state[None])
        self.n_queries += 1
        return QueryResult(index=i, state=state, logit=float(f[i]), label=label)

    # ------------------------------------------------------------------ save / load
    def save(self, path: str | Path) -> Path:
        """Weights, Adam state, both pools and the sampling RNG as ``path``.safetensors + ``path``.json."""
        tensors = {**module_tensors("net", self.net), **optimizer_tensors("optimizer", self.optimizer),
                   "pool.positives": torch.from_numpy(self.sampler.positives.data.copy()),
                   "pool.negatives": torch.from_numpy(self.sampler.negatives.data.copy())}
        meta = {"obs_dim": self.obs_dim, "config": dataclasses.asdict(self.config), "n_updates": self.n_updates,
                "n_queries": self.n_queries, "rng": self.rng.bit_generator.state,
                "param_groups": self.optimizer.state_dict()["param_groups"]}
        return write_reward_checkpoint(path, "goal_classifier", tensors, meta)

    @classmethod
    def load(cls, path: str | Path, device: torch.device | str = "cpu") -> GoalClassifier:
        """The classifier saved at ``path``, ready to score or to keep training."""
        tensors, meta = read_reward_checkpoint(path, "goal_classifier")
        cfg = meta["config"]
        cfg["hidden"] = tuple(cfg["hidden"])
        clf = cls(int(meta["obs_dim"]), GoalClassifierConfig(**cfg), device)
        clf.net.load_state_dict(select(tensors, "net."))
        load_optimizer_state(clf.optimizer, select(tensors, "optimizer."), meta["param_groups"])
        for pool, add in (("pool.positives", clf.add_positives), ("pool.negatives", clf.add_negatives)):
            if len(tensors[pool]):
                add(tensors[pool].numpy())
        clf.rng.bit_generator.state = meta["rng"]
        clf.n_updates, clf.n_queries = int(meta["n_updates"]), int(meta["n_queries"])
        return clf
