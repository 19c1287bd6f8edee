"""Online off-policy training: act in the environment, store transitions, update from a replay buffer.

Written once for every online use in orlkit: SAC on the true reward (behavior policies for the
locomotion datasets), SAC on a learned reward (preference RL, goal classifiers, GAIL/AIRL). The
loop is the standard one (Haarnoja et al. 2018): ``start_steps`` uniform random actions, then one
gradient update per environment step on a uniformly sampled batch.

Learned rewards. With ``reward_model`` the buffer's ``rewards`` column holds the model's rewards
and ``true_rewards`` keeps the environment's, so the return the policy really earns is always
known. ``callback(step, buffer)`` runs every ``callback_every`` environment steps: that is where a
reward learner asks its queries, trains, and calls ``buffer.relabel(model)`` (PEBBLE: relabel the
whole buffer after every reward update; Lee et al. 2021).

A run directory (optional) holds ``config.json``, ``train.jsonl`` (one row per finished training
episode: ``step, return, true_return, length``), ``eval.jsonl`` and ``checkpoints/`` with the
algorithm's state and the replay buffer. ``resume=True`` continues from the last checkpoint;
the environment episode in progress at the checkpoint restarts with a fresh reset, so a resumed
run is not bitwise equal to an uninterrupted one (offline ``train`` is).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from tqdm.auto import tqdm

from orlkit.algos.base import Algorithm, DataSpec
from orlkit.data.dataset import Batch, TransitionDataset
from orlkit.errors import OrlkitError, option_name
from orlkit.nets.precision import autocast, check_precision
from orlkit.rewards.base import RewardModel, call_reward, relabel_rewards
from orlkit.train.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from orlkit.train.denormal import flush_denormals
from orlkit.train.evaluate import evaluate
from orlkit.train.io import atomic_write, read_jsonl, write_json, write_jsonl
from orlkit.train.malloc import tune_malloc


@dataclass
class OnlineConfig:
    """One online run (saved as ``config.json``)."""

    env_id: str
    steps: int = 50_000  # environment steps
    start_steps: int = 1_000  # uniform random actions before the policy acts
    update_after: int = 1_000  # first gradient update after this many steps
    updates_per_step: int = 1  # gradient updates per environment step (UTD ratio)
    buffer_size: int = 1_000_000
    seed: int = 0
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    eval_every: int = 5_000  # 0: only at the end
    eval_episodes: int = 5
    checkpoint_every: int = 0  # 0: at every evaluation; checkpoints keep the replay buffer
    keep_checkpoints: int = 2
    snapshot_every: int = 0  # >0: also keep the policy weights every this many steps (snapshots/)
    callback_every: int = 1_000  # call ``callback(step, buffer)`` every this many steps
    precision: str = "fp32"  # "bf16": updates under bf16 autocast (nets/precision.py)
    initial_fraction: float = 0.0  # share of every batch drawn from ``initial_data`` (RLPD: 0.5); 0: uniform

    def __post_init__(self) -> None:
        check_precision(self.precision)
        for name in ("steps", "buffer_size", "eval_episodes", "updates_per_step", "callback_every"):
            if getattr(self, name) < 1:
                raise OrlkitError(f"{option_name(name)} must be at least 1, got {getattr(self, name)}")
        for name in ("start_steps", "update_after", "eval_every", "checkpoint_every", "snapshot_every"):
            if getattr(self, name) < 0:
                raise OrlkitError(f"{option_name(name)} must be ≥ 0, got {getattr(self, name)}")
        if not 0.0 <= self.initial_fraction < 1.0:
            raise OrlkitError(f"initial_fraction must be in [0, 1), got {self.initial_fraction}")


class ReplayBuffer:
    """A ring buffer of transitions in preallocated arrays; sampling draws one index tensor.

    Columns: ``obs, actions, rewards, next_obs, terminals, timeouts`` (as in TransitionDataset) plus
    ``true_rewards`` (the environment's reward) and ``episode`` (which episode a row came from).
    """

    def __init__(self, obs_dim: int, action_dim: int, capacity: int, seed: int = 0):
        self.capacity = int(capacity)
        self.obs = np.zeros((capacity, obs_dim), dtype=np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), dtype=np.float32)
        self.actions = np.zeros((capacity, action_dim), dtype=np.float32)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.true_rewards = np.zeros(capacity, dtype=np.float32)
        self.terminals = np.zeros(capacity, dtype=bool)
        self.timeouts = np.zeros(capacity, dtype=bool)
        self.episode = np.zeros(capacity, dtype=np.int64)
        self.size = 0
        self.pos = 0
        self.generator = torch.Generator()
        self.generator.manual_seed(seed)

    _COLUMNS = ("obs", "next_obs", "actions", "rewards", "true_rewards", "terminals", "timeouts", "episode")

    def add(self, obs, action, reward: float, true_reward: float, next_obs, terminal: bool, timeout: bool,
            episode: int) -> None:
        i = self.pos
        self.obs[i], self.actions[i], self.next_obs[i] = obs, action, next_obs
        self.rewards[i], self.true_rewards[i] = reward, true_reward
        self.terminals[i], self.timeouts[i], self.episode[i] = terminal, timeout, episode
        self.pos = (self.pos + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int, first: int = 0, fraction: float = 0.0) -> Batch:
        """A uniform batch from the filled rows (this buffer's own generator).

        With ``first > 0`` and ``fraction > 0``, ``round(fraction · batch_size)`` rows come from rows
        ``[0, first)`` (e.g. demonstrations) and the rest from ``[first, size)`` (RLPD's symmetric
        sampling at 0.5; at least one row when ``fraction > 0``), once the latter holds any row. The
        caller keeps rows ``[0, first)`` from being overwritten (``train_online`` sizes the ring so it
        never wraps when it uses this).
        """
        k = max(1, round(fraction * batch_size)) if fraction > 0 and 0 < first < self.size else 0
        if k == 0:
            return self.rows(torch.randint(0, self.size, (batch_size,), generator=self.generator).numpy())
        idx = torch.cat([torch.randint(0, first, (k,), generator=self.generator),
                         torch.randint(first, self.size, (batch_size - k,), generator=self.generator)])
        return self.rows(idx.numpy())

    def rows(self, idx: np.ndarray) -> Batch:
        """The transitions at storage rows ``idx`` as a Batch."""
        return Batch(obs=torch.from_numpy(self.obs[idx]), actions=torch.from_numpy(self.actions[idx]),
                     rewards=torch.from_numpy(self.rewards[idx]), next_obs=torch.from_numpy(self.next_obs[idx]),
                     terminals=torch.from_numpy(self.terminals[idx]), timeouts=torch.from_numpy(self.timeouts[idx]))

    def relabel(self, model: RewardModel) -> None:
        """Replace every stored reward with ``model``'s (PEBBLE's relabelling after a reward update)."""
        n = self.size
        self.rewards[:n] = relabel_rewards(model, self.obs[:n], self.actions[:n], self.next_obs[:n], self.terminals[:n])

    def view(self, name: str) -> np.ndarray:
        """The filled part of a column (in storage order)."""
        return getattr(self, name)[: self.size]

    def to_dataset(self, meta: dict[str, Any] | None = None, true_rewards: bool = True) -> TransitionDataset:
        """The buffer's transitions in insertion order as a TransitionDataset (a "replay" dataset).

        The episode in progress at the end has no terminal or timeout flag; it is marked as a timeout
        so that episode boundaries stay well defined.
        """
        order = np.arange(self.size) if self.size < self.capacity else (np.arange(self.size) + self.pos) % self.size
        timeouts = self.timeouts[order].copy()
        if not (self.terminals[order[-1]] or timeouts[-1]):
            timeouts[-1] = True
        return TransitionDataset(self.obs[order], self.actions[order],
                                 (self.true_rewards if true_rewards else self.rewards)[order], self.next_obs[order],
                                 self.terminals[order], timeouts, meta=meta)

    def state_dict(self) -> dict[str, np.ndarray]:
        n = self.size
        out = {name: getattr(self, name)[:n] for name in self._COLUMNS}
        out["meta"] = np.array([self.size, self.pos, self.capacity], dtype=np.int64)
        out["generator"] = self.generator.get_state().numpy()
        return out

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore a saved buffer, in time order, into this buffer (whose capacity may differ)."""
        size, pos, capacity = (int(v) for v in state["meta"])
        if size > self.capacity:
            raise OrlkitError(f"the saved replay buffer holds {size} transitions, more than this run's capacity "
                              f"{self.capacity}; resume with at least as many --steps as before")
        order = np.arange(size) if size < capacity else (np.arange(size) + pos) % size  # oldest first
        for name in self._COLUMNS:
            getattr(self, name)[:size] = state[name][order]
        self.size, self.pos = size, size % self.capacity
        self.generator.set_state(torch.from_numpy(np.array(state["generator"], dtype=np.uint8)))


def continuous_spec(env_id: str, env_kwargs: dict[str, Any] | None = None) -> DataSpec:
    """The DataSpec of an environment for orlkit's continuous-action MLP agents; a clear error otherwise."""
    from orlkit.envs.make import make_env

    env = make_env(env_id, env_kwargs)
    space, obs_space = env.action_space, env.observation_space
    env.close()
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
        raise OrlkitError(f"{env_id}: online training needs a continuous (Box) action space, got {space}")
    if obs_space.shape is None or len(obs_space.shape) != 1:
        raise OrlkitError(f"{env_id}: orlkit's MLP algorithms need flat observations, got {obs_space}")
    return DataSpec(obs_space.shape[0], None, space.shape[0])


def _append(path: Path, row: dict[str, Any]) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


def check_no_wrap(run: OnlineConfig, n_initial: int, why: str) -> None:
    """Refuse a ring buffer that would overwrite rows: ``why`` says what needs them all kept."""
    if run.buffer_size < run.steps + n_initial:
        raise OrlkitError(f"buffer_size {run.buffer_size} < steps + initial rows ({run.steps + n_initial}): {why}")


def train_online(algo: Algorithm, run: OnlineConfig, out_dir: str | Path | None = None, *,
                 reward_model: RewardModel | None = None,
                 callback: Callable[[int, ReplayBuffer], dict[str, float] | None] | None = None,
                 initial_data: TransitionDataset | None = None, resume: bool = False,
                 progress: bool = True) -> dict[str, Any]:
    """Train ``algo`` (an off-policy actor-critic such as SAC) by acting in ``run.env_id``.

    ``initial_data`` (e.g. demonstrations) is put in the replay buffer before the first step; its
    rows count against ``buffer_size`` but not against ``steps``, and they are relabelled like the
    rest when a reward model is given.

    Returns ``{"train": [...episodes], "eval": [...], "callbacks": [...], "buffer": ReplayBuffer, ...}``;
    with ``out_dir`` the same rows are written to files as they happen.
    """
    from orlkit.envs.make import make_env

    check_precision(run.precision, algo.device)  # bf16 on a CPU without bf16 matmuls: refused before any work
    if getattr(algo.config, "normalize_obs", False):
        raise OrlkitError(f"{algo.name}: normalize_obs standardises by the statistics of a fixed dataset; online "
                          "training's data grows as it runs, so leave it off here")
    env = make_env(run.env_id, run.env_kwargs)
    space = env.action_space
    if algo.spec.discrete or space.shape != (algo.spec.action_dim,):
        raise OrlkitError(f"{algo.name} expects a {algo.spec.action_dim}-dim continuous action space; "
                          f"{run.env_id} has {space}")
    if env.observation_space.shape != (algo.spec.obs_dim,):
        raise OrlkitError(f"{algo.name} expects {algo.spec.obs_dim}-dim observations; {run.env_id} has "
                          f"{env.observation_space.shape}")
    n_initial = 0 if initial_data is None else initial_data.n_transitions
    if run.initial_fraction and (initial_data is None or resume):
        raise OrlkitError("initial_fraction needs initial_data (the rows to draw that share from) and a fresh run "
                          "(resuming one is not supported)")
    if run.initial_fraction:
        check_no_wrap(run, n_initial, "initial_fraction needs every initial row kept")
    buffer = ReplayBuffer(algo.spec.obs_dim, algo.spec.action_dim, min(run.buffer_size, run.steps + n_initial),
                          seed=run.seed)
    tune_malloc()
    flush_denormals()  # this thread's; OpenMP's threads have it only if made after (train/denormal.py)
    rng = np.random.default_rng(run.seed)
    out = Path(out_dir) if out_dir is not None else None
    start, episode = 0, 0
    history: dict[str, list[dict[str, Any]]] = {"train": [], "eval": [], "callbacks": []}
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        if resume and (reward_model is not None or callback is not None):
            raise OrlkitError("resuming a run with a learned reward is not supported: the reward model and its "
                              "labels are not checkpointed")
        if resume:
            ckpt = latest_checkpoint(out / "checkpoints")
            if ckpt is None:
                raise OrlkitError(f"{out}: nothing to resume (no checkpoint); start without --resume")
            meta = load_checkpoint(ckpt, algo)
            start, episode = int(meta["step"]), int(meta["episode"])
            with np.load(ckpt.with_suffix(".buffer.npz")) as z:
                buffer.load_state_dict(dict(z))
            last = (buffer.pos - 1) % buffer.capacity
            if buffer.size and not (buffer.terminals[last] or buffer.timeouts[last]):
                buffer.timeouts[last] = True  # the episode in progress ends here; a fresh one starts
                episode += 1
            rng = np.random.default_rng([run.seed, start])
            for name in ("train", "eval", "callbacks"):
                rows = [r for r in read_jsonl(out / f"{name}.jsonl") if r["step"] <= start]
                write_jsonl(out / f"{name}.jsonl", rows)
                history[name] = rows
        elif (out / "config.json").exists():
            raise OrlkitError(f"{out} already holds a run; add --resume to continue it or choose another --out")
        write_json(out / "config.json", {"kind": "online", "algo": algo.name,
                                         "algo_config": dataclasses.asdict(algo.config), **dataclasses.asdict(run)})

    def log(name: str, row: dict[str, Any]) -> None:
        history[name].append(row)
        if out is not None:
            _append(out / f"{name}.jsonl", row)

    if initial_data is not None and not resume:
        if initial_data.discrete or initial_data.obs_shape != (algo.spec.obs_dim,) or \
                initial_data.action_dim != algo.spec.action_dim:
            raise OrlkitError(f"initial_data has obs {initial_data.obs_shape} and {initial_data.action_dim}-dim "
                              f"actions; {algo.name} expects ({algo.spec.obs_dim},) and {algo.spec.action_dim}")
        starts, ends = initial_data.episode_bounds
        for ep, (a, b) in enumerate(zip(starts, ends, strict=True)):
            for i in range(a, b + 1):
                buffer.add(initial_data.obs[i], initial_data.actions[i], initial_data.rewards[i],
                           initial_data.rewards[i], initial_data.next_obs[i], initial_data.terminals[i],
                           bool(initial_data.timeouts[i] or i == b) and not initial_data.terminals[i], -1 - ep)
        if reward_model is not None:
            buffer.relabel(reward_model)
    checkpoint_every = run.checkpoint_every or run.eval_every
    gamma = getattr(algo.config, "gamma", None)
    obs, _ = env.reset(seed=int(rng.integers(2**31)))
    ep_ret, ep_true, ep_len = 0.0, 0.0, 0
    t0 = time.perf_counter()
    bar = tqdm(total=run.steps, initial=start, disable=not progress, desc=f"{algo.name} online", unit="step",
               dynamic_ncols=True, mininterval=0.5 if sys.stderr.isatty() else 30.0)
    for step in range(start + 1, run.steps + 1):
        if step <= run.start_steps:
            action = rng.uniform(-1.0, 1.0, size=space.shape).astype(np.float32)
        else:
            action = algo.act(obs, deterministic=False)
        next_obs, true_r, terminated, truncated, _ = env.step(action)
        r = true_r
        if reward_model is not None:
            with torch.no_grad():
                r = float(call_reward(reward_model, torch.as_tensor(obs, dtype=torch.float32)[None],
                                      torch.as_tensor(action, dtype=torch.float32)[None],
                                      torch.as_tensor(next_obs, dtype=torch.float32)[None],
                                      torch.tensor([bool(terminated)]))[0])
        buffer.add(obs, action, r, true_r, next_obs, terminated, truncated and not terminated, episode)
        ep_ret, ep_true, ep_len = ep_ret + r, ep_true + float(true_r), ep_len + 1
        obs = next_obs
        if terminated or truncated:
            log("train", {"step": step, "return": ep_ret, "true_return": ep_true, "length": ep_len})
            bar.set_postfix(ret=f"{ep_true:.1f}")
            obs, _ = env.reset(seed=int(rng.integers(2**31)))
            ep_ret, ep_true, ep_len, episode = 0.0, 0.0, 0, episode + 1
        if callback is not None and step % run.callback_every == 0:
            info = callback(step, buffer)
            if info:
                log("callbacks", {"step": step, **info})
        if step > run.update_after:
            for _ in range(run.updates_per_step):
                with autocast(run.precision, algo.device):
                    metrics = algo.update(buffer.sample(algo.config.batch_size, n_initial, run.initial_fraction))
            if not all(np.isfinite(v) for v in metrics.values()):
                raise FloatingPointError(f"non-finite metrics at step {step}: {metrics}")
        if (run.eval_every and step % run.eval_every == 0) or step == run.steps:
            ev = evaluate(lambda o: algo.act(o, deterministic=True), run.env_id, run.eval_episodes,
                          100_000 + 1_000 * run.seed, run.env_kwargs, gamma=gamma)
            log("eval", {"step": step, "wall_time_s": time.perf_counter() - t0,
                         **{k: v for k, v in ev.items() if k != "returns"}})
        if out is not None and run.snapshot_every and step % run.snapshot_every == 0:
            save_checkpoint(out / "snapshots" / f"step_{step:08d}", algo, meta={"step": step})
        if out is not None and ((checkpoint_every and step % checkpoint_every == 0) or step == run.steps):
            _checkpoint(out / "checkpoints", step, episode, algo, buffer, run.keep_checkpoints)
        bar.update(1)
    bar.close()
    env.close()
    summary = {"env_id": run.env_id, "seed": run.seed, "steps": run.steps, "wall_time_s": time.perf_counter() - t0,
               "final_eval": history["eval"][-1] if history["eval"] else None}
    if out is not None:
        write_json(out / "summary.json", summary)
    return {**summary, **history, "buffer": buffer}


def _checkpoint(ckpt_dir: Path, step: int, episode: int, algo: Algorithm, buffer: ReplayBuffer, keep: int) -> None:
    path = ckpt_dir / f"step_{step:08d}"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    state = buffer.state_dict()

    def _write(tmp: str) -> None:
        with open(tmp, "wb") as f:  # a file object: np.savez would append .npz to a path
            np.savez(f, **state)

    atomic_write(path.with_suffix(".buffer.npz"), _write)
    save_checkpoint(path, algo, meta={"step": step, "episode": episode})
    for old in sorted(ckpt_dir.glob("step_*.json"))[:-keep]:
        old.unlink()
        old.with_suffix(".safetensors").unlink(missing_ok=True)
        old.with_suffix(".buffer.npz").unlink(missing_ok=True)
