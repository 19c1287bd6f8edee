"""Rewards from success examples and demonstrations, measured on the pusher task (the lecture, part 2b).

``orlkit demo goal-classifier [--json] [--seeds N] [--plot PNG]`` compares, over seeds:

(a) **BC** on the 50 scripted demonstrations;
(b) **frozen classifier**: SAC on the logit of a goal classifier trained once on the demos' final
    states (success examples) against random failure states, then never updated;
(c) **VICE**: the same classifier, retrained every epoch (1000 env steps) with the states the
    policy visited as negatives, on balanced 50/50 batches with mixup; **VICE-RAQ** adds one active
    query every 5 epochs (the ground-truth success test labels the visited state with the highest
    reward);
(d) **GAIL** and **AIRL** discriminators against the demonstrations.

For every method: ``true_success`` (the environment's success test on the final state of 20
evaluation episodes), ``predicted_success`` (the fraction of those final states the method's own
reward model calls a success, p > ½; for GAIL/AIRL and BC there is no success classifier: None),
``late_success`` (the share of evaluation episodes that reach the goal at any step, averaged over the
last ``LATE_EVALS`` evaluations during training: how steady a method is, not only where its final
policy ended) and ``env_steps`` used. All RL methods start with the demonstrations in the replay
buffer (relabelled by their reward model), so every method sees the same 50 demonstrations, and every
SAC batch is half demonstration transitions, half the policy's own (``DEMO_FRACTION``, the symmetric
sampling of Ball et al. 2023, RLPD), with 2 updates per environment step (``UPDATES_PER_STEP``).
"""

from __future__ import annotations

import tempfile
from typing import Any

import numpy as np

from orlkit.envs import pusher
from orlkit.train.io import save_figure

ENV_ID = "orlkit/Pusher-v0"
METHODS = ("BC", "frozen classifier", "VICE", "VICE-RAQ", "GAIL", "AIRL")
N_DEMOS = 50
EVAL_EPISODES = 20
LATE_EVALS = 4  # "late success": the mean of the last this many evaluations during training
UPDATES_PER_STEP = 2  # SAC gradient updates per environment step
DEMO_FRACTION = 0.5  # share of every SAC batch drawn from the demonstrations (RLPD's symmetric sampling)
# the classifier: small, and fast enough to keep up with the policy (Adam 1e-3, 50 balanced steps per epoch)
CLASSIFIER = {"hidden": (64, 64), "lr": 1e-3, "steps_per_update": 50}


def _final_states(act, episodes: int, seed: int) -> np.ndarray:
    """Final observations (episodes, 4) of the deterministic policy ``act`` from seeded resets."""
    from orlkit.envs.make import make_env

    env = make_env(ENV_ID)
    finals = []
    for ep in range(episodes):
        obs, _ = env.reset(seed=seed + ep)
        done = False
        while not done:
            obs, _, terminated, truncated, _ = env.step(act(obs))
            done = terminated or truncated
        finals.append(obs)
    env.close()
    return np.array(finals, dtype=np.float32)


def run_method(method: str, seed: int, steps: int, progress: bool = False) -> dict[str, Any]:
    """One method, one seed: ``true_success``, ``predicted_success`` (or None), ``env_steps``, curve."""
    from orlkit.rewards.example_rl import train_adversarial, train_with_classifier
    from orlkit.rewards.goal_classifier import GoalClassifierConfig
    from orlkit.train.online import OnlineConfig

    demos = pusher.make_demos(N_DEMOS, seed=seed)
    eval_seed = 500_000 + 1000 * seed
    if method == "BC":
        from orlkit.train.fit import RunConfig, train

        with tempfile.TemporaryDirectory() as tmp:
            from orlkit.train.fit import load_run

            train(RunConfig(algo="bc", dataset="pusher-demos", env_id=ENV_ID, steps=5000, seed=seed, eval_every=0,
                            eval_episodes=1, tensorboard=False), tmp, progress=progress, dataset=demos)
            algo, _, _ = load_run(tmp)
        finals = _final_states(lambda o: algo.act(o), EVAL_EPISODES, eval_seed)
        return {"true_success": float(pusher.is_success(finals).mean()), "predicted_success": None, "env_steps": 0,
                "curve": []}
    run = OnlineConfig(ENV_ID, steps=steps, eval_every=5000, eval_episodes=EVAL_EPISODES, seed=seed,
                       callback_every=1000, updates_per_step=UPDATES_PER_STEP, initial_fraction=DEMO_FRACTION)
    sac = {"hidden": (128, 128)}
    if method in ("GAIL", "AIRL"):
        res = train_adversarial(run, demos, kind=method.lower(), sac=sac, demos_in_buffer=True, progress=progress)
        model = None
    else:
        mode = {"frozen classifier": "frozen", "VICE": "vice", "VICE-RAQ": "raq"}[method]
        positives = demos.obs[demos.episode_bounds[1]][pusher.is_success(demos.obs[demos.episode_bounds[1]])]
        res = train_with_classifier(run, positives, pusher.failure_examples(300, seed=seed), mode=mode,
                                    config=GoalClassifierConfig(**CLASSIFIER, seed=seed),
                                    teacher=lambda s: bool(pusher.is_success(s[None])[0]), sac=sac, demos=demos,
                                    progress=progress)
        model = res["classifier"]
    algo = res["algo"]
    finals = _final_states(lambda o: algo.act(o, deterministic=True), EVAL_EPISODES, eval_seed)
    out = {"true_success": float(pusher.is_success(finals).mean()),
           "predicted_success": None if model is None else float((model.prob(finals) > 0.5).mean()),
           "env_steps": steps, "curve": [{"step": e["step"], "success_rate": e.get("success_rate", 0.0)}
                                         for e in res["eval"]]}
    if method == "VICE-RAQ":
        out["queries"] = int(model.n_queries)
    return out


