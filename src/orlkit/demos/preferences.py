"""Rewards from preferences, measured: active queries, preference RL in the loop, offline preference RL.

``orlkit demo preferences [--json] [--seeds N]`` runs three experiments and prints their tables:

1. **Active queries on a linear reward** (Sadigh et al. 2017): the driving task's w·φ(τ), a
   deterministic and a noisy (β = 2) teacher; alignment m = w·w*/(|w||w*|) after 10/20/30 queries
   for random, volume-removal and information-gain queries.
2. **Preference RL in the loop** (Christiano et al. 2017, PEBBLE relabelling) on Pendulum-v1: SAC on
   the true reward against SAC on a reward learned from ≤ ``budget`` synthetic-teacher queries, with
   disagreement or uniform queries, an oracle or a noisy teacher (B-Pref "mistake": 10% flipped).
   Scores are Pendulum's normalized score (0 = uniform random actions, 100 = the scripted expert).
3. **Offline preference RL**: r_θ from oracle-labelled pairs of segments of ``pendulum-replay``, the
   dataset relabelled with it, IQL trained on it, against IQL on the true reward.

With ``plot=PATH`` the return-against-queries curves of (2) are saved as a PNG.
"""

from __future__ import annotations

import json
import tempfile
from typing import Any

import numpy as np

from orlkit.train.io import save_figure

ONLINE_CONDITIONS: dict[str, tuple[str | None, str]] = {  # name: (teacher preset or None = true reward, sampling)
    "SAC, true reward": (None, "uniform"),
    "oracle, disagreement": ("oracle", "disagreement"),
    "oracle, uniform": ("oracle", "uniform"),
    "mistake 10%, disagreement": ("mistake", "disagreement"),
}
ENV_ID = "Pendulum-v1"
OFFLINE_DATASET = "pendulum-replay"


def _mean_std(xs: list[float]) -> dict[str, Any]:
    return {"mean": float(np.mean(xs)), "std": float(np.std(xs)), "per_seed": [float(x) for x in xs]}


def run_alignment(seeds: int, n_queries: int = 30) -> dict[str, Any]:
    from orlkit.rewards.queries import run_alignment_experiment

    out: dict[str, Any] = {}
    for teacher, beta in (("deterministic", None), ("noisy, β = 2", 2.0)):
        for method in ("random", "volume_removal", "information_gain"):
            curves = np.array([run_alignment_experiment(method, n_queries, seed, noise_beta=beta)
                               for seed in range(seeds)])  # (seeds, n_queries)
            out[f"{teacher}, {method}"] = {f"after_{q}": _mean_std(curves[:, q - 1].tolist())
                                            for q in (10, 20, 30) if q <= n_queries}
            out[f"{teacher}, {method}"]["curve"] = curves.mean(0).tolist()  # mean alignment after 1..n queries
    return out


