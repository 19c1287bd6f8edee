"""Reward learning from pairwise preferences and k-way rankings (Bradley–Terry; Christiano et al. 2017).

A segment σ = ((s_0, a_0), …, (s_{T−1}, a_{T−1})) has predicted return R_θ(σ) = Σ_t r_θ(s_t, a_t).
The Bradley–Terry model says segment A is preferred to segment B with probability

    P̂[A ≻ B] = exp R_θ(A) / (exp R_θ(A) + exp R_θ(B)) = σ(R_θ(A) − R_θ(B)),

and Christiano et al. assume the labeller answers uniformly at random a fraction ε of the time:

    P̂_e[A ≻ B] = (1 − ε)·σ(d) + ε/2,       d = R_θ(A) − R_θ(B),  ε = 0.1.

With label y = P(A is preferred) ∈ {0, ½, 1} the loss of each ensemble member is the cross-entropy

    L(θ) = −E_pairs [ y·log P̂_e[A ≻ B] + (1 − y)·log P̂_e[B ≻ A] ],

summed over the E members. Everything is computed on the logit d: with ε = 0 the loss is
``binary_cross_entropy_with_logits(d, y)``; with ε > 0, log P̂_e = logaddexp(log(1 − ε) + logsigmoid(d),
log(ε/2)), which is exact for every d (no probability is ever formed or clipped).

A k-way ranking (InstructGPT-style) becomes all C(k, 2) pairs (:func:`rankings_to_pairs`); tied
segments give label ½.

Ensemble and normalisation (Christiano et al.): E reward networks, each trained on its own bootstrap
resample of the labelled pairs, so their disagreement can pick the next queries. The paper normalises
the predicted reward "to have zero mean and constant standard deviation". Here that is an explicit
step: :meth:`PreferenceRewardModel.normalize` stores, per member e, the mean μ_e and standard
deviation s_e of r_θe on the data it is given, and every normalised reward is (r_θe − μ_e)/s_e.
Bradley–Terry is invariant to the shift μ_e but not to the scale s_e, so training always uses the
raw rewards; :meth:`~PreferenceRewardModel.fit` renormalises on the training segments when it ends.

Deviations from the paper:
- Normalisation is a separate, explicit step after training (``normalize``), not a running average.
- The ensemble size defaults to 3 (B-Pref/PEBBLE) and the L2 penalty is Adam ``weight_decay`` (0 by
  default) rather than tuned to keep the validation loss at 1.1–1.5× the training loss.
- A member's bootstrap resample is drawn once per :meth:`fit` call; :meth:`update` given a batch
  without indices resamples that batch per member.
- Labels may also be soft, y ∈ [0, 1] (e.g. AI judges); accuracy counts only labels ≠ ½.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from orlkit.errors import OrlkitError
from orlkit.nets.ensemble import EnsembleMLP
from orlkit.nets.optim import adam, load_optimizer_state
from orlkit.train.checkpoint import FORMAT_VERSION, module_tensors, optimizer_tensors, read_checkpoint, select
from orlkit.train.io import atomic_write, write_json

if TYPE_CHECKING:
    from orlkit.data.preferences import PreferenceData

MODEL_KIND = "preference"  # the "reward_model" field of the checkpoint JSON
RankingLike = Sequence["int | Sequence[int]"]  # ids best → worst; a nested list is a tie group


@dataclass
class PreferenceConfig:
    """Bradley–Terry reward model hyperparameters (Christiano et al. 2017; B-Pref/PEBBLE defaults)."""

    ensemble_size: int = 3  # E, reward networks trained on bootstrap resamples
    hidden: tuple[int, ...] = (256, 256)  # MLP widths of r_θ
    lr: float = 3e-4  # Adam learning rate
    batch_size: int = 128  # pairs per update, per member
    weight_decay: float = 0.0  # L2 penalty on θ (Adam weight decay)
    random_response: float = 0.1  # ε in P̂_e = (1 − ε)·P̂ + ε/2
    use_actions: bool = True  # r_θ(s, a) if True, r_θ(s) if False
    seed: int = 0  # network initialisation and bootstrap draws

    def __post_init__(self) -> None:
        self.hidden = tuple(int(h) for h in self.hidden)
        if self.ensemble_size < 1:
            raise OrlkitError(f"PreferenceConfig.ensemble_size must be >= 1, got {self.ensemble_size}")
        if self.batch_size < 1:
            raise OrlkitError(f"PreferenceConfig.batch_size must be >= 1, got {self.batch_size}")
        if not 0.0 <= self.random_response < 1.0:
            raise OrlkitError(f"PreferenceConfig.random_response (ε) must be in [0, 1), got {self.random_response}")


@dataclass
class PairBatch:
    """Labelled pairs of segments: obs (N, T, obs_dim), actions (N, T, action_dim), labels (N,) = P(A ≻ B)."""

    obs_a: torch.Tensor
    actions_a: torch.Tensor | None
    obs_b: torch.Tensor
    actions_b: torch.Tensor | None
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)


# ---------------------------------------------------------------------------------- losses
def preference_loss(returns_a: torch.Tensor, returns_b: torch.Tensor, labels: torch.Tensor,
                    random_response: float = 0.0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Bradley–Terry cross-entropy on the logit d = R_a − R_b, summed over members.

    Args:
        returns_a, returns_b: (E, N) predicted segment returns of each member.
        labels: (N,) probability that A is preferred: 1 (A), 0 (B), ½ (tie), or a soft label in [0, 1];
            or (E, N), one label row per member (each member's bootstrap resample).
        random_response: ε, the assumed fraction of uniformly random answers.

    Returns:
        ``(loss, metrics)`` with ``loss/pref`` (mean over pairs, summed over members) and
        ``stats/pref_accuracy`` (fraction of non-tie pairs whose sign of d agrees with the label,
        averaged over members; NaN if every label is ½).
    """
    d = returns_a - returns_b  # (E, N)
    y = labels.to(d.dtype)
    if y.ndim == 1:
        y = y.unsqueeze(0)  # (1, N): the same labels for every member
    if random_response == 0.0:
        log_p_a, log_p_b = F.logsigmoid(d), F.logsigmoid(-d)
    else:
        # log P̂_e = log((1 − ε)·σ(±d) + ε/2), in log space: exact and finite for every d.
        log_keep, log_random = math.log1p(-random_response), math.log(random_response / 2)
        log_p_a = torch.logaddexp(log_keep + F.logsigmoid(d), torch.full_like(d, log_random))
        log_p_b = torch.logaddexp(log_keep + F.logsigmoid(-d), torch.full_like(d, log_random))
    nll = -(y * log_p_a + (1.0 - y) * log_p_b)  # (E, N)
    loss = nll.mean(1).sum()
    with torch.no_grad():
        decided = (y != 0.5).expand_as(d)  # (E, N): ties carry no order
        correct = ((d > 0) & (y > 0.5)) | ((d < 0) & (y < 0.5))  # (E, N)
        accuracy = (correct & decided).sum() / decided.sum()
    return loss, {"loss/pref": loss, "stats/pref_accuracy": accuracy}


