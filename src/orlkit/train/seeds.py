"""Several seeds of one algorithm trained at once in one process, vectorised over seeds with ``torch.func``.

Each network's parameters (and buffers) of S runs are stacked on a leading seed axis; an algorithm's
``update_seeds(stack, batch, **inputs)`` takes each loss's gradient for all seeds at once with
``vmap(grad_and_value(loss))`` and steps one fused Adam over the stacked tensors. Adam is elementwise, so that
is S Adams. Every seed keeps what makes it its own run: its network initialisation (``seed``), its batches
(its own :class:`~orlkit.data.dataset.Sampler`, seeded as ``orlkit train --seed`` seeds it) and its noise (its
own algorithm's generator). So S seeds here give what S separate runs give, up to floating-point rounding (a
test checks it); what changes is that every kernel does S seeds' work. That pays where an update is small and
launch-bound, as 256×256 networks are on a GPU (``benchmarks/seeds.py`` measures it).

The same functional update, for one seed, is what ``orlkit train --compile`` compiles
(``orlkit.train.fit._compiled_update``): ``SeedStack([algo], share=True)`` holds views of the algorithm's own weights
and Adam state, and under ``torch.compile`` :meth:`SeedStack.step` is a ``torch._foreach`` Adam that traces into the
graph, so gradients, optimizer steps and soft target updates compile as one graph. What must stay out of it is done
eagerly around it: random draws from each run's generator and flags that follow the update count are the
algorithm's ``seed_inputs`` (passed to ``update_seeds`` as ``inputs``), learning-rate schedules its
``scheduled_lrs``, and periodic hard target copies :meth:`SeedStack.copy_every` (benchmarks/README.md, "One graph per
update").

Algorithms with an ``update_seeds`` method: :func:`supported`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from orlkit.algos.base import Algorithm
from orlkit.data.dataset import FIELDS, Batch, Sampler
from orlkit.errors import OrlkitError
from orlkit.nets.optim import adam, adam_step_


def supported() -> list[str]:
    """Names of the algorithms that can train several seeds at once."""
    from orlkit.algos import ALGORITHMS

    return sorted(name for name, (cls, _, _) in ALGORITHMS.items() if hasattr(cls, "update_seeds"))


def check_supported(name: str) -> None:
    """Refuse an algorithm that cannot train several seeds at once, naming those that can."""
    if name not in supported():
        raise OrlkitError(f"{name} cannot train several seeds at once yet; these can: {', '.join(supported())}")


def check_seeds(seeds: Sequence[int]) -> None:
    if len(seeds) < 1 or len(set(seeds)) != len(seeds):
        raise OrlkitError(f"seeds must be distinct and at least one, got {list(seeds)}")


def share_data(samplers: Sequence[Sampler]) -> None:
    """Point every sampler at the first one's columns: the seeds prepare the same data, and one copy of it (on the
    device too) is enough, since :meth:`SeedStack.sample` gathers from the first sampler's columns."""
    for s in samplers[1:]:
        s.columns, s.extras = samplers[0].columns, samplers[0].extras


