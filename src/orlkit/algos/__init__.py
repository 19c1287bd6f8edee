"""The algorithm registry: CLI names → (class, default config).

Every algorithm lives in its own file; this table is the only place that lists them.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from orlkit.algos.awr import AWR, AWRConfig
from orlkit.algos.base import Algorithm, DataSpec
from orlkit.algos.bc import BC, BCConfig
from orlkit.algos.cql import CQL, CQLConfig
from orlkit.algos.cql_discrete import DiscreteCQL, DiscreteCQLConfig
from orlkit.algos.dqn import DQN, DQNConfig
from orlkit.algos.iql import IQL, IQLConfig
from orlkit.algos.sac import SAC, SACConfig
from orlkit.algos.td3bc import TD3BC, TD3BCConfig
from orlkit.errors import OrlkitError

# name → (class, config factory, one-line description)
ALGORITHMS: dict[str, tuple[type[Algorithm], Any, str]] = {
    "bc": (BC, BCConfig, "behavior cloning"),
    "pct-bc": (BC, lambda: BCConfig(top_pct=0.1), "%BC: behavior cloning on the best 10% of timesteps"),
    "dqn": (DQN, DQNConfig, "offline DQN (naive off-policy critic)"),
    "ddqn": (DQN, lambda: DQNConfig(double=True), "offline Double DQN (naive off-policy critic)"),
    "cql-discrete": (DiscreteCQL, DiscreteCQLConfig, "conservative Q-learning, discrete: DDQN + CQL(H) penalty"),
    "cql-continuous": (CQL, CQLConfig, "conservative Q-learning, continuous: SAC + importance-sampled CQL(H)"),
    "awr": (AWR, AWRConfig, "advantage-weighted regression (weighted imitation)"),
    "iql": (IQL, IQLConfig, "implicit Q-learning (expectile value, advantage-weighted actor)"),
    "td3bc": (TD3BC, TD3BCConfig, "TD3 + behavior cloning"),
    "sac": (SAC, SACConfig, "soft actor-critic trained offline (naive off-policy critic)"),
}

# A name that stands for one algorithm per kind of action space, resolved when the data is known.
ALIASES: dict[str, dict[str, str]] = {"cql": {"discrete": "cql-discrete", "continuous": "cql-continuous"}}


def resolve_algorithm(name: str, discrete: bool) -> str:
    """The registered name behind ``name`` for discrete or continuous data (``cql`` → ``cql-discrete``)."""
    if name in ALIASES:
        return ALIASES[name]["discrete" if discrete else "continuous"]
    return name


def algorithm_names() -> list[str]:
    return sorted([*ALGORITHMS, *ALIASES])


def default_config(name: str) -> Any:
    """The default config dataclass of a registered algorithm."""
    if name in ALIASES:
        raise OrlkitError(f"'{name}' stands for {' or '.join(ALIASES[name].values())}, chosen by the data's "
                          "action space; resolve it with resolve_algorithm() first")
    if name not in ALGORITHMS:
        raise OrlkitError(f"unknown algorithm '{name}'; choose one of: {', '.join(algorithm_names())}")
    return ALGORITHMS[name][1]()


def config_from_dict(name: str, values: dict[str, Any]) -> Any:
    """Rebuild a config from its JSON form (lists become tuples where the default is a tuple)."""
    cfg = default_config(name)
    known = {f.name for f in dataclasses.fields(cfg)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise OrlkitError(f"unknown config keys for {name}: {', '.join(unknown)}")
    fixed = {k: tuple(v) if isinstance(getattr(cfg, k), tuple) else v for k, v in values.items()}
    cfg = dataclasses.replace(cfg, **fixed)
    check_config(name, cfg)
    return cfg


# Ranges of the config fields the algorithms share: (low, high, low inclusive, high inclusive).
FIELD_RANGES: dict[str, tuple[float, float, bool, bool]] = {
    "lr": (0.0, math.inf, False, False),
    "critic_lr": (0.0, math.inf, False, False),
    "actor_lr": (0.0, math.inf, False, False),
    "tau": (0.0, 1.0, False, True),
    "expectile": (0.0, 1.0, False, False),
    "beta": (0.0, math.inf, True, False),
    "temperature": (0.0, math.inf, False, False),
    "max_weight": (0.0, math.inf, False, False),
    "policy_freq": (1, math.inf, True, False),
    "n_action_samples": (1, math.inf, True, False),
    "max_backup": (0, math.inf, True, False),
    "batch_size": (1, math.inf, True, False),
    "gamma": (0.0, 1.0, True, False),
    "alpha": (0.0, math.inf, True, False),
    "top_pct": (0.0, 1.0, False, True),
    "target_update_interval": (1, math.inf, True, False),
}


def check_config(name: str, cfg: Any) -> None:
    """Reject values no run can use (NaN, a zero batch, γ ≥ 1, ...) with one message naming the field."""
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if isinstance(value, float) and not math.isfinite(value):
            raise OrlkitError(f"{name}: config field '{f.name}' must be a finite number, got {value}")
        if f.name == "hidden" and any(int(w) < 1 for w in value):
            raise OrlkitError(f"{name}: config field 'hidden' needs widths ≥ 1, got {value}")
        if f.name in FIELD_RANGES:
            lo, hi, lo_in, hi_in = FIELD_RANGES[f.name]
            ok = (value >= lo if lo_in else value > lo) and (value <= hi if hi_in else value < hi)
            if not ok:
                interval = f"{'[' if lo_in else '('}{lo}, {hi}{']' if hi_in else ')'}"
                raise OrlkitError(f"{name}: config field '{f.name}' must be in {interval}, got {value}")


def make_algorithm(name: str, spec: DataSpec, config: Any = None, device="cpu", seed: int = 0) -> Algorithm:
    """Build the registered algorithm ``name`` for data of shape ``spec``."""
    cls = ALGORITHMS[name][0] if name in ALGORITHMS else None
    cfg = config if config is not None else default_config(name)
    if cls is None:  # default_config raised already for unknown names; keep mypy happy
        raise OrlkitError(f"unknown algorithm '{name}'")
    if cls.discrete_only and not spec.discrete:
        raise OrlkitError(f"{name} needs a discrete action space, but the data's actions are continuous "
                          f"vectors of length {spec.action_dim}")
    if cls.continuous_only and spec.discrete:
        raise OrlkitError(f"{name} needs a continuous action space, but the data's actions are discrete "
                          f"({spec.n_actions} actions)")
    try:
        algo = cls(cfg, spec, device=device, seed=seed)
    except ValueError as e:
        raise OrlkitError(f"{name}: {e}") from None
    algo.name = name
    return algo


__all__ = ["ALGORITHMS", "ALIASES", "Algorithm", "DataSpec", "algorithm_names", "config_from_dict",
           "default_config", "make_algorithm", "resolve_algorithm"]
