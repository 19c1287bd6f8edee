"""Who labels the preference queries: scripted teachers with B-Pref's noise models, or a person.

Labels follow orlkit's convention everywhere: ``label`` = P(A ≻ B), so 1.0 means segment A is
preferred, 0.0 means B, 0.5 means "equally good", and ``SKIPPED`` (−1.0) means the teacher
declined to answer. (B-Pref's code uses the opposite: 1 means the second segment.)

:class:`ScriptedTeacher` knows the true rewards r_t of each segment and answers like B-Pref's
simulated teacher (Lee, Smith, Dragan & Abbeel 2021, "B-Pref"; rll-research/BPref), in this order:

1. skip:    if neither undiscounted return exceeds the skip threshold, max(R_A, R_B) ≤ t_skip,
            the query is skipped (only when a skip threshold is set).
2. equal:   if |R_A − R_B| < t_equal (undiscounted returns) the label is 0.5.
3. myopic:  the teacher compares discounted returns R^γ = Σ_t γ^(T−1−t)·r_t, which weight the
            last steps of a segment most (γ = 1: plain returns).
4. β:       P(A ≻ B) = σ(β·(R^γ_A − R^γ_B)) (Bradley–Terry, rationality β), and the label is a
            draw from it; β = ∞ is the deterministic teacher (label 1 if R^γ_A > R^γ_B, 0 if less).
5. mistake: with probability ε_mistake the label is flipped (1 ↔ 0).

Equal and skipped outcomes override the others. Thresholds are absolute, or with
``relative_thresholds`` multiples of a return scale as in B-Pref (where t = ε·mean segment return
of the agent's recent episodes): ``return_scale`` if set (see :meth:`ScriptedTeacher.calibrate`),
otherwise the mean |R| of the segments in the same :meth:`~ScriptedTeacher.label` call.

Presets (B-Pref's teachers): ``oracle`` (β = ∞), ``stoc`` (β = 1), ``mistake`` (ε_mistake = 0.1),
``skip`` (t_skip = 0.1, relative), ``equal`` (t_equal = 0.1, relative), ``myopic`` (γ = 0.9).

Deviations from B-Pref: an exact tie R^γ_A = R^γ_B gets 0.5 from the deterministic teacher (B-Pref
prefers the first segment); β = ∞ replaces B-Pref's "β ≤ 0 means rational", and β = 0 answers
uniformly at random; the skip decision is made per query, not by filtering a batch; k-way
rankings (:meth:`ScriptedTeacher.rank`) use β, γ, skip and equal, but no mistakes.

:class:`HumanTeacher` is a queue of pending queries for a UI to show and answer.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from orlkit.errors import OrlkitError

if TYPE_CHECKING:
    from orlkit.data.preferences import PreferenceData

SKIPPED = -1.0  # the label of a query the teacher declined to answer
ANSWERS = (0.0, 0.5, 1.0, SKIPPED)

PRESETS: dict[str, dict[str, Any]] = {
    "oracle": {},
    "stoc": {"beta": 1.0},
    "mistake": {"eps_mistake": 0.1},
    "skip": {"skip_threshold": 0.1, "relative_thresholds": True},
    "equal": {"equal_threshold": 0.1, "relative_thresholds": True},
    "myopic": {"gamma": 0.9},
}


def _returns(seg_rewards: Any, name: str) -> np.ndarray:
    """(N, T) float64 rewards from (N, T) or a single segment (T,)."""
    r = np.asarray(seg_rewards, dtype=np.float64)
    if r.ndim == 1:
        r = r[None]  # (1, T)
    if r.ndim != 2 or r.shape[1] == 0:
        raise OrlkitError(f"{name}: expected segment rewards of shape (N, T) or (T,), got {np.shape(seg_rewards)}")
    if not np.isfinite(r).all():
        row = int(np.argwhere(~np.isfinite(r))[0, 0])
        raise OrlkitError(f"{name}: non-finite reward (NaN or inf) in row {row}")
    return r


class ScriptedTeacher:
    """A simulated labeller that knows the true rewards (see the module docstring for the noise models).

    Args:
        beta: β, Bradley–Terry rationality; ``math.inf`` answers deterministically.
        gamma: γ, myopic discount: reward t of T gets weight γ^(T−1−t).
        eps_mistake: ε_mistake, probability of flipping a 0/1 label.
        skip_threshold: t_skip; skip a query when max(R_A, R_B) ≤ t_skip. ``None``: never skip.
        equal_threshold: t_equal; label 0.5 when |R_A − R_B| < t_equal.
        relative_thresholds: thresholds are multiples of the return scale (B-Pref's ε_skip, ε_equal).
        return_scale: the scale for relative thresholds; ``None`` uses the mean |R| of each call's segments.
        seed: an int or a ``numpy.random.Generator``; every random draw comes from it.
        name: the labeller name written with the labels.
    """

    def __init__(self, *, beta: float = math.inf, gamma: float = 1.0, eps_mistake: float = 0.0,
                 skip_threshold: float | None = None, equal_threshold: float = 0.0,
                 relative_thresholds: bool = False, return_scale: float | None = None,
                 seed: int | np.random.Generator = 0, name: str = "scripted"):
        if not beta >= 0:
            raise OrlkitError(f"ScriptedTeacher.beta (β) must be >= 0 (math.inf: deterministic), got {beta}")
        if not 0 < gamma <= 1:
            raise OrlkitError(f"ScriptedTeacher.gamma (γ) must be in (0, 1], got {gamma}")
        if not 0 <= eps_mistake <= 1:
            raise OrlkitError(f"ScriptedTeacher.eps_mistake must be in [0, 1], got {eps_mistake}")
        if not equal_threshold >= 0:
            raise OrlkitError(f"ScriptedTeacher.equal_threshold must be >= 0, got {equal_threshold}")
        self.beta, self.gamma, self.eps_mistake = float(beta), float(gamma), float(eps_mistake)
        self.skip_threshold, self.equal_threshold = skip_threshold, float(equal_threshold)
        self.relative_thresholds, self.return_scale = relative_thresholds, return_scale
        self.rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.name = name

    @classmethod
    def from_preset(cls, preset: str, seed: int | np.random.Generator = 0, **overrides: Any) -> ScriptedTeacher:
        """One of B-Pref's teachers: ``oracle``, ``stoc``, ``mistake``, ``skip``, ``equal``, ``myopic``."""
        if preset not in PRESETS:
            raise OrlkitError(f"unknown teacher preset {preset!r}; choose one of {', '.join(PRESETS)}")
        name = overrides.pop("name", preset)
        return cls(**{**PRESETS[preset], **overrides}, seed=seed, name=name)

    def calibrate(self, seg_rewards: Any) -> ScriptedTeacher:
        """Fix the scale of relative thresholds to the mean |return| of segments (N, T); returns self."""
        self.return_scale = float(np.abs(_returns(seg_rewards, "seg_rewards").sum(1)).mean())
        return self

    def thresholds(self, returns: np.ndarray) -> tuple[float | None, float]:
        """The absolute ``(t_skip, t_equal)`` for a call whose undiscounted returns are ``returns``."""
        scale = 1.0
        if self.relative_thresholds:
            scale = self.return_scale if self.return_scale is not None else float(np.abs(returns).mean())
        skip = None if self.skip_threshold is None else self.skip_threshold * scale
        return skip, self.equal_threshold * scale

    def discounted_returns(self, r: np.ndarray) -> np.ndarray:
        """R^γ = Σ_t γ^(T−1−t)·r_t for rewards (N, T): the last step counts fully."""
        t = r.shape[1]
        return r @ (self.gamma ** np.arange(t - 1, -1, -1, dtype=np.float64))  # (N,)

    def label(self, seg_rewards_a: Any, seg_rewards_b: Any) -> np.ndarray:
        """Labels (N,) for N queries with true rewards (N, T) each: 1 (A), 0 (B), 0.5 (equal), −1 (skipped)."""
        ra, rb = _returns(seg_rewards_a, "seg_rewards_a"), _returns(seg_rewards_b, "seg_rewards_b")
        if ra.shape != rb.shape:
            raise OrlkitError(f"seg_rewards_a has shape {ra.shape} but seg_rewards_b has {rb.shape}")
        n = len(ra)
        ret_a, ret_b = ra.sum(1), rb.sum(1)  # undiscounted: skip and equal decisions
        t_skip, t_equal = self.thresholds(np.concatenate([ret_a, ret_b]))
        diff = self.discounted_returns(ra) - self.discounted_returns(rb)  # (N,) R^γ_A − R^γ_B
        u_choice, u_mistake = self.rng.random(n), self.rng.random(n)  # always drawn: same stream for any noise
        if math.isinf(self.beta):
            labels = np.where(diff > 0, 1.0, np.where(diff < 0, 0.0, 0.5))
        else:
            p_a = 1.0 / (1.0 + np.exp(-np.clip(self.beta * diff, -700, 700)))  # σ(β·ΔR^γ), overflow-safe
            labels = (u_choice < p_a).astype(np.float64)
        flip = (u_mistake < self.eps_mistake) & (labels != 0.5)
        labels[flip] = 1.0 - labels[flip]
        labels[np.abs(ret_a - ret_b) < t_equal] = 0.5
        if t_skip is not None:
            labels[np.maximum(ret_a, ret_b) <= t_skip] = SKIPPED
        return labels

    def rank(self, segment_rewards: Sequence[Any]) -> list[int | list[int]] | None:
        """A ranking of k segments (each with rewards (T,)), as positions best → worst; ``None`` if skipped.

        Plackett–Luce with utilities β·R^γ (sorting β·R^γ + Gumbel noise samples it exactly; β = ∞
        sorts R^γ). Neighbours in the order whose undiscounted returns differ by less than t_equal
        (and exact ties when β = ∞) form one tie group, a nested list.
        """
        r = _returns(np.stack([np.asarray(s, dtype=np.float64) for s in segment_rewards]), "segment_rewards")
        ret = r.sum(1)
        t_skip, t_equal = self.thresholds(ret)
        if t_skip is not None and ret.max() <= t_skip:
            return None
        utility = self.discounted_returns(r)
        if math.isinf(self.beta):
            keys = utility
        else:
            keys = self.beta * utility + self.rng.gumbel(size=len(utility))
        order = np.argsort(-keys, kind="stable").tolist()
        groups: list[list[int]] = [[order[0]]]
        for prev, cur in itertools.pairwise(order):
            exact_tie = math.isinf(self.beta) and keys[prev] == keys[cur]
            if exact_tie or abs(ret[prev] - ret[cur]) < t_equal:
                groups[-1].append(cur)
            else:
                groups.append([cur])
        return [g[0] if len(g) == 1 else g for g in groups]

    def label_into(self, data: PreferenceData, queries: Sequence[tuple[int, int]]) -> int:
        """Label pairs of segment ids of ``data`` from their true rewards and add the answered ones.

        Skipped queries are not stored. Returns how many pairs were added.
        """
        if not len(queries):
            return 0
        rewards = data.segment_rewards()  # (S, T)
        idx = np.asarray(queries, dtype=np.int64).reshape(-1, 2)  # (N, 2)
        if idx.min() < 0 or idx.max() >= len(rewards):
            raise OrlkitError(f"queries refer to segment ids outside 0..{len(rewards) - 1}")
        labels = self.label(rewards[idx[:, 0]], rewards[idx[:, 1]])
        now = time.time()
        added = 0
        for (i, j), y in zip(idx.tolist(), labels.tolist(), strict=True):
            if y != SKIPPED:
                data.add_pair(i, j, y, self.name, now)
                added += 1
        return added


@dataclass
class Answer:
    """An answered query: ``label`` ∈ {0, 0.5, 1} = P(A ≻ B), or ``SKIPPED``."""

    id: int
    query: Any
    label: float
    labeller: str
    timestamp: float  # Unix seconds


class HumanTeacher:
    """A queue of preference queries for a person (through a UI) to answer, in any order.

    ``ask(query) -> id`` queues a query (anything the UI can show, e.g. a pair of segment ids);
    ``pending()`` lists the unanswered ones oldest first; ``answer(id, label)`` records a label
    (1: A, 0: B, 0.5: equal, ``SKIPPED``: no answer); ``answered()`` lists the answers in the order given.
    """

    def __init__(self, labeller: str = "human", clock: Callable[[], float] = time.time):
        self.labeller, self.clock = labeller, clock
        self._pending: dict[int, Any] = {}
        self._answered: list[Answer] = []
        self._next_id = 0

    def ask(self, query: Any) -> int:
        qid = self._next_id
        self._next_id += 1
        self._pending[qid] = query
        return qid

    def pending(self) -> list[tuple[int, Any]]:
        return list(self._pending.items())

    def answer(self, query_id: int, label: float, labeller: str | None = None) -> Answer:
        if query_id not in self._pending:
            state = "was already answered" if 0 <= query_id < self._next_id else "was never asked"
            raise OrlkitError(f"query {query_id} {state}; pending: {list(self._pending) or 'none'}")
        if isinstance(label, bool) or not isinstance(label, (int, float)) or float(label) not in ANSWERS:
            raise OrlkitError(f"query {query_id}: label {label!r} is not 1 (A preferred), 0 (B), 0.5 (equal) or "
                              f"{SKIPPED} (skipped)")
        ans = Answer(query_id, self._pending.pop(query_id), float(label), labeller or self.labeller,
                     float(self.clock()))
        self._answered.append(ans)
        return ans

    def answered(self) -> list[Answer]:
        return list(self._answered)
