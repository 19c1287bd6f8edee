"""D4RL-style locomotion datasets (Hopper, HalfCheetah, Walker2d; Gymnasium MuJoCo v5), made locally.

D4RL (Fu et al. 2020) rolled out SAC policies; its files are downloads. orlkit ships only the small
policy weights of its own SAC runs (``data/behavior/ENV.safetensors``, float16, about 1 MB per
environment; how they were trained and their returns: ``data/behavior/ENV.json`` and the
Locomotion section of ``docs/datasets.md``) and rolls the datasets out on demand, deterministically
from a seed:

- ``random``: uniform random actions in [-1, 1]. (D4RL used a randomly initialised policy.)
- ``medium``: the medium policy, actions sampled from its tanh-Gaussian.
- ``expert``: the expert policy, actions sampled. orlkit's "expert" is the best policy its CPU SAC
  run reached, which can be below D4RL's expert; its return is recorded next to the weights.
- ``medium-replay``: the analogue of D4RL's replay buffer up to medium performance: uniform random
  actions for the run's first ``start_steps``, then equal shares from each saved snapshot of the
  run in order, up to the medium policy; as many transitions as the run took to reach medium.
- ``medium-expert``: ``medium`` followed by ``expert`` (twice the rows, as in D4RL).

Every quality except ``medium-replay`` has 1,000,000 transitions by default. Episodes are whole
(the last one cut with ``timeouts = True``); a terminal is only a real fall, never the 1000-step limit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from orlkit.data.dataset import TransitionDataset
from orlkit.errors import OrlkitError

ENVS: dict[str, str] = {"hopper": "Hopper-v5", "halfcheetah": "HalfCheetah-v5", "walker2d": "Walker2d-v5"}
QUALITIES: tuple[str, ...] = ("random", "medium", "expert", "medium-replay", "medium-expert")
BEHAVIOR_DIR = Path(__file__).parent / "behavior"
DEFAULT_SIZE = 1_000_000

Policy = Callable[[np.ndarray, torch.Generator], np.ndarray]  # (n_envs, obs) → (n_envs, act) in [-1, 1]


def behavior_info(env_key: str, directory: Path | None = None) -> dict[str, Any]:
    """The JSON next to ``env_key``'s shipped weights (training command, steps, returns)."""
    path = Path(directory or BEHAVIOR_DIR) / f"{env_key}.json"
    if not path.exists():
        raise OrlkitError(f"no behavior policies shipped for '{env_key}' ({path} is missing)")
    return json.loads(path.read_text())


def load_behavior_policy(env_key: str, name: str, directory: Path | None = None) -> torch.nn.Module:
    """The shipped policy ``name`` (``medium``, ``expert`` or ``replay_K``) as a float32 TanhGaussianPolicy."""
    from safetensors.torch import load_file

    from orlkit.nets.policies import TanhGaussianPolicy

    info = behavior_info(env_key, directory)
    if name not in info["policies"]:
        raise OrlkitError(f"'{env_key}' has no behavior policy '{name}'; shipped: {', '.join(info['policies'])}")
    tensors = load_file(str(Path(directory or BEHAVIOR_DIR) / f"{env_key}.safetensors"))
    prefix = f"{name}."
    state = {k[len(prefix):]: v.float() for k, v in tensors.items() if k.startswith(prefix)}
    policy = TanhGaussianPolicy(info["obs_dim"], info["action_dim"], tuple(info["hidden"]))
    policy.load_state_dict(state)
    return policy.eval().requires_grad_(False)


def sampling_policy(policy: torch.nn.Module) -> Policy:
    def act(obs: np.ndarray, generator: torch.Generator) -> np.ndarray:
        with torch.no_grad():
            a, _ = policy.sample(torch.as_tensor(obs, dtype=torch.float32), generator)
        return a.numpy()
    return act


