"""What every learned reward model shares: one method, ``reward(obs, actions, next_obs) -> Tensor[B]``.

A reward model is trained from some kind of supervision (success examples, demonstrations,
preferences) and then stands in for the environment's reward: online (the replay buffer is
relabelled with it, PEBBLE-style) or offline (``orlkit relabel`` writes a dataset whose
``rewards`` column comes from it). Models that ignore actions or next states take them anyway,
so callers never need to know which kind they hold.
"""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from safetensors.torch import save_file

from orlkit.errors import OrlkitError
from orlkit.train.checkpoint import FORMAT_VERSION, read_checkpoint
from orlkit.train.io import atomic_write, write_json


@runtime_checkable
class RewardModel(Protocol):
    """The one interface of every reward model in orlkit."""

    def reward(self, obs: torch.Tensor, actions: torch.Tensor, next_obs: torch.Tensor,
               terminals: torch.Tensor | None = None) -> torch.Tensor:
        """Rewards (B,) for a batch of transitions: obs (B, obs_dim), actions (B, act_dim), next_obs (B, obs_dim).
        ``terminals`` (B,) bool marks transitions into a terminal state. It is optional: orlkit passes it
        (through :func:`call_reward`) only to models whose ``reward`` has that parameter; AIRL needs it (its
        shaping γ·h(s′) is 0 after a terminal), and a custom model may keep the three-argument form."""
        ...


@functools.cache
def _takes_terminals(reward: Any) -> bool:
    return "terminals" in inspect.signature(reward).parameters


def call_reward(model: RewardModel, obs: torch.Tensor, actions: torch.Tensor, next_obs: torch.Tensor,
                terminals: torch.Tensor | None = None) -> torch.Tensor:
    """``model.reward``, with ``terminals`` passed only to a model whose ``reward`` takes them (the signature
    is read once per reward function: the online loop calls this every environment step)."""
    reward = getattr(type(model), "reward", None) or model.reward  # the class's function, or an instance's own
    if terminals is not None and _takes_terminals(reward):
        return model.reward(obs, actions, next_obs, terminals=terminals)
    return model.reward(obs, actions, next_obs)


@torch.no_grad()
def relabel_rewards(model: RewardModel, obs: np.ndarray, actions: np.ndarray, next_obs: np.ndarray,
                    terminals: np.ndarray | None = None, chunk: int = 65_536) -> np.ndarray:
    """``model.reward`` over arrays of any length, in chunks; float32 (N,)."""
    out = np.empty(len(obs), dtype=np.float32)
    for i in range(0, len(obs), chunk):
        sl = slice(i, i + chunk)
        r = call_reward(model, torch.as_tensor(obs[sl], dtype=torch.float32),
                         torch.as_tensor(actions[sl], dtype=torch.float32),
                         torch.as_tensor(next_obs[sl], dtype=torch.float32),
                         None if terminals is None else torch.as_tensor(terminals[sl], dtype=torch.bool))
        out[sl] = r.detach().float().cpu().numpy().reshape(-1)
    return out


# ---------------------------------------------------------------------- checkpoints of reward models
# NAME.safetensors (tensors) + NAME.json (``reward_model``: the kind, config, dims); no code in either file.
def write_reward_checkpoint(path: str | Path, kind: str, tensors: dict[str, torch.Tensor],
                            meta: dict[str, Any]) -> Path:
    """``path``.safetensors, then ``path``.json (last, so a checkpoint with its JSON is complete); atomic."""
    base = Path(path).with_suffix("")
    atomic_write(base.with_suffix(".safetensors"),
                 lambda tmp: save_file({k: v.contiguous() for k, v in tensors.items()}, tmp))
    write_json(base.with_suffix(".json"), {"format_version": FORMAT_VERSION, "reward_model": kind, **meta})
    return base


def read_reward_checkpoint(path: str | Path, kind: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and JSON of a reward-model checkpoint; :class:`OrlkitError` if missing, corrupt or another kind."""
    tensors, meta = read_checkpoint(path)
    if meta.get("reward_model") != kind:
        raise OrlkitError(f"{Path(path).with_suffix('.json')}: checkpoint holds {meta.get('reward_model')!r}, "
                          f"not a {kind!r} reward model")
    return tensors, meta


REWARD_KINDS = ("preference", "goal_classifier", "gail", "airl")


def load_reward_model(path: str | Path, device: torch.device | str = "cpu") -> RewardModel:
    """Whichever reward model ``path`` holds (preference, goal classifier, GAIL, AIRL), from its JSON's kind."""
    _, meta = read_checkpoint(path)
    kind = meta.get("reward_model")
    if kind == "preference":
        from orlkit.rewards.preference import PreferenceRewardModel

        return PreferenceRewardModel.load(path, device)
    if kind == "goal_classifier":
        from orlkit.rewards.goal_classifier import GoalClassifier

        return GoalClassifier.load(path, device)
    if kind in ("gail", "airl"):
        from orlkit.rewards.adversarial import load_discriminator

        return load_discriminator(path, device)
    raise OrlkitError(f"{Path(path).with_suffix('.json')}: not a reward model checkpoint (reward_model = {kind!r}; "
                      f"expected one of {', '.join(REWARD_KINDS)})")