def rankings_to_pairs(ranking: RankingLike) -> list[tuple[int, int, float]]:
    """All C(k, 2) pairs ``(a, b, label)`` of a k-way ranking, listed best → worst.

    Each entry of ``ranking`` is a segment id or a group (list/tuple) of ids tied with each other.
    ``label`` is 1.0 when ``a`` is ranked above ``b`` (``a`` always comes first) and 0.5 when they are tied.

    >>> rankings_to_pairs([3, [1, 2], 0])
    [(3, 1, 1.0), (3, 2, 1.0), (3, 0, 1.0), (1, 2, 0.5), (1, 0, 1.0), (2, 0, 1.0)]
    """
    flat: list[tuple[int, int]] = []  # (segment id, rank of its group)
    for rank, entry in enumerate(ranking):
        group = list(entry) if isinstance(entry, (list, tuple)) else [entry]
        if not group:
            raise OrlkitError(f"ranking {list(ranking)!r}: entry {rank} is an empty tie group")
        for item in group:
            if isinstance(item, bool) or not isinstance(item, numbers.Integral):
                raise OrlkitError(f"ranking {list(ranking)!r}: entry {rank} holds {item!r}, not a segment id "
                                  "(an int) or a group of ids")
            flat.append((int(item), rank))
    ids = [i for i, _ in flat]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise OrlkitError(f"ranking {list(ranking)!r}: segment {dup} appears more than once")
    return [(a, b, 0.5 if ra == rb else 1.0)
            for p, (a, ra) in enumerate(flat) for (b, rb) in flat[p + 1:]]