def run(seeds: int = 3, steps: int = 40_000, methods: tuple[str, ...] = METHODS, progress: bool = True
        ) -> dict[str, Any]:
    return summarize({m: [run_method(m, seed, steps, progress) for seed in range(seeds)] for m in methods}, steps)


def summarize(per_seed_results: dict[str, list[dict[str, Any]]], steps: int) -> dict[str, Any]:
    """The results of :func:`run` from ``{method: [run_method(method, seed, steps) for each seed]}``."""
    seeds = {len(v) for v in per_seed_results.values()}
    if not per_seed_results or 0 in seeds:
        raise ValueError("summarize needs at least one method with at least one seed")
    if len(seeds) != 1:
        raise ValueError(f"every method needs the same number of seeds, got {seeds}")
    results: dict[str, Any] = {"env_id": ENV_ID, "seeds": seeds.pop(), "env_steps": steps, "demos": N_DEMOS,
                               "eval_episodes": EVAL_EPISODES, "updates_per_step": UPDATES_PER_STEP,
                               "demo_fraction": DEMO_FRACTION, "methods": {}}
    for method, per_seed in per_seed_results.items():
        entry: dict[str, Any] = {"per_seed": per_seed}
        for key in ("true_success", "predicted_success"):
            vals = [r[key] for r in per_seed if r[key] is not None]
            entry[key] = {"mean": float(np.mean(vals)), "std": float(np.std(vals))} if vals else None
        late = [np.mean([p["success_rate"] for p in r["curve"][-LATE_EVALS:]]) for r in per_seed if r["curve"]]
        entry["late_success"] = {"mean": float(np.mean(late)), "std": float(np.std(late))} if late else None
        entry["env_steps"] = per_seed[0]["env_steps"]
        results["methods"][method] = entry
    return results


def table(results: dict[str, Any]) -> str:
    from orlkit.cli import format_table

    def fmt(s: dict[str, float] | None) -> str:
        return "—" if s is None else f"{100 * s['mean']:.0f}% ± {100 * s['std']:.0f}"

    rows = [[name, fmt(e["true_success"]), fmt(e["predicted_success"]), fmt(e.get("late_success")), e["env_steps"]]
            for name, e in results["methods"].items()]
    return (format_table(["method", "true success", "predicted success (own classifier, p > ½)",
                          f"late success (last {LATE_EVALS} evaluations)", "env steps"], rows)
            + f"\n\n{results['env_id']}, {results['demos']} scripted demonstrations, mean ± std over "
            f"{results['seeds']} seeds, {results['eval_episodes']} evaluation episodes per seed. True and predicted "
            "success judge the final state of each episode of the final policy; late success is the share of "
            "episodes that reach the goal at any step, averaged over the last evaluations during training.")


def plot(results: dict[str, Any], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    names = list(results["methods"])
    true = [results["methods"][n]["true_success"]["mean"] for n in names]
    pred = [(results["methods"][n]["predicted_success"] or {"mean": np.nan})["mean"] for n in names]
    x = np.arange(len(names))
    ax[0].bar(x - 0.2, true, 0.4, label="true success")
    ax[0].bar(x + 0.2, pred, 0.4, label="predicted by its own classifier")
    ax[0].set_xticks(x, names, rotation=20, fontsize=8)
    ax[0].set(ylabel="fraction of evaluation episodes", ylim=(0, 1), title="final-state success")
    ax[0].legend(fontsize=8)
    for name, e in results["methods"].items():
        curves = [r["curve"] for r in e["per_seed"] if r["curve"]]
        if curves:
            steps = [p["step"] for p in curves[0]]
            ax[1].plot(steps, np.mean([[p["success_rate"] for p in c] for c in curves], 0), label=name)
    ax[1].set(xlabel="environment steps", ylabel="success at any step of an episode", title="during training",
              ylim=(0, 1))
    ax[1].legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def main(json_output: bool = False, seeds: int = 3, progress: bool = True, plot_path: str | None = None,
         **kwargs: Any) -> int:
    from orlkit.demos import report

    results = run(seeds=seeds, progress=progress and not json_output, **kwargs)
    return report(results, table, json_output, plot, plot_path)
