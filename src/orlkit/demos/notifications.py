"""``orlkit demo notifications``: the lecture's real-world case, end to end, in the simulator.

1. Logs: a week of ``notifications-logs`` (2,000 users under the score-threshold logging
   policy with ε = 0.05 exploration and a frequency cap of 4 notifications per 24 h, which no
   exploration crosses), read as an orlkit dataset.
2. Offline DDQN and DDQN + CQL trained on those logs.
3. An A/B test on fresh users (paired: every arm sees the same users and candidates): relative
   change against the logging policy in Sessions (per user), WAU (share of users with ≥ 1
   session in the week), Volume (notifications delivered per user) and CTR (clicks / delivered),
   with 95% paired-bootstrap confidence intervals over users — the lecture's table layout.
4. Off-policy evaluation before deployment: FQE, IS, WIS, PDIS, WPDIS, DR and WDR estimates of
   each policy's value from the logs alone, against its true value in the simulator
   (discounted return from a user's first decision, averaged over fresh users).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from typing import Any

import numpy as np

from orlkit.data.registry import make_dataset
from orlkit.envs.notifications import (
    LOGGING_THRESHOLD,
    PRODUCTION_DAILY_CAP,
    SCORE,
    SENT_24H,
    NotificationPopulation,
    fatigue_aware_policy,
    logging_batch_policy,
    send_all_policy,
    simulate,
)
from orlkit.ope import ESTIMATORS, epsilon_greedy, evaluate_policy
from orlkit.train.fit import RunConfig, load_run, train

ARMS = {"DDQN": "ddqn", "DDQN + CQL": "cql-discrete"}
METRICS = ("Sessions", "WAU", "Volume", "CTR")
STEPS = 20_000
AB_USERS = 20_000
OPE_USERS = 5_000
GAMMA = 0.99
N_BOOT = 1_000


def train_arms(steps: int, seed: int, tmp: str, progress: bool) -> dict[str, Any]:
    """DDQN and DDQN + CQL trained on the logs; returns the restored algorithms."""
    algos = {}
    for label, name in ARMS.items():
        run = RunConfig(algo=name, dataset="notifications-logs", steps=steps, seed=seed, eval_every=0,
                        eval_episodes=10, tensorboard=False)
        train(run, f"{tmp}/{name}", progress=progress)
        algos[label] = load_run(f"{tmp}/{name}")[0]
    return algos


def metric_values(out: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    """Each A/B metric on bootstrap resamples of users. idx (R, N) → (R,) per metric."""
    sent, clicks = out["sent"][idx].sum(1), out["clicks"][idx].sum(1)  # (R,)
    return {"Sessions": out["sessions"][idx].mean(1), "WAU": out["weekly_active"][idx].mean(1),
            "Volume": sent / idx.shape[1], "CTR": clicks / np.maximum(sent, 1)}


def ab_test(policies: dict[str, Callable[[np.ndarray], np.ndarray]], n_users: int, seed: int,
            n_boot: int = N_BOOT) -> dict[str, Any]:
    """Relative change of each arm against the logging policy, with paired bootstrap 95% CIs."""
    control = simulate(logging_batch_policy(seed, daily_cap=PRODUCTION_DAILY_CAP), n_users, seed)
    rng = np.random.default_rng(seed)
    idx = np.concatenate([np.arange(n_users)[None], rng.integers(0, n_users, (n_boot, n_users))])  # (1+R, N)
    base = metric_values(control, idx)
    table: dict[str, Any] = {"control": {m: float(base[m][0]) for m in METRICS}, "arms": {}}
    for label, policy in policies.items():
        treat = metric_values(simulate(policy, n_users, seed), idx)
        arm = {}
        for m in METRICS:
            rel = treat[m] / base[m] - 1.0  # (1+R,) the first entry is the estimate on all users
            lo, hi = np.percentile(rel[1:], [2.5, 97.5])
            arm[m] = {"change": float(rel[0]), "ci_low": float(lo), "ci_high": float(hi),
                      "significant": bool(lo > 0 or hi < 0), "value": float(treat[m][0])}
        table["arms"][label] = arm
    return table


def true_value(policy: Callable[[np.ndarray], np.ndarray], n_users: int, seed: int, gamma: float) -> float:
    """Mean over fresh users of Σ_t γ^t r_t from each user's first decision."""
    pop = NotificationPopulation(n_users)
    obs = pop.reset(seed)
    total, discount = np.zeros(n_users), 1.0
    while not pop.done.all():
        active = ~pop.done
        obs, reward, *_ = pop.step(np.asarray(policy(obs)))
        total += np.where(active, discount * reward, 0.0)
        discount *= gamma
    return float(total.mean())