# ---------------------------------------------------------------------------------- model
class PreferenceRewardModel:
    """r_θ(s, a) as an ensemble of E MLPs trained with the Bradley–Terry loss (see the module docstring).

    ``reward(obs, actions, next_obs)`` is the ensemble mean of the normalised member rewards;
    ``next_obs`` is ignored (and so are ``actions`` when ``config.use_actions`` is False).

    Metrics of :meth:`update`: ``loss/pref``, ``stats/pref_accuracy``.
    """

    metric_keys = ("loss/pref", "stats/pref_accuracy")

    def __init__(self, obs_dim: int, action_dim: int, config: PreferenceConfig | None = None,
                 device: torch.device | str = "cpu"):
        self.config = config = config if config is not None else PreferenceConfig()
        self.obs_dim, self.action_dim = int(obs_dim), int(action_dim)
        self.device = torch.device(device)
        in_dim = self.obs_dim + (self.action_dim if config.use_actions else 0)
        with torch.random.fork_rng(devices=[]):  # seeded initialisation, global RNG untouched
            torch.manual_seed(config.seed)
            self.net = EnsembleMLP(config.ensemble_size, in_dim, 1, config.hidden).to(self.device)
        self.optimizer = adam(self.net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.generator = torch.Generator()  # CPU: the same bootstrap draws on every device
        self.generator.manual_seed(config.seed + 1)
        E = config.ensemble_size
        self.reward_mean = torch.zeros(E, device=self.device)  # μ_e, set by normalize()
        self.reward_std = torch.ones(E, device=self.device)  # s_e, set by normalize()
        self.n_updates = 0

    # ------------------------------------------------------------------ rewards
    def _inputs(self, obs: Any, actions: Any) -> torch.Tensor:
        """Network input (..., in_dim) from obs (..., obs_dim) and actions (..., action_dim)."""
        obs = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        if obs.shape[-1:] != (self.obs_dim,):
            raise OrlkitError(f"obs: expected last dimension {self.obs_dim} (obs_dim), got shape {tuple(obs.shape)}")
        if not self.config.use_actions:
            return obs
        if actions is None:
            raise OrlkitError("actions: required because PreferenceConfig.use_actions is True")
        actions = torch.as_tensor(actions, dtype=torch.float32, device=self.device)
        if actions.shape[:-1] != obs.shape[:-1] or actions.shape[-1] != self.action_dim:
            raise OrlkitError(f"actions: expected shape {(*obs.shape[:-1], self.action_dim)} to match obs "
                              f"{tuple(obs.shape)}, got {tuple(actions.shape)}")
        return torch.cat([obs, actions], -1)

    def _normalise(self, r: torch.Tensor) -> torch.Tensor:
        """(r_e − μ_e)/s_e for r of shape (E, ...)."""
        shape = (-1,) + (1,) * (r.ndim - 1)
        return (r - self.reward_mean.view(shape)) / self.reward_std.view(shape)

    def member_rewards(self, obs: Any, actions: Any = None, normalized: bool = True) -> torch.Tensor:
        """(E, B) reward of every member for obs (B, obs_dim), actions (B, action_dim)."""
        x = self._inputs(obs, actions)
        if x.ndim != 2:
            raise OrlkitError(f"obs: expected shape (B, {self.obs_dim}), got {(*x.shape[:-1], self.obs_dim)}")
        r = self.net(x).squeeze(-1)  # (E, B)
        return self._normalise(r) if normalized else r

    def reward(self, obs: torch.Tensor, actions: torch.Tensor, next_obs: torch.Tensor | None = None,
               terminals: torch.Tensor | None = None) -> torch.Tensor:
        """(B,) ensemble mean of the normalised member rewards. ``next_obs`` and ``terminals`` are ignored."""
        return self.member_rewards(obs, actions).mean(0)

    def segment_returns(self, obs_seg: Any, act_seg: Any = None, normalized: bool = True) -> torch.Tensor:
        """(E, N) predicted returns Σ_t r_θe(s_t, a_t) of segments obs (N, T, obs_dim), actions (N, T, act_dim)."""
        x = self._inputs(obs_seg, act_seg)
        if x.ndim != 3:
            raise OrlkitError(f"segments: expected obs of shape (N, T, {self.obs_dim}), got {tuple(x.shape)}")
        n, t, k = x.shape
        r = self.net(x.reshape(n * t, k)).reshape(-1, n, t)  # (E, N·T, 1) → (E, N, T)
        if normalized:
            r = self._normalise(r)
        return r.sum(-1)  # (E, N)

    def _member_segment_returns(self, obs: torch.Tensor, actions: torch.Tensor | None) -> torch.Tensor:
        """Raw returns (E, b) for per-member segments obs (E, b, T, obs_dim), actions (E, b, T, act_dim)."""
        x = self._inputs(obs, actions)
        e, b, t, k = x.shape
        r = self.net(x.reshape(e, b * t, k))  # (E, b·T, 1): member e sees only its own pairs
        return r.reshape(e, b, t).sum(-1)  # (E, b)

    @torch.no_grad()
    def normalize(self, obs: Any, actions: Any = None) -> dict[str, float]:
        """Set μ_e, s_e so each member's reward on obs (B, obs_dim)/(N, T, obs_dim) has mean 0 and std 1."""
        x = self._inputs(obs, actions)
        r = self.net(x.reshape(-1, x.shape[-1])).squeeze(-1)  # (E, B): all rows, segments flattened
        if r.shape[1] < 2:
            raise OrlkitError(f"normalize needs at least 2 states, got {r.shape[1]}")
        self.reward_mean = r.mean(1)
        self.reward_std = r.std(1).clamp_min(1e-8)  # a constant member would divide by zero
        return {"stats/reward_mean": float(self.reward_mean.mean()), "stats/reward_std": float(self.reward_std.mean())}

    # ------------------------------------------------------------------ training
    def bootstrap_indices(self, n_pairs: int) -> torch.Tensor:
        """(E, n_pairs) per-member bootstrap resample (with replacement) of pair indices."""
        if n_pairs < 1:
            raise OrlkitError("no labelled pairs to train on")
        return torch.randint(n_pairs, (self.config.ensemble_size, n_pairs), generator=self.generator)


    def update(self, batch: PairBatch, indices: torch.Tensor | None = None) -> dict[str, float]:
        """One Adam step on the Bradley–Terry loss; member e trains on the pairs ``indices[e]`` of ``batch``.

        ``indices`` (E, b) defaults to a fresh bootstrap resample of the whole batch for every member.
        Returns ``loss/pref`` and ``stats/pref_accuracy``.
        """
        if indices is None:
            indices = self.bootstrap_indices(len(batch))
        indices = indices.to(self.device)
        labels = batch.labels.to(self.device, torch.float32)
        _check_labels(labels)
        use_a = self.config.use_actions
        obs_a, obs_b = batch.obs_a.to(self.device)[indices], batch.obs_b.to(self.device)[indices]  # (E, b, T, obs)
        act_a = batch.actions_a.to(self.device)[indices] if use_a and batch.actions_a is not None else None
        act_b = batch.actions_b.to(self.device)[indices] if use_a and batch.actions_b is not None else None
        returns_a = self._member_segment_returns(obs_a, act_a)  # (E, b)
        returns_b = self._member_segment_returns(obs_b, act_b)  # (E, b)
        loss, metrics = preference_loss(returns_a, returns_b, labels[indices], self.config.random_response)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.n_updates += 1
        return {k: float(v.detach()) for k, v in metrics.items()}

    def fit(self, pairs: PreferenceData | PairBatch, steps: int | None = None, epochs: int | None = None,
            normalize: bool = True, progress: bool = False) -> list[dict[str, float]]:
        """Train on labelled pairs (and rankings, as their pairs) for ``steps`` updates or ``epochs`` passes.

        Every member draws one bootstrap resample of the N pairs, then each update takes ``batch_size``
        of its resample. An epoch is ceil(N / batch_size) updates. With ``normalize`` (and
        :class:`~orlkit.data.preferences.PreferenceData`), the rewards are renormalised on all segments'
        states at the end. Returns the metrics of every update.
        """
        if (steps is None) == (epochs is None):
            raise OrlkitError("fit: give exactly one of steps or epochs")
        batch = pairs if isinstance(pairs, PairBatch) else make_pair_batch(pairs)
        n, b = len(batch), self.config.batch_size
        n_steps = steps if steps is not None else epochs * math.ceil(n / b)
        boot = self.bootstrap_indices(n)  # (E, N): each member's resample, fixed for this call
        from tqdm.auto import tqdm

        history = []
        for _ in tqdm(range(n_steps), desc="preference reward", disable=not progress):
            pos = torch.randint(n, (self.config.ensemble_size, min(b, n)), generator=self.generator)  # (E, b)
            history.append(self.update(batch, boot.gather(1, pos)))
        if normalize and not isinstance(pairs, PairBatch):
            obs, actions = pairs.segment_arrays()
            self.normalize(obs, actions)
        return history

    # ------------------------------------------------------------------ save / load
    def state_tensors(self) -> dict[str, torch.Tensor]:
        """Network, normalisation, optimizer and generator state, as flat named tensors."""
        out = module_tensors("net", self.net) | optimizer_tensors("optim", self.optimizer)
        return out | {"reward_mean": self.reward_mean, "reward_std": self.reward_std,
                      "generator": self.generator.get_state()}

    def save(self, path: str | Path) -> Path:
        """Write ``path``.safetensors (tensors) and ``path``.json (config, dims); both atomically."""
        base = Path(path).with_suffix("")
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.state_tensors().items()}
        atomic_write(base.with_suffix(".safetensors"), lambda tmp: save_file(tensors, tmp))
        write_json(base.with_suffix(".json"), {
            "format_version": FORMAT_VERSION, "reward_model": MODEL_KIND, "obs_dim": self.obs_dim,
            "action_dim": self.action_dim, "config": dataclasses.asdict(self.config), "n_updates": self.n_updates,
        })
        return base

    @classmethod
    def load(cls, path: str | Path, device: torch.device | str = "cpu") -> PreferenceRewardModel:
        """A model restored from :meth:`save`'s files (no code is executed from them)."""
        tensors, meta = read_checkpoint(path)
        if meta.get("reward_model") != MODEL_KIND:
            raise OrlkitError(f"{path}: checkpoint holds {meta.get('reward_model')!r}, "
                              f"not a '{MODEL_KIND}' reward model")
        fields = {f.name for f in dataclasses.fields(PreferenceConfig)}
        unknown = set(meta["config"]) - fields
        if unknown:
            raise OrlkitError(f"{path}: unknown PreferenceConfig fields {sorted(unknown)}")
        model = cls(meta["obs_dim"], meta["action_dim"], PreferenceConfig(**meta["config"]), device)
        model.net.load_state_dict(select(tensors, "net."))
        model.reward_mean = tensors["reward_mean"].to(model.device)
        model.reward_std = tensors["reward_std"].to(model.device)
        model.generator.set_state(tensors["generator"])
        # the hyperparameters are the config's, so the optimizer's own param groups are the saved ones
        load_optimizer_state(model.optimizer, select(tensors, "optim."), model.optimizer.state_dict()["param_groups"])
        model.n_updates = int(meta["n_updates"])
        return model


