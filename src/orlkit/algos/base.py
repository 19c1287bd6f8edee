"""What every algorithm shares: the data spec, seeding, and the state that checkpoints hold.

An algorithm is one class with

- ``config``: a dataclass of hyperparameters (the paper's defaults);
- ``update(batch) -> dict[str, float]``: one gradient step, all its losses on one screen;
- ``act(obs, deterministic) -> np.ndarray``: actions for a batch of observations;
- ``modules`` / ``optimizers``: dicts the base class saves and loads.

Subclasses inherit from :class:`Algorithm` only (one level of inheritance).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from orlkit.data.dataset import Batch, TransitionDataset
from orlkit.errors import OrlkitError
from orlkit.nets.optim import adam, load_optimizer_state  # noqa: F401  (re-exported: every algorithm builds its optimizers with it)
from orlkit.train.checkpoint import module_tensors, optimizer_tensors, select

OBS_STD_EPS = 1e-3  # added to each feature's std by normalize_obs: constant features stay finite


@dataclass(frozen=True)
class DataSpec:
    """Shapes an algorithm needs to build its networks."""

    obs_dim: int
    n_actions: int | None  # discrete action space size, None for continuous actions
    action_dim: int  # n_actions for discrete spaces, vector length for continuous ones

    @property
    def discrete(self) -> bool:
        return self.n_actions is not None

    @classmethod
    def from_dataset(cls, ds: TransitionDataset) -> DataSpec:
        if len(ds.obs_shape) != 1:
            raise ValueError(f"orlkit's MLP algorithms need flat observations, got shape {ds.obs_shape}")
        return cls(obs_dim=ds.obs_shape[0], n_actions=ds.n_actions, action_dim=ds.action_dim)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Algorithm:
    """Base class: holds spec, config, device and the random generator; saves and loads state."""

    name: ClassVar[str] = "algorithm"
    config_class: ClassVar[type]
    discrete_only: ClassVar[bool] = False
    continuous_only: ClassVar[bool] = False
    # The keys ``update`` returns, listed in the class docstring (the contract tests check them);
    # ``continuous_metric_keys`` where they differ for continuous actions (None: the same).
    metric_keys: ClassVar[tuple[str, ...]] = ()
    continuous_metric_keys: ClassVar[tuple[str, ...] | None] = None

    def __init__(self, config: Any, spec: DataSpec, device: torch.device | str = "cpu", seed: int = 0):
        if self.discrete_only and not spec.discrete:
            raise ValueError(f"{self.name} needs a discrete action space")
        if self.continuous_only and spec.discrete:
            raise ValueError(f"{self.name} needs a continuous action space")
        self.config = config
        self.spec = spec
        self.device = torch.device(device)
        self.seed = seed
        torch.manual_seed(seed)  # network initialisation; nothing else draws from the global RNG
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed + 1)
        self.modules: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.n_updates = 0
        # The data's observation mean and std when ``config.normalize_obs`` (set by :meth:`prepare`, checkpointed)
        self.obs_mean: torch.Tensor | None = None
        self.obs_std: torch.Tensor | None = None

    # ------------------------------------------------------------------ interface
    def prepare(self, dataset: TransitionDataset) -> TransitionDataset:
        """The data this algorithm trains on, what the fit loops call: with ``config.normalize_obs``, observations
        standardised by the data's per-feature mean and std (std + 1e-3, as TD3+BC; :meth:`act` and
        :meth:`value_estimate` apply the same to raw observations), then :meth:`prepare_dataset`."""
        if getattr(self.config, "normalize_obs", False):
            mean = dataset.obs.mean(0, dtype=np.float64).astype(np.float32)
            std = (dataset.obs.std(0, dtype=np.float64) + OBS_STD_EPS).astype(np.float32)
            self.obs_mean, self.obs_std = (torch.as_tensor(v, device=self.device) for v in (mean, std))
            dataset = dataset.replace(obs=(dataset.obs - mean) / std, next_obs=(dataset.next_obs - mean) / std)
        return self.prepare_dataset(dataset)

    def copy_prepared(self, source: Algorithm) -> None:
        """Take over what ``source.prepare`` recorded about the data (observation statistics; subclasses add
        theirs), instead of preparing the same data again: the several-seeds path prepares it once."""
        self.obs_mean, self.obs_std = source.obs_mean, source.obs_std

    def prepare_dataset(self, dataset: TransitionDataset) -> TransitionDataset:
        """The algorithm's own view of the data (``%BC`` filters it); the default keeps all of it."""
        return dataset

    def update(self, batch: Batch) -> dict[str, float]:
        raise NotImplementedError

    def scheduled_lrs(self) -> dict[str, float]:
        """Learning rates that follow a schedule, by optimizer name, for the update about to run (``{}``: none). The
        functional path (``orlkit.train.seeds``) sets them before ``update_seeds``, outside any compiled graph."""
        return {}

    def seed_inputs(self, stack: Any, batch: Batch) -> dict[str, Any]:
        """What ``update_seeds(stack, batch, **inputs)`` takes beside the batch that must be drawn or decided outside
        a compiled graph (``{}``: nothing): random draws from each seed's generator (a draw from a
        ``torch.Generator`` breaks the graph) and Python flags that follow the update count (read inside, the count
        would be compiled in and every new value would compile again; a bool argument compiles once per value).
        :meth:`SeedStack.update <orlkit.train.seeds.SeedStack.update>` calls it eagerly before each update, in
        the order ``update`` draws, so that each seed's generator gives the same numbers on both paths."""
        return {}

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        raise NotImplementedError

    def value_estimate(self, obs: np.ndarray) -> np.ndarray | None:
        """The critic's estimate of the policy's value at ``obs`` (B,), or None without a critic.

        Logged at evaluation next to the Monte-Carlo return of the same policy, to show over- or
        under-estimation (``orlkit plot``). The default serves actor-critics: min_i Q_i(s, mode π(s)).
        """
        critic, actor = getattr(self, "critic", None), getattr(self, "actor", None)
        if critic is None or not hasattr(actor, "mode"):
            return None
        with torch.no_grad():
            x, _ = self._obs_tensor(obs)
            return critic(x, actor.mode(x)).min(0).values.cpu().numpy()

    def _obs_tensor(self, obs: np.ndarray) -> tuple[torch.Tensor, bool]:
        """(B, obs_dim) float tensor on the device, and whether the input was one observation."""
        x = torch.as_tensor(np.asarray(obs, dtype=np.float32), device=self.device)
        if self.obs_mean is not None:
            x = (x - self.obs_mean) / self.obs_std
        single = x.ndim == 1
        return (x.unsqueeze(0) if single else x), single

    def _step(self, name: str, loss: torch.Tensor) -> None:
        """One optimizer step of ``self.optimizers[name]`` on ``loss``."""
        opt = self.optimizers[name]
        opt.zero_grad(set_to_none=True)
        if torch.is_autocast_enabled(self.device.type):
            # The backward pass outside autocast: each op's gradient in its forward's dtypes. Inside it, autocast
            # recast the float32 last layers' backward matmuls to bf16, with three extra casts of their input.
            with torch.autocast(self.device.type, enabled=False):
                loss.backward()
        else:
            loss.backward()
        opt.step()

    @torch.no_grad()
    def _policy_act(self, actor: nn.Module, obs: np.ndarray, deterministic: bool) -> np.ndarray:
        """actor.mode(s) or a sample from actor.sample(s) (which returns (actions, log_prob))."""
        x, single = self._obs_tensor(obs)
        a = actor.mode(x) if deterministic else actor.sample(x, self.generator)[0]
        a = a.cpu().numpy()
        return a[0] if single else a

    @torch.no_grad()
    def _greedy(self, q_net: nn.Module, obs: np.ndarray) -> np.ndarray:
        """argmax_a q_net(obs)[a] for one observation or a batch."""
        x, single = self._obs_tensor(obs)
        a = q_net(x).argmax(-1).cpu().numpy()
        return a[0] if single else a

    # ------------------------------------------------------------------ state
    def state_tensors(self) -> dict[str, torch.Tensor]:
        """Every tensor of the algorithm's state, flat: weights, optimizer moments, RNG states."""
        out: dict[str, torch.Tensor] = {}
        for name, module in self.modules.items():
            out |= module_tensors(f"modules.{name}", module)
        for name, opt in self.optimizers.items():
            out |= optimizer_tensors(f"optimizers.{name}", opt)
        out["rng.generator"] = self.generator.get_state()
        out["rng.torch"] = torch.get_rng_state()
        if self.obs_mean is not None:
            out["obs_norm.mean"], out["obs_norm.std"] = self.obs_mean, self.obs_std
        return out

    def state_meta(self) -> dict[str, Any]:
        """The JSON part of the state: optimizer hyperparameters and counters."""
        return {
            "n_updates": self.n_updates,
            "param_groups": {name: opt.state_dict()["param_groups"] for name, opt in self.optimizers.items()},
        }

    def load_state(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        """Restore what :meth:`state_tensors` and :meth:`state_meta` returned."""
        norm = self._checked_obs_norm(tensors) if getattr(self.config, "normalize_obs", False) else None
        for name, module in self.modules.items():
            module.load_state_dict(select(tensors, f"modules.{name}."))
        for name, opt in self.optimizers.items():
            load_optimizer_state(opt, select(tensors, f"optimizers.{name}."), meta["param_groups"][name])
        self.generator.set_state(tensors["rng.generator"])
        torch.set_rng_state(tensors["rng.torch"])
        self.n_updates = int(meta["n_updates"])
        if norm is not None:
            self.obs_mean, self.obs_std = norm

    def _checked_obs_norm(self, tensors: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """The observation statistics of a ``normalize_obs`` checkpoint, checked before anything is loaded: one
        finite float per observation feature, positive stds."""
        mean, std = tensors.get("obs_norm.mean"), tensors.get("obs_norm.std")
        dim = (self.spec.obs_dim,)
        for name, t in (("obs_norm.mean", mean), ("obs_norm.std", std)):
            if t is None:
                raise OrlkitError(f"checkpoint state: the config has normalize_obs but there is no '{name}'")
            if tuple(t.shape) != dim or not t.is_floating_point() or not bool(torch.isfinite(t).all()):
                raise OrlkitError(f"checkpoint state: '{name}' must be {dim[0]} finite floats, got shape "
                                  f"{tuple(t.shape)} of {t.dtype}")
        if not bool((std > 0).all()):
            raise OrlkitError("checkpoint state: 'obs_norm.std' must be positive")
        return mean.float().to(self.device), std.float().to(self.device)

    def save(self, path: str) -> None:
        """Write weights and state to ``path`` (safetensors) and ``path``'s JSON sidecar, atomically."""
        from orlkit.train.checkpoint import save_checkpoint

        save_checkpoint(path, self)

    def load(self, path: str) -> None:
        from orlkit.train.checkpoint import load_checkpoint

        load_checkpoint(path, self)


_READ_BACK: ContextVar[bool] = ContextVar("orlkit_metrics_read_back", default=True)


@contextlib.contextmanager
def metrics_read_back(enabled: bool) -> Iterator[None]:
    """Inside ``with metrics_read_back(False)``, ``update()`` returns ``{}``: it neither stacks its metrics nor waits
    for the device to read them. The fit loops use it on the steps they do not log, so that on a GPU the host
    queues the next update while the device still runs this one. Outside it, ``update()`` returns every metric."""
    token = _READ_BACK.set(enabled)
    try:
        yield
    finally:
        _READ_BACK.reset(token)


def to_floats(metrics: dict[str, torch.Tensor]) -> dict[str, float]:
    """Detached scalar tensors → floats, with one device synchronisation for all of them (``{}`` inside
    ``metrics_read_back(False)``)."""
    if not _READ_BACK.get():
        return {}
    values = torch.stack([v.detach().float().reshape(()) for v in metrics.values()]).tolist()
    return dict(zip(metrics, values, strict=True))


def polyak_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """target ← (1 − τ)·target + τ·source, in one fused call over all parameters."""
    with torch.no_grad():
        tp, sp = list(target.parameters()), list(source.parameters())
        torch._foreach_lerp_(tp, sp, tau)