def logging_probs(obs: np.ndarray, epsilon: float = 0.05) -> np.ndarray:
    """The logging policy's action probabilities (drop, send), (B, 2), frequency cap included."""
    p_send = np.where(obs[:, SCORE] > LOGGING_THRESHOLD, 1.0 - epsilon, epsilon)
    p_send = np.where(np.rint(obs[:, SENT_24H] * 10.0) >= PRODUCTION_DAILY_CAP, 0.0, p_send)
    return np.stack([1.0 - p_send, p_send], 1)


def one_hot(policy: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    return lambda obs: np.eye(2)[np.asarray(policy(obs), dtype=np.int64)]


def spearman(x: list[float], y: list[float]) -> float:
    rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    return float(np.corrcoef(rx, ry)[0, 1])


def ope_table(algos: dict[str, Any], n_users: int, seed: int, gamma: float, progress: bool) -> dict[str, Any]:
    """Every estimator's estimate of each policy's value from the logs, against the simulator's truth."""
    from tqdm.auto import tqdm

    ds = make_dataset("notifications-logs")
    rng_seed = seed + 7
    targets: dict[str, tuple[Callable, Callable]] = {  # name → (probabilities for OPE, actions for the simulator)
        "logging": (logging_probs, logging_batch_policy(rng_seed, daily_cap=PRODUCTION_DAILY_CAP)),
        "fatigue-aware": (one_hot(fatigue_aware_policy), fatigue_aware_policy),
        "send-all": (one_hot(send_all_policy), send_all_policy),
    }
    for label, algo in algos.items():
        targets[label] = (epsilon_greedy(algo, 0.0), lambda o, a=algo: a.act(o, deterministic=True))
    rows = {}
    for name, (probs, act) in tqdm(targets.items(), desc="ope", disable=not progress):
        est = evaluate_policy(ds, probs, gamma, fqe_steps=5_000, n_boot=200, seed=seed)
        rows[name] = {"true": true_value(act, n_users, seed + 1, gamma),
                      **{k: est[k] for k in ESTIMATORS}, "ess": est["ess"]}
    truth = [r["true"] for r in rows.values()]
    summary = {}
    for k in ESTIMATORS:
        errors = [abs(r[k] - r["true"]) for r in rows.values()]
        summary[k] = {"mean_abs_error": float(np.mean(errors)), "rank_correlation": spearman([r[k] for r in
                                                                                              rows.values()], truth)}
    return {"policies": rows, "estimators": summary}


def run(seed: int = 0, steps: int = STEPS, ab_users: int = AB_USERS, ope_users: int = OPE_USERS,
        progress: bool = True) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        algos = train_arms(steps, seed, tmp, progress)
    policies = {label: (lambda o, a=algo: a.act(o, deterministic=True)) for label, algo in algos.items()}
    return {"steps": steps, "seed": seed, "ab_users": ab_users, "ope_users": ope_users, "gamma": GAMMA,
            "ab_test": ab_test(policies, ab_users, seed=1_000 + seed),
            "ope": ope_table(algos, ope_users, seed=2_000 + seed, gamma=GAMMA, progress=progress)}


def tables(result: dict[str, Any]) -> str:
    from orlkit.cli import format_table

    ab = result["ab_test"]
    labels = list(ab["arms"])

    def cell(d: dict[str, Any]) -> str:
        mark = "" if d["significant"] else " (n.s.)"
        return f"{100 * d['change']:+.2f}% [{100 * d['ci_low']:+.2f}, {100 * d['ci_high']:+.2f}]{mark}"

    rows = [[m, *[cell(ab["arms"][lab][m]) for lab in labels]] for m in METRICS]
    out = [f"A/B test against the logging policy, {result['ab_users']} fresh users per arm (paired), "
           "relative change [95% bootstrap CI]:", "",
           format_table(["Metric", *[f"{lab} vs. baseline" for lab in labels]], rows), ""]
    ope = result["ope"]
    names = list(ope["policies"])
    rows = [[k, *[f"{ope['policies'][n][k]:.3f}" for n in names], f"{ope['estimators'][k]['mean_abs_error']:.3f}",
             f"{ope['estimators'][k]['rank_correlation']:+.2f}"] for k in ESTIMATORS]
    rows.insert(0, ["true value", *[f"{ope['policies'][n]['true']:.3f}" for n in names], "", ""])
    out += [f"Off-policy evaluation from the logs (γ = {result['gamma']}), against the true value in the "
            f"simulator ({result['ope_users']} fresh users):", "",
            format_table(["estimator", *names, "mean |error|", "rank corr."], rows)]
    return "\n".join(out)


def main(json_output: bool = False, progress: bool = True) -> int:
    """One run, seed 0 (simulator, logs, training and the A/B test are all seeded by it)."""
    result = run(seed=0, progress=progress and not json_output)
    print(json.dumps(result) if json_output else tables(result))
    return 0