class _Method(nn.Module):
    """``module.<method>(*args)`` as ``forward(method, *args)``, so that ``functional_call`` can run methods other than
    forward."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.m = module

    def forward(self, method: str, *args: Any) -> Any:
        return getattr(self.m, method)(*args)


class SeedStack:
    """The networks and optimizers of S runs of one algorithm (same class, config, data spec and device; S seeds),
    stacked on a leading seed axis.

    - ``tensors[module][name]``: parameter or buffer ``name`` of ``module`` for all seeds, shape (S, ...).
    - ``call(module, tensors_s, *args, method="forward")``: one seed's module applied to ``args`` with that seed's
      tensors (used inside ``torch.func.vmap``).
    - ``step(optimizer, grads)``: one Adam step of every seed's ``optimizer`` from stacked gradients.
    - ``update(batch)``: the algorithm's ``update_seeds``; ``floats(metrics)``: one dict of floats per seed.
    - ``write_back()``: the stacked weights, optimizer moments and update counts back into the S algorithms, which
      then act, evaluate and save as any other.
    - ``share=True`` (one algorithm): the stacked tensors and Adam state are views of the algorithm's own, so every
      update lands in the algorithm directly and ``write_back`` has nothing to do. Build it after loading a
      checkpoint: loading replaces the optimizer's state tensors, which the stack would no longer see.
    - ``compile()``: run ``update_seeds`` under ``torch.compile`` from then on.
    """

    def __init__(self, algos: Sequence[Algorithm], share: bool = False):
        if not algos:
            raise OrlkitError("SeedStack needs at least one algorithm")
        first = algos[0]
        check_supported(first.name)
        for a in algos[1:]:
            if type(a) is not type(first) or a.config != first.config or a.spec != first.spec \
                    or a.device != first.device:
                raise OrlkitError("SeedStack needs runs of one algorithm with one config, data spec and device; "
                                  f"seed {a.seed} differs from seed {first.seed}")
        if len({a.n_updates for a in algos}) != 1:
            raise OrlkitError(f"SeedStack needs runs at the same update; got {[a.n_updates for a in algos]}")
        if share and len(algos) != 1:
            raise OrlkitError(f"SeedStack(share=True) takes one algorithm, got {len(algos)}")
        self.algos = list(algos)
        self.share = share
        self.device = first.device
        self.tensors: dict[str, dict[str, torch.Tensor]] = {}
        self._methods: dict[str, nn.Module] = {}
        self._bases: dict[str, nn.Module] = {}
        for mod_name, module in first.modules.items():
            names = [n for n, _ in module.named_parameters()] + [n for n, _ in module.named_buffers()]
            self.tensors[mod_name] = {  # share: views of the algorithm's own tensors (a step writes into them)
                n: _tensor(first.modules[mod_name], n).detach().unsqueeze(0) if share
                else torch.stack([_tensor(a.modules[mod_name], n).detach() for a in algos]) for n in names}
            self._bases[mod_name] = copy.deepcopy(module)
            self._methods[mod_name] = _Method(self._bases[mod_name])  # made here: a compiled update must not make it
        # each optimizer steps some parameters of one module: (module, parameter names), found by identity
        where = {id(p): (m, n) for m, module in first.modules.items() for n, p in module.named_parameters()}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self._opt_params: dict[str, tuple[str, list[str]]] = {}
        self._lr: dict[str, torch.Tensor] = {}  # each optimizer's learning rate as a tensor, read by a compiled step
        self._adam_slots: dict[str, tuple[list[list[torch.Tensor]], tuple[Any, ...]]] = {}
        self._update_seeds = first.update_seeds
        for opt_name, opt in first.optimizers.items():
            owners = [where.get(id(p)) for p in opt.param_groups[0]["params"]]
            if len(opt.param_groups) != 1 or None in owners or len({m for m, _ in owners}) != 1:
                raise OrlkitError(f"{first.name}: optimizer {opt_name!r} does not step parameters of one module")
            mod_name, param_names = owners[0][0], [n for _, n in owners]
            group = opt.param_groups[0]
            stacked = adam([self.tensors[mod_name][n] for n in param_names], lr=group["lr"],
                           weight_decay=group["weight_decay"])
            self._stack_optimizer_state(stacked, [a.optimizers[opt_name] for a in algos])
            self.optimizers[opt_name] = stacked
            self._opt_params[opt_name] = (mod_name, param_names)
            self._lr[opt_name] = torch.tensor(float(group["lr"]), device=self.device)
            # what a compiled step reads (param_groups would put every entry, lr too, in the graph's guards)
            params = stacked.param_groups[0]["params"]
            states = [stacked.state[p] for p in params]
            if len(at := {float(st["step"]) for st in states}) != 1:  # adam_step_: one bias correction per optimizer
                raise OrlkitError(f"SeedStack: optimizer {opt_name!r} has parameters at different Adam steps "
                                  f"{sorted(at)}")
            slots = [params] + [[st[k] for st in states] for k in ("exp_avg", "exp_avg_sq", "step")]
            self._adam_slots[opt_name] = (slots,
                                          (tuple(group["betas"]), float(group["eps"]), float(group["weight_decay"])))

    @property
    def n_seeds(self) -> int:
        return len(self.algos)

    # ------------------------------------------------------------------ used by update_seeds
    def call(self, module: str, tensors: dict[str, torch.Tensor], *args: Any, method: str = "forward") -> Any:
        """One seed's ``module.<method>(*args)`` with ``tensors`` as its parameters and buffers."""
        if method == "forward":
            return functional_call(self._bases[module], tensors, args, strict=True)
        return functional_call(self._methods[module], {f"m.{n}": t for n, t in tensors.items()}, (method, *args),
                               strict=True)

    def caller(self, module: str, method: str = "forward") -> Callable[..., Any]:
        """``lambda tensors, *args: call(module, tensors, *args, method=method)``."""
        return lambda tensors, *args: self.call(module, tensors, *args, method=method)

    def step(self, optimizer: str, grads: dict[str, torch.Tensor]) -> None:
        """One step of every seed's ``optimizer`` from ``grads`` (stacked, keyed by parameter name)."""
        names = self._opt_params[optimizer][1]
        if torch.compiler.is_compiling():  # torch.optim's step() would break the graph: the same rule, traceable
            (params, exp_avgs, exp_avg_sqs, steps), (betas, eps, weight_decay) = self._adam_slots[optimizer]
            adam_step_(params, [grads[n] for n in names], exp_avgs, exp_avg_sqs, steps, self._lr[optimizer], betas, eps,
                       weight_decay)
            return
        opt = self.optimizers[optimizer]
        params = opt.param_groups[0]["params"]
        for name, p in zip(names, params, strict=True):
            p.grad = grads[name]
        opt.step()
        for p in params:
            p.grad = None

    def set_lr(self, optimizer: str, lr: float) -> None:
        opts = [self.optimizers[optimizer]] + ([self.algos[0].optimizers[optimizer]] if self.share else [])
        for group in (g for o in opts for g in o.param_groups):
            group["lr"] = lr
        self._lr[optimizer].fill_(lr)

    def polyak(self, target: str, source: str, tau: float) -> None:
        """target ← (1 − τ)·target + τ·source for every seed, one fused call."""
        torch._foreach_lerp_(*self._parameter_pairs(target, source), tau)

    @torch.compiler.disable
    def copy_every(self, target: str, source: str, every: int) -> None:
        """target ← source for every seed (a hard target update, one fused call) if the update running now is an
        ``every``-th one. Decided here, outside any compiled graph: a branch on the update count inside the graph
        would compile it again the first time the copy happens."""
        if (self.algos[0].n_updates + 1) % every == 0:
            torch._foreach_copy_(*self._parameter_pairs(target, source))

    def _parameter_pairs(self, target: str, source: str) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """The stacked parameters of ``target`` and of ``source``, in the same order (buffers left out)."""
        names = [n for n, _ in self._bases[source].named_parameters()]
        return [self.tensors[target][n] for n in names], [self.tensors[source][n] for n in names]

    def randn(self, shape: Sequence[int]) -> torch.Tensor:
        """(S, *shape) standard normal noise, seed s's slice from algorithm s's own generator."""
        return torch.stack([torch.randn(tuple(shape), generator=a.generator, device=self.device)
                            for a in self.algos])

    def rand(self, shape: Sequence[int]) -> torch.Tensor:
        """(S, *shape) uniform noise on [0, 1), seed s's slice from algorithm s's own generator."""
        return torch.stack([torch.rand(tuple(shape), generator=a.generator, device=self.device)
                            for a in self.algos])

    # ------------------------------------------------------------------ the loop
    def sample(self, samplers: Sequence[Sampler]) -> Batch:
        """One batch per seed from that seed's sampler, stacked: fields (S, B, ...)."""
        if len(samplers) != self.n_seeds:
            raise OrlkitError(f"{len(samplers)} samplers for {self.n_seeds} seeds")
        first = samplers[0]
        if any(s.n != first.n or s.batch_size != first.batch_size for s in samplers):
            raise OrlkitError("the seeds' samplers must draw equal batches from the same data; got sizes "
                              f"{[s.n for s in samplers]} and batch sizes {[s.batch_size for s in samplers]}")
        idx = torch.cat([torch.randint(0, s.n, (s.batch_size,), generator=s.generator, device=s.device)
                         for s in samplers])  # (S·B,): the indices each sampler would draw on its own
        shape = (self.n_seeds, first.batch_size)
        return Batch(**{n: first.columns[n].index_select(0, idx).reshape(*shape, *first.columns[n].shape[1:])
                        for n in FIELDS},
                     extras={n: c.index_select(0, idx).reshape(*shape, *c.shape[1:]) for n, c in first.extras.items()})

    def compile(self) -> None:
        """Run ``update_seeds`` under ``torch.compile`` from now on: its gradients, Adam steps (:meth:`step` switches to
        a traceable Adam while compiling) and target updates become one graph where nothing breaks it."""
        # On the CPU with inductor's C++ wrapper: the graph's kernels are called from compiled C++ instead of a
        # Python function; the update's rate 0.99–1.17× (most 1.05–1.11×) for BC, IQL, TD3+BC and discrete CQL
        # (benchmarks/README.md, "One graph per update"), with no longer a cold compile.
        options = {"cpp_wrapper": True} if self.device.type == "cpu" else None
        self._update_seeds = torch.compile(self.algos[0].update_seeds, options=options)

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        """One update of every seed; the metrics as (S,) tensors (no device synchronisation: see :meth:`floats`)."""
        first = self.algos[0]
        for name, lr in first.scheduled_lrs().items():  # outside update_seeds: no Python float in its graph
            self.set_lr(name, lr)
        metrics = self._update_seeds(self, batch, **first.seed_inputs(self, batch))  # draws and flags: eager
        for a in self.algos:
            a.n_updates += 1
        return metrics

    def floats(self, metrics: dict[str, torch.Tensor]) -> list[dict[str, float]]:
        """Each seed's metrics as floats, with one device synchronisation for all seeds."""
        values = torch.stack([v.detach().float().reshape(self.n_seeds) for v in metrics.values()], 1).tolist()
        return [dict(zip(metrics, row, strict=True)) for row in values]

    def write_back(self) -> list[Algorithm]:
        """Copy the stacked weights and optimizer state into the S algorithms; returns them."""
        if self.share:  # the algorithm's own tensors were stepped
            return self.algos
        with torch.no_grad():
            for mod_name, tensors in self.tensors.items():
                for s, a in enumerate(self.algos):
                    for n, t in tensors.items():
                        _tensor(a.modules[mod_name], n).copy_(t[s])
            for opt_name, stacked in self.optimizers.items():
                for s, a in enumerate(self.algos):
                    opt = a.optimizers[opt_name]
                    for group in opt.param_groups:
                        group["lr"] = stacked.param_groups[0]["lr"]
                    for p, sp in zip(opt.param_groups[0]["params"], stacked.param_groups[0]["params"], strict=True):
                        st = stacked.state.get(sp)
                        if st:
                            opt.state[p] = {k: (v.clone() if k == "step" else v[s].clone()) for k, v in st.items()}
        return self.algos

    def _stack_optimizer_state(self, stacked: torch.optim.Optimizer, opts: list[torch.optim.Optimizer]) -> None:
        """Carry Adam's moments over from the separate optimizers (runs resumed from checkpoints); a fresh optimizer
        gets Adam's initial state (step 0, zero moments) now, so that a compiled step finds it. With ``share`` the
        stacked state is a view of the algorithm's own."""
        states = [[o.state.get(p) for p in o.param_groups[0]["params"]] for o in opts]
        for i, sp in enumerate(stacked.param_groups[0]["params"]):
            per_seed = [st[i] for st in states]
            if len({bool(x) for x in per_seed}) > 1:
                raise OrlkitError("SeedStack: some seeds' optimizers have state and others not")
            if self.share:
                p = opts[0].param_groups[0]["params"][i]
                own = opts[0].state[p] = per_seed[0] or _adam_state(p)
                stacked.state[sp] = {k: v if k == "step" else v.unsqueeze(0) for k, v in own.items()}
            elif all(not x for x in per_seed):
                stacked.state[sp] = _adam_state(sp)
            else:
                stacked.state[sp] = {k: per_seed[0][k].clone() if k == "step" else torch.stack([x[k] for x in per_seed])
                                     for k in per_seed[0]}