def _check_labels(labels: torch.Tensor) -> None:
    bad = labels.isnan() | (labels < 0) | (labels > 1)
    if bad.any():
        row = int(bad.nonzero()[0, 0])
        raise OrlkitError(f"labels: row {row} has {float(labels[row])}; a label is the probability that segment A "
                          "is preferred, in [0, 1] (1: A, 0: B, 0.5: tie)")


def make_pair_batch(data: PreferenceData, device: torch.device | str = "cpu") -> PairBatch:
    """The labelled pairs of ``data`` (its rankings included, as their C(k, 2) pairs) as a :class:`PairBatch`."""
    idx_a, idx_b, labels = data.pairs_tensor()
    obs, actions = data.segment_arrays()  # (S, T, obs_dim), (S, T, action_dim)
    obs_t = torch.as_tensor(obs, device=device)
    act_t = torch.as_tensor(actions, device=device)
    return PairBatch(obs_a=obs_t[idx_a], actions_a=act_t[idx_a], obs_b=obs_t[idx_b], actions_b=act_t[idx_b],
                     labels=labels.to(device))


def pairs_from_rankings(rankings: Iterable[RankingLike]) -> list[tuple[int, int, float]]:
    """:func:`rankings_to_pairs` over many rankings, concatenated."""
    return [p for r in rankings for p in rankings_to_pairs(r)]