def uniform_policy(action_dim: int) -> Policy:
    def act(obs: np.ndarray, generator: torch.Generator) -> np.ndarray:
        return (torch.rand(obs.shape[0], action_dim, generator=generator) * 2 - 1).numpy()
    return act


def rollout(env_id: str, stages: list[tuple[Policy, int]], seed: int, n_envs: int = 8,
            meta: dict[str, Any] | None = None) -> TransitionDataset:
    """Roll out each ``(policy, n)`` stage for ``n`` transitions, in order, on ``n_envs`` copies of the env.

    The copies step in lockstep so the policy runs once per step on a batch. A stage keeps whole
    episodes in the order they finish; the last is cut to fit and marked as a timeout, and episodes
    still running when a stage is full are dropped (the next stage resets every copy).
    Deterministic: the same ``seed`` gives identical arrays.
    """
    from orlkit.envs.make import make_env

    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(int(rng.integers(2**31)))
    envs = [make_env(env_id) for _ in range(n_envs)]
    columns: dict[str, list[np.ndarray]] = {k: [] for k in ("obs", "actions", "rewards", "next_obs", "terminals",
                                                             "timeouts")}
    for policy, n in stages:
        kept = 0
        obs = np.stack([env.reset(seed=int(rng.integers(2**31)))[0] for env in envs])
        episodes: list[dict[str, list]] = [{k: [] for k in columns} for _ in envs]
        while kept < n:
            actions = policy(obs.astype(np.float32), generator).astype(np.float32)
            for i, env in enumerate(envs):
                nxt, r, terminated, truncated, _ = env.step(actions[i])
                ep = episodes[i]
                for key, value in (("obs", obs[i].copy()), ("actions", actions[i]), ("rewards", r), ("next_obs", nxt),
                                   ("terminals", terminated), ("timeouts", truncated)):
                    ep[key].append(value)
                if terminated or truncated or kept + len(ep["obs"]) >= n:
                    take = min(len(ep["obs"]), n - kept)
                    if take > 0:
                        for key in columns:
                            columns[key].append(np.asarray(ep[key][:take]))
                        if take < len(ep["obs"]) or not (terminated or truncated):
                            columns["terminals"][-1][-1] = False
                            columns["timeouts"][-1][-1] = True
                        kept += take
                    episodes[i] = {k: [] for k in columns}
                    nxt = env.reset(seed=int(rng.integers(2**31)))[0]
                obs[i] = nxt
                if kept >= n:
                    break
    for env in envs:
        env.close()
    cat = {k: np.concatenate(v) for k, v in columns.items()}
    return TransitionDataset(cat["obs"].astype(np.float32), cat["actions"], cat["rewards"].astype(np.float32),
                             cat["next_obs"].astype(np.float32), cat["terminals"].astype(bool),
                             cat["timeouts"].astype(bool), meta={"env_id": env_id, "seed": seed, **(meta or {})})


def make_locomotion_dataset(env_key: str, quality: str, seed: int = 0, n_transitions: int | None = None,
                            n_envs: int = 8) -> TransitionDataset:
    """``ENV-QUALITY`` (e.g. ``hopper-medium``): see the module docstring. ``n_transitions`` overrides
    the size (for ``medium-expert``, the size of each half)."""
    if env_key not in ENVS:
        raise OrlkitError(f"unknown locomotion env '{env_key}'; choose one of {', '.join(ENVS)}")
    if quality not in QUALITIES:
        raise OrlkitError(f"unknown dataset quality '{quality}'; choose one of {', '.join(QUALITIES)}")
    env_id = ENVS[env_key]
    size = n_transitions or DEFAULT_SIZE
    meta = {"behavior": f"orlkit SAC behavior policies, quality {quality}", "quality": quality}
    if quality == "random":  # needs no shipped weights
        from orlkit.envs.make import make_env

        action_dim = make_env(env_id).action_space.shape[0]
        return rollout(env_id, [(uniform_policy(action_dim), size)], seed, n_envs, meta)
    info = behavior_info(env_key)
    if quality in ("medium", "expert"):
        policy = sampling_policy(load_behavior_policy(env_key, quality))
        return rollout(env_id, [(policy, size)], seed, n_envs, meta)
    if quality == "medium-expert":
        halves = [make_locomotion_dataset(env_key, q, seed + i, n_transitions, n_envs)
                  for i, q in enumerate(("medium", "expert"))]
        return TransitionDataset.concatenate(halves, meta={"env_id": env_id, "seed": seed, **meta})
    # medium-replay: the run's random start, then its snapshots in order up to medium
    replay = info["replay"]
    total = n_transitions or replay["steps"]
    names = replay["policies"]
    first = max(1, round(total * replay["start_steps"] / replay["steps"]))
    share = (total - first) // len(names)
    stages = [(uniform_policy(info["action_dim"]), first)]
    stages += [(sampling_policy(load_behavior_policy(env_key, name)), share) for name in names[:-1]]
    stages.append((sampling_policy(load_behavior_policy(env_key, names[-1])), total - first - share * (len(names) - 1)))
    return rollout(env_id, stages, seed, n_envs, meta)


