"""Preference RL, online and offline: SAC on a Bradley–Terry reward learned from a teacher's answers in
the loop, or IQL/CQL on a dataset relabelled with a reward learned from preferences over its segments.

Christiano et al. (2017) with PEBBLE's relabelling (Lee et al. 2021):

    every ``query_every`` environment steps, until ``budget`` queries are spent:
        1. cut ``candidate_factor · queries_per_round`` random pairs of length-T segments from the
           replay buffer (never crossing an episode boundary);
        2. keep ``queries_per_round`` of them: uniformly, by ensemble disagreement (std over members of
           P_e[σ¹ ≻ σ²]) or by entropy of the mean preference;
        3. the teacher labels them (skipped queries count against the budget but add no pair);
        4. train r_θ on every pair so far (``reward_epochs`` passes, stop early once the pair accuracy
           reaches ``stop_accuracy``), renormalise it on the labelled segments' states;
        5. relabel the whole replay buffer with r_θ.

    SAC itself never sees the true reward; the buffer keeps it only to report the return earned.

Deviations from PEBBLE: no unsupervised state-entropy pre-training (the first ``start_steps`` act
uniformly at random instead), no k-center sampling, and the reward model is trained for a fixed
number of passes per round rather than until convergence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from orlkit.algos import config_from_dict, make_algorithm
from orlkit.data.dataset import TransitionDataset
from orlkit.data.preferences import PreferenceData, Segment, sample_segments
from orlkit.errors import OrlkitError
from orlkit.rewards.base import RewardModel, relabel_rewards
from orlkit.rewards.preference import PreferenceConfig, PreferenceRewardModel
from orlkit.rewards.queries import select_disagreement, select_entropy, select_uniform
from orlkit.rewards.teachers import ScriptedTeacher
from orlkit.train.online import OnlineConfig, ReplayBuffer, continuous_spec, train_online

SAMPLING = ("uniform", "disagreement", "entropy")


@dataclass
class PreferenceRLConfig:
    """The query schedule (B-Pref/PEBBLE defaults where they exist)."""

    budget: int = 1000  # total queries (B-Pref max_feedback 1400)
    queries_per_round: int = 50  # queries asked at each reward update
    query_every: int = 1000  # environment steps between reward updates
    segment_length: int = 50  # T, steps per segment (B-Pref: 50)
    sampling: str = "disagreement"  # uniform | disagreement | entropy
    candidate_factor: int = 10  # candidates drawn per query kept (B-Pref: 10)
    reward_epochs: int = 50  # passes over all pairs per reward update (at most)
    stop_accuracy: float = 0.97  # stop a reward update early at this training pair accuracy (PEBBLE)
    reward: PreferenceConfig = field(default_factory=lambda: PreferenceConfig(hidden=(64, 64)))

    def __post_init__(self) -> None:
        if isinstance(self.reward, dict):
            self.reward = PreferenceConfig(**self.reward)
        if self.sampling not in SAMPLING:
            raise OrlkitError(f"unknown query sampling {self.sampling!r}; choose one of {', '.join(SAMPLING)}")
        if self.sampling == "disagreement" and self.reward.ensemble_size < 2:
            raise OrlkitError("disagreement sampling needs a reward ensemble of at least 2 members")
        for name in ("budget", "queries_per_round", "query_every", "segment_length", "candidate_factor",
                     "reward_epochs"):
            if getattr(self, name) < 1:
                raise OrlkitError(f"{name} must be at least 1, got {getattr(self, name)}")


def segment_starts(buffer: ReplayBuffer, length: int) -> np.ndarray:
    """Rows i of the buffer where rows i … i+T−1 belong to one episode (no wrap-around of the ring)."""
    n = buffer.size
    if n < length:
        return np.zeros(0, dtype=np.int64)
    episode = buffer.view("episode")
    i = np.arange(n - length + 1)
    ok = episode[i] == episode[i + length - 1]
    if buffer.size == buffer.capacity:  # a full ring: skip segments that cross the write position
        ok &= ~((i < buffer.pos) & (i + length > buffer.pos))
    return i[ok]


class PreferenceLearner:
    """The callback of the online loop: asks queries on schedule, trains r_θ, relabels the buffer."""

    def __init__(self, obs_dim: int, action_dim: int, config: PreferenceRLConfig, teacher: ScriptedTeacher,
                 seed: int = 0):
        self.config = config
        self.teacher = teacher
        self.model = PreferenceRewardModel(obs_dim, action_dim, PreferenceConfig(
            **{**config.reward.__dict__, "seed": seed}))
        self.data = PreferenceData()
        self.rng = np.random.default_rng(seed)
        self.queries_asked = 0

    def _segment(self, buffer: ReplayBuffer, start: int) -> Segment:
        sl = slice(start, start + self.config.segment_length)
        return Segment(obs=buffer.obs[sl].copy(), actions=buffer.actions[sl].copy(),
                       rewards=buffer.true_rewards[sl].copy(), episode=int(buffer.episode[start]))

    @torch.no_grad()
    def _choose(self, obs_a: np.ndarray, act_a: np.ndarray, obs_b: np.ndarray, act_b: np.ndarray, k: int
                ) -> np.ndarray:
        """Indices of the k candidate pairs to ask: segments (N, T, ·) of A and B."""
        n = len(obs_a)
        if self.config.sampling == "uniform" or not self.data.pairs:  # an untrained model has no opinion yet
            return select_uniform(n, k, self.rng)
        d = self.model.segment_returns(obs_a, act_a) - self.model.segment_returns(obs_b, act_b)  # (E, N)
        prefs = torch.sigmoid(d).numpy()  # (E, N): P_e[A ≻ B]
        if self.config.sampling == "disagreement":
            return select_disagreement(prefs, k)
        return select_entropy(prefs.mean(0), k)

    def __call__(self, step: int, buffer: ReplayBuffer) -> dict[str, float] | None:
        cfg = self.config
        k = min(cfg.queries_per_round, cfg.budget - self.queries_asked)
        starts = segment_starts(buffer, cfg.segment_length)
        if k <= 0 or len(starts) < 2:
            return None
        n = k * cfg.candidate_factor
        pick = self.rng.choice(starts, size=(n, 2))  # (N, 2) candidate pairs of segment starts
        seg = cfg.segment_length
        rows = pick[..., None] + np.arange(seg)  # (N, 2, T)
        chosen = self._choose(buffer.obs[rows[:, 0]], buffer.actions[rows[:, 0]],
                              buffer.obs[rows[:, 1]], buffer.actions[rows[:, 1]], k)
        queries = []
        for a, b in pick[chosen]:
            queries.append((self.data.add_segment(self._segment(buffer, int(a))),
                            self.data.add_segment(self._segment(buffer, int(b)))))
        added = self.teacher.label_into(self.data, queries)
        self.queries_asked += k
        info: dict[str, float] = {"queries": self.queries_asked, "pairs": len(self.data.pairs), "answered": added}
        if self.data.pairs:
            for _ in range(cfg.reward_epochs):
                hist = self.model.fit(self.data, epochs=1, normalize=False)
                acc = float(np.nanmean([h["stats/pref_accuracy"] for h in hist]))
                if acc >= cfg.stop_accuracy:
                    break
            obs, actions = self.data.segment_arrays()
            self.model.normalize(obs, actions)
            buffer.relabel(self.model)
            info |= {"pref_accuracy": acc, "reward_corr": reward_correlation(buffer)}
        return info


def reward_correlation(buffer: ReplayBuffer) -> float:
    """Pearson correlation of the learned and the true reward over the buffer (a diagnostic, not a target)."""
    r, t = buffer.view("rewards"), buffer.view("true_rewards")
    if r.std() == 0 or t.std() == 0:
        return float("nan")
    return float(np.corrcoef(r, t)[0, 1])


def train_with_preferences(run: OnlineConfig, config: PreferenceRLConfig | None = None,
                           teacher: ScriptedTeacher | str | None = "oracle",
                           sac: dict[str, Any] | None = None, out_dir=None, progress: bool = True
                           ) -> dict[str, Any]:
    """SAC on ``run.env_id`` with a reward learned from ``teacher``'s preferences; ``teacher=None``: the true reward.

    Returns the online loop's result (``train``/``eval``/``callbacks`` rows, ``buffer``) plus ``model``
    and ``preferences`` (the labelled :class:`PreferenceData`).
    """
    spec = continuous_spec(run.env_id, run.env_kwargs)
    obs_dim, action_dim = spec.obs_dim, spec.action_dim
    algo = make_algorithm("sac", spec, config_from_dict("sac", sac or {}), seed=run.seed)
    if teacher is None:
        return train_online(algo, run, out_dir, progress=progress)
    config = config or PreferenceRLConfig()
    if isinstance(teacher, str):
        teacher = ScriptedTeacher.from_preset(teacher, seed=run.seed + 7)
    learner = PreferenceLearner(obs_dim, action_dim, config, teacher, seed=run.seed)
    run = OnlineConfig(**{**run.__dict__, "callback_every": config.query_every})
    result = train_online(algo, run, out_dir, reward_model=learner.model, callback=learner, progress=progress)
    return {**result, "model": learner.model, "preferences": learner.data}


# ---------------------------------------------------------------------------------- offline
def learn_reward_offline(dataset: TransitionDataset, n_queries: int = 500, teacher: ScriptedTeacher | str = "oracle",
                         segment_length: int = 50, config: PreferenceConfig | None = None, epochs: int = 100,
                         seed: int = 0) -> tuple[PreferenceRewardModel, PreferenceData]:
    """r_θ from ``n_queries`` teacher-labelled pairs of random segments of ``dataset`` (uniform queries).

    The dataset's own ``rewards`` column is what the scripted teacher sees; nothing else of it is used.
    The model is normalised on every state of the dataset, so relabelled rewards have mean 0, std 1.
    """
    rng = np.random.default_rng(seed)
    if isinstance(teacher, str):
        teacher = ScriptedTeacher.from_preset(teacher, seed=seed + 7)
    data = PreferenceData(sample_segments(dataset, 2 * n_queries, segment_length, rng), source=dataset.source)
    teacher.label_into(data, [(2 * i, 2 * i + 1) for i in range(n_queries)])
    actions = dataset.action_vectors()
    model = PreferenceRewardModel(dataset.obs_shape[0], actions.shape[1],
                                  PreferenceConfig(**{**(config or PreferenceConfig()).__dict__, "seed": seed}))
    model.fit(data, epochs=epochs, normalize=False)
    model.normalize(dataset.obs, actions)
    return model, data


def relabel_dataset(dataset: TransitionDataset, model: RewardModel) -> TransitionDataset:
    """``dataset`` with its ``rewards`` column replaced by ``model``'s; the original rewards are kept as the
    extra ``true_rewards`` (an existing ``true_rewards`` extra is kept as it is)."""
    for what, need, have in (("observations", getattr(model, "obs_dim", None), dataset.obs_shape),
                             ("actions", getattr(model, "action_dim", None), (dataset.action_dim,))):
        if need is not None and have != (need,):
            raise OrlkitError(f"{dataset.source or 'dataset'}: the reward model takes {need}-dim {what}, "
                              f"the dataset has {what} of shape {have}")
    rewards = relabel_rewards(model, dataset.obs, dataset.action_vectors(), dataset.next_obs, dataset.terminals)
    true = dataset.extras.get("true_rewards", dataset.rewards)  # relabelling twice keeps the original rewards
    return dataset.replace(rewards=rewards, extras={**dataset.extras, "true_rewards": true})