def run_online(seeds: int, steps: int, budget: int, progress: bool) -> dict[str, Any]:
    from orlkit.envs.make import normalized_score
    from orlkit.rewards.preference_rl import PreferenceRLConfig, train_with_preferences
    from orlkit.train.online import OnlineConfig

    rounds = max(1, steps // 1000 - 1)  # queries at steps 1000, 2000, …; the last round still trains
    config_kw = {"budget": budget, "queries_per_round": -(-budget // rounds), "query_every": 1000}
    out: dict[str, Any] = {}
    for name, (teacher, sampling) in ONLINE_CONDITIONS.items():
        finals, curves, queries, corrs = [], [], [], []
        for seed in range(seeds):
            res = train_with_preferences(
                OnlineConfig(ENV_ID, steps=steps, eval_every=1000, eval_episodes=5, seed=seed),
                PreferenceRLConfig(sampling=sampling, **config_kw), teacher=teacher,
                sac={"hidden": (64, 64)}, progress=progress)
            asked = {c["step"]: c["queries"] for c in res["callbacks"]}
            curve = [{"step": e["step"], "queries": max([q for s, q in asked.items() if s <= e["step"]], default=0),
                      "score": normalized_score(ENV_ID, e["return_mean"])} for e in res["eval"]]
            curves.append(curve)
            finals.append(curve[-1]["score"])
            queries.append(curve[-1]["queries"])
            if res["callbacks"]:
                corrs.append(res["callbacks"][-1].get("reward_corr", float("nan")))
        out[name] = {"score": _mean_std(finals), "queries": int(max(queries)), "curves": curves,
                     "reward_corr": _mean_std(corrs) if corrs else None}
    base = out["SAC, true reward"]["score"]["mean"]
    for entry in out.values():
        entry["fraction_of_true_reward"] = entry["score"]["mean"] / base if base > 0 else float("nan")
    return out


def run_budget_sweep(seeds: int = 3, budgets: tuple[int, ...] = (20, 50, 100), steps: int = 10_000,
                     samplings: tuple[str, ...] = ("disagreement", "uniform"), progress: bool = False
                     ) -> dict[str, Any]:
    """Final normalized score of preference SAC against the total query budget, per query sampling (oracle)."""
    from orlkit.envs.make import normalized_score
    from orlkit.rewards.preference_rl import PreferenceRLConfig, train_with_preferences
    from orlkit.train.online import OnlineConfig

    rounds = max(1, steps // 1000 - 1)
    out: dict[str, Any] = {"steps": steps, "seeds": seeds, "budgets": list(budgets), "sampling": {}}
    for sampling in samplings:
        out["sampling"][sampling] = {}
        for budget in budgets:
            scores = []
            for seed in range(seeds):
                res = train_with_preferences(
                    OnlineConfig(ENV_ID, steps=steps, eval_every=0, eval_episodes=10, seed=seed),
                    PreferenceRLConfig(sampling=sampling, budget=budget, queries_per_round=-(-budget // rounds)),
                    teacher="oracle", sac={"hidden": (64, 64)}, progress=progress)
                scores.append(normalized_score(ENV_ID, res["eval"][-1]["return_mean"]))
            out["sampling"][sampling][str(budget)] = _mean_std(scores)
    return out


def budget_sweep_main(seeds: int = 3) -> int:
    """``python -c "from orlkit.demos.preferences import budget_sweep_main; budget_sweep_main()"``: JSON to stdout."""
    print(json.dumps(run_budget_sweep(seeds)))
    return 0


def run_offline(seeds: int, steps: int, n_queries: int, progress: bool) -> dict[str, Any]:
    from orlkit.data.registry import make_dataset
    from orlkit.rewards.preference import PreferenceConfig
    from orlkit.rewards.preference_rl import learn_reward_offline, relabel_dataset
    from orlkit.train.fit import RunConfig, train

    ds = make_dataset(OFFLINE_DATASET)
    out: dict[str, Any] = {"true reward": [], "learned reward": [], "reward_corr": []}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(seeds):
            model, _ = learn_reward_offline(ds, n_queries, "oracle", config=PreferenceConfig(hidden=(64, 64)),
                                            epochs=50, seed=seed)
            relabelled = relabel_dataset(ds, model)
            out["reward_corr"].append(float(np.corrcoef(relabelled.rewards, ds.rewards)[0, 1]))
            for name, data in (("true reward", ds), ("learned reward", relabelled)):
                run = RunConfig(algo="iql", dataset=OFFLINE_DATASET, steps=steps, seed=seed, eval_every=0,
                                eval_episodes=10, tensorboard=False)
                summary = train(run, f"{tmp}/{name.split()[0]}-{seed}", progress=progress, dataset=data)
                out[name].append(summary["final_eval"]["normalized_score"])
    return {"dataset": OFFLINE_DATASET, "algo": "iql", "steps": steps, "queries": n_queries,
            **{k: _mean_std(v) for k, v in out.items()}}


def run(seeds: int = 3, online_steps: int = 10_000, budget: int = 1000, offline_steps: int = 10_000,
        offline_queries: int = 500, progress: bool = True) -> dict[str, Any]:
    return {"seeds": seeds, "online_steps": online_steps, "budget": budget,
            "alignment": run_alignment(max(seeds, 5)),
            "online": run_online(seeds, online_steps, budget, progress),
            "offline": run_offline(seeds, offline_steps, offline_queries, progress)}


def _fmt(s: dict[str, Any], digits: int = 1) -> str:
    return f"{s['mean']:.{digits}f} ± {s['std']:.{digits}f}"


def table(results: dict[str, Any]) -> str:
    from orlkit.cli import format_table

    al = results["alignment"]
    cols = sorted({k for v in al.values() for k in v if k.startswith("after_")}, key=lambda k: int(k.split("_")[1]))
    t1 = format_table(["teacher, queries chosen by"] + [c.replace("_", " ") + " queries" for c in cols],
                      [[name] + [_fmt(v[c], 3) for c in cols] for name, v in al.items()])
    on = results["online"]
    t2 = format_table(["reward", "normalized score", "of true-reward SAC", "queries", "corr(r̂, r)"],
                      [[name, _fmt(v["score"]), f"{100 * v['fraction_of_true_reward']:.0f}%", str(v["queries"]),
                        _fmt(v["reward_corr"], 2) if v["reward_corr"] else ""] for name, v in on.items()])
    off = results["offline"]
    t3 = format_table(["IQL trained on", "normalized score"],
                      [[name, _fmt(off[name])] for name in ("true reward", "learned reward")])
    return (f"1. Active queries, driving task: alignment w·w*/(|w||w*|), mean ± std over "
            f"{len(next(iter(al.values()))['after_10']['per_seed'])} seeds\n\n{t1}\n\n"
            f"2. Preference RL in the loop, {ENV_ID}, {results['online_steps']} env steps, SAC 2×64, "
            f"≤ {results['budget']} queries; {results['seeds']} seeds\n\n{t2}\n\n"
            f"3. Offline preference RL, {off['dataset']}: r̂ from {off['queries']} oracle pairs of 50-step segments "
            f"(corr(r̂, r) {_fmt(off['reward_corr'], 2)}), IQL {off['steps']} updates; {results['seeds']} seeds\n\n{t3}")


def plot(results: dict[str, Any], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(16, 4))
    for name, v in results["alignment"].items():
        if "curve" in v:
            ax[2].plot(np.arange(1, len(v["curve"]) + 1), v["curve"], label=name,
                       ls="-" if name.startswith("deterministic") else "--")
    ax[2].set(xlabel="queries", ylabel="alignment w·w*/(|w||w*|)", title="driving task: active vs random queries")
    ax[2].legend(fontsize=7)
    for name, v in results["online"].items():
        steps = [p["step"] for p in v["curves"][0]]
        scores = np.array([[p["score"] for p in c] for c in v["curves"]])  # (seeds, evals)
        queries = np.array([[p["queries"] for p in c] for c in v["curves"]]).mean(0)
        for axis, x in ((ax[0], steps), (ax[1], queries)):
            if axis is ax[1] and name.startswith("SAC"):
                axis.axhline(scores.mean(0)[-1], color="k", ls="--", label=f"{name} (final)")
                continue
            axis.plot(x, scores.mean(0), label=name)
            axis.fill_between(x, scores.mean(0) - scores.std(0), scores.mean(0) + scores.std(0), alpha=0.2)
    ax[0].set(xlabel="environment steps", ylabel="normalized score", title=f"{ENV_ID}: return during training")
    ax[1].set(xlabel="teacher queries asked", ylabel="normalized score", title="return against queries")
    ax[0].legend(fontsize=8)
    ax[1].legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def main(json_output: bool = False, seeds: int = 3, progress: bool = True, plot_path: str | None = None,
         **kwargs: Any) -> int:
    from orlkit.demos import report

    results = run(seeds=seeds, progress=progress and not json_output, **kwargs)
    return report(results, table, json_output, plot, plot_path)