def export_behavior(run_dir: str | Path, env_key: str, medium_step: int, expert_step: int,
                    replay_steps: list[int], returns: dict[str, float], extra: dict[str, Any] | None = None,
                    out_dir: str | Path = BEHAVIOR_DIR) -> Path:
    """Write the actor weights of an ``orlkit online sac`` run's snapshots as ``ENV.safetensors`` (float16)
    plus ``ENV.json``. Maintainers run this once after training (the Locomotion section of docs/datasets.md)."""
    from safetensors.torch import save_file

    from orlkit.train.checkpoint import read_checkpoint
    from orlkit.train.io import atomic_write, write_json

    run_dir, out_dir = Path(run_dir), Path(out_dir)
    config = json.loads((run_dir / "config.json").read_text())
    wanted = {"medium": medium_step, "expert": expert_step,
              **{f"replay_{i:02d}": s for i, s in enumerate(replay_steps)}}
    tensors: dict[str, torch.Tensor] = {}
    spec = None
    for name, step in wanted.items():
        state, meta = read_checkpoint(run_dir / "snapshots" / f"step_{step:08d}")
        spec = meta["spec"]
        prefix = "modules.actor."
        for key, value in state.items():
            if key.startswith(prefix):
                tensors[f"{name}.{key[len(prefix):]}"] = value.to(torch.float16).contiguous()
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(out_dir / f"{env_key}.safetensors", lambda tmp: save_file(tensors, tmp))
    info = {
        "env_id": ENVS[env_key], "obs_dim": spec["obs_dim"], "action_dim": spec["action_dim"],
        "hidden": list(config["algo_config"]["hidden"]),
        "policies": list(wanted), "steps": wanted, "returns": returns,
        "replay": {"policies": [f"replay_{i:02d}" for i in range(len(replay_steps))] + ["medium"],
                   "steps": medium_step, "start_steps": int(config["start_steps"])},
        **(extra or {}),
    }
    write_json(out_dir / f"{env_key}.json", info)
    return out_dir / f"{env_key}.safetensors"


def policy_returns(env_key: str, name: str, episodes: int = 10, seed: int = 0,
                   directory: Path | None = None) -> dict[str, float]:
    """Mean and std of a shipped policy's return over ``episodes`` whole episodes, actions sampled
    (as in the datasets)."""
    from orlkit.train.evaluate import evaluate

    policy = sampling_policy(load_behavior_policy(env_key, name, directory))
    generator = torch.Generator().manual_seed(seed)
    res = evaluate(lambda obs: policy(obs.astype(np.float32), generator), ENVS[env_key], episodes, seed)
    return {"mean": float(res["return_mean"]), "std": float(res["return_std"]), "episodes": episodes}


