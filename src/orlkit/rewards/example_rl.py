"""RL from examples and demonstrations: SAC on a goal classifier's reward or an adversarial reward.

The lecture's part 2b, as loops around :func:`orlkit.train.online.train_online`:

- ``frozen``: a goal classifier trained once on success and failure examples, then held fixed. The
  policy maximises its logit and can settle in states the classifier never saw and scores high.
- ``vice``: the same classifier keeps training every ``epoch`` environment steps with the states the
  policy visited in that epoch added as negatives, on balanced batches (Fu et al. 2018).
- ``raq``: VICE plus, every k epochs, one active query — the visited state with the highest reward is
  labelled by a teacher (here the environment's ground-truth success test) and joins the positives or
  negatives (Singh et al. 2019).
- ``gail`` / ``airl``: a discriminator between demonstration transitions and the policy's recent
  transitions, updated every epoch; its reward relabels the replay buffer (Ho & Ermon 2016; Fu et
  al. 2018).

After every reward update the whole replay buffer is relabelled (as PEBBLE does for preferences).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from orlkit.algos import config_from_dict, make_algorithm
from orlkit.data.dataset import TransitionDataset
from orlkit.errors import OrlkitError
from orlkit.rewards.adversarial import AdversarialConfig, make_discriminator
from orlkit.rewards.goal_classifier import GoalClassifier, GoalClassifierConfig
from orlkit.train.online import OnlineConfig, ReplayBuffer, check_no_wrap, continuous_spec, train_online

MODES = ("frozen", "vice", "raq", "gail", "airl")
# the epoch windows below index the buffer in insertion order: the ring must never wrap
NO_WRAP = "reward learning from the replay buffer needs every transition kept"


def _sac(run: OnlineConfig, sac: dict[str, Any] | None):
    return make_algorithm("sac", continuous_spec(run.env_id, run.env_kwargs), config_from_dict("sac", sac or {}),
                          seed=run.seed)


def train_with_classifier(run: OnlineConfig, positives: np.ndarray, negatives: np.ndarray, mode: str = "vice",
                          config: GoalClassifierConfig | None = None, frozen_steps: int = 2000,
                          teacher: Callable[[np.ndarray], bool] | None = None, sac: dict[str, Any] | None = None,
                          demos: TransitionDataset | None = None, progress: bool = True) -> dict[str, Any]:
    """SAC on a goal classifier's logit; ``mode`` is ``frozen``, ``vice`` or ``raq`` (needs ``teacher``).

    The classifier first trains ``frozen_steps`` balanced steps on the examples (all modes). Returns
    the online loop's result plus ``classifier``.
    """
    if mode not in ("frozen", "vice", "raq"):
        raise OrlkitError(f"unknown classifier mode {mode!r}; choose frozen, vice or raq")
    if mode == "raq" and teacher is None:
        raise OrlkitError("mode 'raq' needs a teacher(state) -> bool")
    last = {"pos": 0 if demos is None else demos.n_transitions, "epochs": 0}
    check_no_wrap(run, last["pos"], NO_WRAP)  # before the classifier's pre-training, not after
    obs_dim = positives.shape[1]
    clf = GoalClassifier(obs_dim, config or GoalClassifierConfig(seed=run.seed))
    clf.train_frozen(positives, negatives, frozen_steps)
    epoch = run.callback_every

    def callback(step: int, buffer: ReplayBuffer) -> dict[str, float] | None:
        if mode == "frozen":
            return None
        rows = np.arange(last["pos"], buffer.size)  # the states this epoch's policy reached
        last["pos"] = buffer.size
        last["epochs"] += 1
        info = clf.update(buffer.next_obs[rows])
        if mode == "raq" and clf.config.query_every and last["epochs"] % clf.config.query_every == 0:
            recent = buffer.next_obs[max(0, buffer.size - clf.config.query_every * epoch): buffer.size]
            q = clf.active_query(recent, teacher)
            info = {**info, "query_label": float(q.label), "queries": float(clf.n_queries)}
        buffer.relabel(clf)
        return {k: v for k, v in info.items() if k in ("stats/p_pos", "stats/p_neg", "stats/accuracy",
                                                       "query_label", "queries")}

    algo = _sac(run, sac)
    result = train_online(algo, run, reward_model=clf, callback=callback, initial_data=demos, progress=progress)
    return {**result, "classifier": clf, "algo": algo}


def train_adversarial(run: OnlineConfig, demos: TransitionDataset, kind: str = "gail",
                      config: AdversarialConfig | None = None, disc_steps: int = 10, batch_size: int = 256,
                      sac: dict[str, Any] | None = None, demos_in_buffer: bool = False,
                      progress: bool = True) -> dict[str, Any]:
    """SAC on a GAIL or AIRL discriminator's reward, trained against ``demos`` every epoch."""
    if kind not in ("gail", "airl"):
        raise OrlkitError(f"unknown adversarial kind {kind!r}; choose gail or airl")
    n_demos = demos.n_transitions if demos_in_buffer else 0
    check_no_wrap(run, n_demos, NO_WRAP)
    obs_dim, action_dim = demos.obs_shape[0], demos.action_dim
    disc = make_discriminator(obs_dim, action_dim, config or AdversarialConfig(kind=kind, seed=run.seed))
    algo = _sac(run, sac)
    expert = demos.sampler(batch_size, seed=run.seed)
    rng = np.random.default_rng(run.seed)
    epoch = run.callback_every

    def logp(obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return algo.actor.log_prob(obs, actions)  # the policy clamps |a| ≤ 1 − 1e-6 itself

    def callback(step: int, buffer: ReplayBuffer) -> dict[str, float] | None:
        lo = max(n_demos, buffer.size - 10 * epoch)  # the policy's last 10 epochs, never the demos
        metrics = []
        for _ in range(disc_steps):
            idx = rng.integers(lo, buffer.size, batch_size)
            metrics.append(disc.update(expert.sample(), buffer.rows(idx), policy_logp_fn=logp))
        buffer.relabel(disc)
        return {k: float(np.mean([m[k] for m in metrics])) for k in metrics[0] if k.startswith(("loss", "stats"))}

    result = train_online(algo, run, reward_model=disc, callback=callback,
                          initial_data=demos if demos_in_buffer else None, progress=progress)
    return {**result, "discriminator": disc, "algo": algo}