def _adam_state(p: torch.Tensor) -> dict[str, torch.Tensor]:
    """``torch.optim.Adam``'s state of ``p`` before its first step (as its fused kernel lays it out)."""
    return {"step": torch.zeros((), dtype=torch.float32, device=p.device),
            "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
            "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format)}


def _tensor(module: nn.Module, name: str) -> torch.Tensor:
    """A parameter or buffer of ``module`` by its dotted name."""
    owner, _, leaf = name.rpartition(".")
    return getattr(module.get_submodule(owner) if owner else module, leaf)


def train_seeds(algo: str, dataset: Any, seeds: Sequence[int], steps: int, config: dict[str, Any] | None = None,
                device: str = "cpu", precision: str = "fp32", progress: bool = False,
                log_every: int = 1000, compile: bool = False) -> tuple[list[Algorithm], list[list[dict[str, Any]]]]:
    """Train ``algo`` on ``dataset`` for ``steps`` updates with every seed in ``seeds`` at once.

    ``compile``: run the seeds' update under ``torch.compile`` (:meth:`SeedStack.compile`, as ``orlkit train --seeds
    ... --compile``); a compiler failure raises one OrlkitError. Returns the S trained algorithms (as ``orlkit train
    --seed s`` would build them) and each seed's metric rows (every ``log_every`` updates and the last)."""
    from tqdm.auto import tqdm

    from orlkit.algos import DataSpec, config_from_dict, make_algorithm
    from orlkit.nets.precision import autocast, check_device, check_precision
    from orlkit.train.fit import _compile_errors

    seeds = [int(s) for s in seeds]
    check_seeds(seeds)
    if not isinstance(compile, bool):  # "no" would otherwise read as true (as RunConfig.compile checks)
        raise OrlkitError(f"train_seeds: compile must be True or False, got {compile!r}")
    if steps < 1 or log_every < 1:
        raise OrlkitError(f"steps and log_every must be at least 1, got {steps} and {log_every}")
    check_device(device)
    check_precision(precision, device)
    check_supported(algo)
    spec = DataSpec.from_dataset(dataset)
    algos = [make_algorithm(algo, spec, config_from_dict(algo, dict(config or {})), device=device, seed=s)
             for s in seeds]
    data = algos[0].prepare(dataset)
    for a in algos[1:]:  # what preparing recorded about the data (observation statistics, IQL's reward scale)
        a.copy_prepared(algos[0])
    samplers = [data.sampler(algos[0].config.batch_size, device, seed=s) for s in seeds]
    share_data(samplers)
    stack = SeedStack(algos)
    update = stack.update
    if compile:
        stack.compile()
        update = _compile_errors(stack.update, algo, flag="compile=True", advice="call train_seeds with compile=False")
    logs: list[list[dict[str, Any]]] = [[] for _ in seeds]
    for step in tqdm(range(1, steps + 1), disable=not progress, desc=f"{algo} × {len(seeds)} seeds", unit="upd"):
        with autocast(precision, device):
            metrics = update(stack.sample(samplers))
        if step % log_every == 0 or step == steps:
            for row, m in zip(logs, stack.floats(metrics), strict=True):
                if not all(np.isfinite(v) for v in m.values()):
                    raise FloatingPointError(f"non-finite metrics at step {step}: {m}")
                row.append({"step": step, **m})
    return stack.write_back(), logs