def select_and_export(run_dir: str | Path, env_key: str, n_replay: int = 5, medium_fraction: float = 1 / 3,
                      out_dir: str | Path = BEHAVIOR_DIR, extra: dict[str, Any] | None = None,
                      medium_by: str = "deterministic") -> dict[str, Any]:
    """Choose the snapshots of an ``orlkit online sac --snapshot-every`` run and export them.

    expert: the snapshot with the best evaluation return (``eval.jsonl``, deterministic actions);
    medium: among earlier snapshots, the one whose return is closest to ``medium_fraction`` of the
    expert's — the evaluation returns (``medium_by="deterministic"``), or every candidate's and the
    expert's return with sampled actions, the actions the datasets are rolled out with, measured here
    (``medium_by="sampled"``; walker2d version 3); replay: ``n_replay`` snapshots evenly spaced before
    medium. Then measures each exported policy's return with sampled actions and records it in ``ENV.json``.
    """
    if medium_by not in ("deterministic", "sampled"):
        raise OrlkitError(f"medium_by must be 'deterministic' or 'sampled', not {medium_by!r}")
    run_dir = Path(run_dir)
    evals = [json.loads(line) for line in (run_dir / "eval.jsonl").read_text().splitlines() if line.strip()]
    snaps = {int(p.stem.split("_")[1]) for p in (run_dir / "snapshots").glob("step_*.json")}
    evals = [e for e in evals if e["step"] in snaps]
    if len(evals) < 2:
        raise OrlkitError(f"{run_dir}: need at least two evaluated snapshots, found {len(evals)}")
    expert = max(evals, key=lambda e: e["return_mean"])
    start_steps = int(json.loads((run_dir / "config.json").read_text())["start_steps"])
    # snapshots from the random-action warm-up are policies that never acted in the run: not replay stages
    earlier = [e for e in evals if start_steps < e["step"] < expert["step"]]
    if not earlier:
        raise OrlkitError(f"{run_dir}: no snapshot after the random warm-up ({start_steps} steps) comes before the "
                          f"best one (step {expert['step']}); nothing can be medium")
    extra, measured = dict(extra or {}), {}
    if medium_by == "sampled":
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:  # every candidate exported as it would ship, then measured
            steps = [e["step"] for e in earlier]
            export_behavior(run_dir, env_key, steps[0], expert["step"], steps, returns={}, out_dir=tmp)
            sampled = {s: policy_returns(env_key, f"replay_{i:02d}", directory=Path(tmp)) for i, s in enumerate(steps)}
            expert_returns = policy_returns(env_key, "expert", directory=Path(tmp))
        target = medium_fraction * expert_returns["mean"]
        medium = min(earlier, key=lambda e: abs(sampled[e["step"]]["mean"] - target))
        # the same float16 weights, seed and episodes as the shipped files: these are their returns
        measured = {"medium": sampled[medium["step"]], "expert": expert_returns}
        extra["medium_by_sampled_return"] = {str(s): round(r["mean"], 1) for s, r in sampled.items()}
    else:
        target = medium_fraction * expert["return_mean"]
        medium = min(earlier, key=lambda e: abs(e["return_mean"] - target))
    before = sorted(s for s in snaps if start_steps < s < medium["step"])
    picks = [before[round(i * (len(before) - 1) / max(n_replay - 1, 1))] for i in range(n_replay)] if before else []
    replay_steps = sorted(set(picks))
    eval_returns = {"medium": medium["return_mean"], "expert": expert["return_mean"]}
    export_behavior(run_dir, env_key, medium["step"], expert["step"], replay_steps, returns={},
                    extra={"eval_returns_deterministic": eval_returns, **extra}, out_dir=out_dir)
    from orlkit.train.io import write_json

    info = behavior_info(env_key, Path(out_dir))
    info["returns"] = {name: measured.get(name) or policy_returns(env_key, name, directory=Path(out_dir))
                       for name in ("medium", "expert")}
    write_json(Path(out_dir) / f"{env_key}.json", info)
    return info
