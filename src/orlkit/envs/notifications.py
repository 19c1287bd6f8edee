"""Notification volume as offline RL: a user-week simulator where over-sending hurts through fatigue.

The lecture's application (Prabhakar et al. 2022, LinkedIn): a policy decides, for each candidate
notification, whether to send it. Offline DDQN sent 7.7% more notifications at 7.8% lower CTR and
lost weekly active users; DDQN+CQL sent 1.7% fewer and raised sessions, WAU and CTR. The MDP of
the paper is not public; this simulator has the ingredients the paper names (candidates with a
pCTR score, fatigue, visits, disables) so that the same shape can appear.

Dynamics (one episode = one user-week; times in hours from the week's start, Monday 00:00)
    Per user: engagement ``e ~ Beta(engagement_alpha, engagement_beta)``; fatigue ``f = 0`` at the
    start, ``+1`` per delivered notification, decaying as ``f · 2^(−Δt / fatigue_half_life)``.
    Candidates arrive at exponential gaps (mean ``mean_gap_hours``) until ``horizon_hours``; each
    has a true quality ``q ~ Beta(quality_alpha, quality_beta)`` and a logged pCTR estimate
    ``score = σ(logit q + score_noise · z)``, ``z ~ N(0, 1)``. Per candidate (one step):

    1. send (action 1) delivers unless the user disabled notifications (then nothing happens);
    2. a delivered notification is clicked with probability
       ``σ(click_bias + click_quality·q + click_engagement·e − click_fatigue·f + click_hour·c(h))``
       where ``f`` is the fatigue just before this send and ``c(h) = cos(2π(h − peak_hour)/24)``;
       a click is a session;
    3. it then disables notifications with probability ``σ(disable_bias + disable_fatigue·f⁺)``,
       ``f⁺ = f + 1``; a disable multiplies ``e`` by ``1 − disable_engagement_drop`` and blocks
       every later delivery;
    4. until the next candidate (or the horizon), organic sessions arrive with rate
       ``λ(e, f, h) = session_rate · e · exp(−session_fatigue · f) · (1 + session_hour·c(h)) /
       (1 + session_hour)`` per hour, with ``f`` decaying along the gap (exact, by thinning);
    5. engagement drifts up: ``e ← e + engagement_drift · (1 − e) · sessions`` of this step.

    Organic sessions before a user's first candidate happen too (counted in the week's sessions
    and weekly-active share, but in no step's reward: no decision caused them). The hours since
    the last visit at the week's start are drawn as ``Exp(1 / λ(e, 0, ·))`` averaged over the day.
    Notification and session counts in the windows start empty at the week's start (no history
    from earlier weeks).

Reward of a step (``reward_weights``, defaults in :data:`DEFAULT_REWARD_WEIGHTS`)
    ``sessions·w_sessions + clicks·w_clicks − sent·w_volume − disables·w_disables`` where
    ``sessions`` counts the click session and the organic sessions of the gap after the decision,
    and ``sent`` counts delivered notifications.

Observations (float32, :data:`FEATURES` in this order; what a production system logs)
    ====================  ==========================================================  =========
    feature               meaning                                                     scale
    ====================  ==========================================================  =========
    ``sent_1h``           notifications delivered in the last hour                    ÷ 1
    ``sent_24h``          ... in the last 24 hours                                    ÷ 10
    ``sent_7d``           ... in the last 7 days (= the week so far)                  ÷ 50
    ``hours_since_visit`` hours since the last session, capped at ``visit_cap_hours``  ÷ cap
    ``sessions_24h``      sessions in the last 24 hours                               ÷ 5
    ``sessions_7d``       sessions in the last 7 days                                 ÷ 20
    ``clicks_7d``         notification clicks in the last 7 days                      ÷ 10
    ``score``             the candidate's pCTR estimate                               as is
    ``hour_sin/cos``      sin/cos(2π · hour-of-day / 24)                              as is
    ``disabled``          1 if the user disabled notifications                        as is
    ====================  ==========================================================  =========

    Engagement, fatigue and the true quality are latent: the problem is partially observed,
    as in production. After a user's week ends, their observation is the one at the horizon
    with ``score = 0``.

Actions
    ``Discrete(2)``: 0 drop, 1 send. Choosing a volume level (the paper's alternative action
    space) is out of scope.

Randomness and common random numbers
    Every random draw of user ``i`` (candidates, qualities, scores, the uniforms deciding clicks,
    disables and visits) comes from its own stream ``SeedSequence(seed, spawn_key=(0, i))``,
    drawn at reset. So user ``i`` of a population equals :class:`NotificationEnv` reset with
    ``options={"user": i}``, and two policies run with the same seed meet the same users and
    candidates (paired A/B comparisons). The step is vectorised over users.

Constants (defaults of :class:`NotificationConfig`) and the checks they were tuned for
    Engagement ``Beta(1, 4)`` (mean 0.2: many barely active users, so notifications matter for
    weekly actives); quality ``Beta(2, 5)``, score noise 0.5 on the logit; clicks
    ``σ(−5 + 6q + 2e − 0.15f + 0.5c(h))``; disables ``σ(−9 + 0.38f⁺)``; organic rate
    ``0.16 · e · exp(−0.05f)`` per hour with a diurnal amplitude of 0.5; a disable halves ``e``;
    drift 0.01 per session; reward weights 1.0 sessions, 0.3 clicks, 0.05 volume, 5.0 disables;
    logging threshold 0.26 (the median score), ε = 0.05.

    Measured over 4,000 users, seed 0, by :func:`check_report` (seed 1: every entry within 2%,
    except send-everything's return, −0.422); the same users and candidates in every row:

    ========================  =========  ======  ======  =============  ============  ======
    policy                    sent/user  CTR     WAU     sessions/user  disable rate  return
    ========================  =========  ======  ======  =============  ============  ======
    logging                   27.68      0.0756  0.9545  5.172          0.0410        4.173
    logging, threshold × 0.9  30.24      0.0685  0.9543  5.076          0.0542        3.876
    send everything           46.46      0.0304  0.8920  3.751          0.4432        −0.403
    fatigue-aware heuristic   19.35      0.1069  0.9577  5.374          0.0115        4.931
    send nothing              0          —       0.8200  3.789          0             3.751
    ========================  =========  ======  ======  =============  ============  ======

    - the logging policy sends 50.3% of candidates (56 per user-week on average);
    - sending everything is far worse than logging in return, CTR and weekly actives; sending
      9% more than logging (threshold × 0.9) already costs 9% CTR, 2% sessions and 7% return,
      the shape of the lecture's DDQN result;
    - :func:`fatigue_aware_policy` (a higher score bar per recent notification and at night)
      sends 30% less and beats logging in return, sessions, WAU and CTR;
    - sending a candidate with ``q = 0.1`` to a user with ``e = 0.3``, ``f = 8`` has immediate
      expected reward −0.055 (:func:`immediate_send_value`; the fatigue it adds costs more
      later); a ``q = 0.5`` candidate to a fresh user (``f = 0``) has +0.325.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

ENV_ID = "orlkit/Notifications-v0"
FEATURES: tuple[str, ...] = ("sent_1h", "sent_24h", "sent_7d", "hours_since_visit", "sessions_24h",
                             "sessions_7d", "clicks_7d", "score", "hour_sin", "hour_cos", "disabled")
SCORE = FEATURES.index("score")
SENT_24H = FEATURES.index("sent_24h")
SENT_1H = FEATURES.index("sent_1h")
DISABLED = FEATURES.index("disabled")
DEFAULT_REWARD_WEIGHTS: dict[str, float] = {"sessions": 1.0, "clicks": 0.3, "volume": 0.05, "disables": 5.0}
LOGGING_THRESHOLD = 0.26  # the median candidate score under the default config: the logging policy sends ~half
PRODUCTION_DAILY_CAP = 4  # the frequency cap of the built-in logs: never more than 4 notifications in 24 h
OUTCOMES = ("sessions", "clicks", "sent", "disables")


@dataclass
class NotificationConfig:
    """Constants of the simulator (see the module docstring for the dynamics they enter)."""

    horizon_hours: float = 168.0  # one week: the episode length in hours
    mean_gap_hours: float = 3.0  # mean of the exponential gaps between candidate notifications
    engagement_alpha: float = 1.0  # e ~ Beta(alpha, beta) across users
    engagement_beta: float = 4.0
    quality_alpha: float = 2.0  # candidate quality q ~ Beta(alpha, beta): the true click-propensity factor
    quality_beta: float = 5.0
    score_noise: float = 0.5  # std of the noise on logit q in the logged pCTR score
    fatigue_half_life_hours: float = 24.0  # fatigue halves in this many hours
    click_bias: float = -5.0  # a0 in σ(a0 + a1·q + a2·e − a3·f + a4·c(h))
    click_quality: float = 6.0  # a1
    click_engagement: float = 2.0  # a2
    click_fatigue: float = 0.15  # a3
    click_hour: float = 0.5  # a4: diurnal effect on clicks, c(h) = cos(2π(h − peak_hour)/24)
    peak_hour: float = 14.0  # hour of day when users are most responsive
    disable_bias: float = -9.0  # d0 in σ(d0 + d1·f⁺), f⁺ the fatigue after this send
    disable_fatigue: float = 0.38  # d1
    disable_engagement_drop: float = 0.5  # e ← e·(1 − drop) after a disable
    session_rate: float = 0.16  # organic sessions per hour at e = 1, f = 0, peak hour
    session_fatigue: float = 0.05  # organic rate × exp(−session_fatigue · f)
    session_hour: float = 0.5  # diurnal amplitude of the organic rate
    engagement_drift: float = 0.01  # e ← e + drift·(1 − e) per session
    visit_cap_hours: float = 72.0  # hours_since_visit is capped here, then divided by it
    reward_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_REWARD_WEIGHTS))

    def __post_init__(self) -> None:
        unknown = set(self.reward_weights) - set(DEFAULT_REWARD_WEIGHTS)
        if unknown:
            raise ValueError(f"unknown reward_weights keys {sorted(unknown)}; "
                             f"known: {sorted(DEFAULT_REWARD_WEIGHTS)}")
        self.reward_weights = {**DEFAULT_REWARD_WEIGHTS, **self.reward_weights}
        for name in ("horizon_hours", "mean_gap_hours", "fatigue_half_life_hours", "visit_cap_hours"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not 0.0 <= self.session_hour <= 1.0 or not 0.0 <= self.disable_engagement_drop <= 1.0:
            raise ValueError("session_hour and disable_engagement_drop must be in [0, 1]")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> NotificationConfig:
        """A config from a dict of fields; unknown keys are an error naming the known ones."""
        known = {f.name for f in fields(cls)}
        unknown = set(d or {}) - known
        if unknown:
            raise ValueError(f"unknown NotificationConfig fields {sorted(unknown)}; known: {sorted(known)}")
        return cls(**dict(d or {}))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _diurnal(hours: np.ndarray, peak: float) -> np.ndarray:
    """c(h) = cos(2π(h − peak)/24) for times in hours (any offset: the day repeats)."""
    return np.cos(2.0 * np.pi * (hours - peak) / 24.0)


def session_intensity(cfg: NotificationConfig, e: np.ndarray, f: np.ndarray, t: np.ndarray) -> np.ndarray:
    """λ(e, f, h) / session_rate ∈ [0, 1]: the thinning acceptance probability of a candidate visit."""
    rho = cfg.session_hour
    return e * np.exp(-cfg.session_fatigue * f) * (1.0 + rho * _diurnal(t, cfg.peak_hour)) / (1.0 + rho)


def click_probability(cfg: NotificationConfig, q: np.ndarray, e: np.ndarray, f: np.ndarray,
                      t: np.ndarray) -> np.ndarray:
    """P(click | delivered) for quality q, engagement e, fatigue f (before this send), at time t."""
    logit = (cfg.click_bias + cfg.click_quality * q + cfg.click_engagement * e - cfg.click_fatigue * f
             + cfg.click_hour * _diurnal(t, cfg.peak_hour))
    return _sigmoid(logit)


def disable_probability(cfg: NotificationConfig, f_after: np.ndarray) -> np.ndarray:
    """P(disable | delivered) given the fatigue f⁺ including this notification."""
    return _sigmoid(cfg.disable_bias + cfg.disable_fatigue * f_after)


# ---------------------------------------------------------------------- per-user random draws
@dataclass
class _Draws:
    """Everything random about N users, drawn at reset; padded with +inf times / zeros."""

    engagement: np.ndarray  # (N,)
    last_visit: np.ndarray  # (N,) time of the last visit before the week (≤ 0)
    n_candidates: np.ndarray  # (N,) int
    times: np.ndarray  # (N, K + 1) candidate arrival times, +inf padded (one spare column)
    quality: np.ndarray  # (N, K)
    score: np.ndarray  # (N, K)
    u_click: np.ndarray  # (N, K)
    u_disable: np.ndarray  # (N, K)
    visit_times: np.ndarray  # (N, M) potential organic visits at the maximal rate, +inf padded
    u_visit: np.ndarray  # (N, M) thinning uniforms


def _draw_user(rng: np.random.Generator, cfg: NotificationConfig) -> dict[str, np.ndarray]:
    """One user's draws (1-D arrays of their own lengths)."""
    H = cfg.horizon_hours
    e = rng.beta(cfg.engagement_alpha, cfg.engagement_beta)
    mean_rate = cfg.session_rate * e / (1.0 + cfg.session_hour)  # the day-averaged rate at f = 0
    last_visit = -min(rng.exponential(1.0 / max(mean_rate, 1e-9)), 10.0 * H)
    gaps = rng.exponential(cfg.mean_gap_hours, int(H / cfg.mean_gap_hours * 1.5) + 32)
    arrivals = np.cumsum(gaps)
    while arrivals[-1] < H:  # rare: extend until the horizon is passed
        arrivals = np.concatenate([arrivals, arrivals[-1] + np.cumsum(rng.exponential(cfg.mean_gap_hours, 64))])
    times = arrivals[arrivals < H]
    if len(times) == 0:  # every user gets at least one decision
        times = np.array([H * rng.random()])
    k = len(times)
    q = rng.beta(cfg.quality_alpha, cfg.quality_beta, k)
    q = np.clip(q, 1e-6, 1 - 1e-6)
    score = _sigmoid(np.log(q / (1 - q)) + cfg.score_noise * rng.standard_normal(k))
    m = rng.poisson(cfg.session_rate * H)
    return {"engagement": np.array(e), "last_visit": np.array(last_visit), "times": times, "quality": q,
            "score": score, "u_click": rng.random(k), "u_disable": rng.random(k),
            "visit_times": np.sort(rng.uniform(0.0, H, m)), "u_visit": rng.random(m)}


def _pad(rows: list[np.ndarray], width: int, fill: float) -> np.ndarray:
    out = np.full((len(rows), width), fill)
    for i, r in enumerate(rows):  # runs once per reset, not per step
        out[i, :len(r)] = r
    return out


def _draw_users(seed: int, first_user: int, n_users: int, cfg: NotificationConfig) -> _Draws:
    users = [_draw_user(np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0, first_user + i))), cfg)
             for i in range(n_users)]
    K = max(len(u["times"]) for u in users)
    M = max(1, max(len(u["visit_times"]) for u in users))
    col = {name: [u[name] for u in users] for name in users[0]}
    return _Draws(
        engagement=np.array(col["engagement"], dtype=np.float64), last_visit=np.array(col["last_visit"]),
        n_candidates=np.array([len(t) for t in col["times"]]), times=_pad(col["times"], K + 1, np.inf),
        quality=_pad(col["quality"], K, 0.0), score=_pad(col["score"], K, 0.0),
        u_click=_pad(col["u_click"], K, 1.0), u_disable=_pad(col["u_disable"], K, 1.0),
        visit_times=_pad(col["visit_times"], M, np.inf), u_visit=_pad(col["u_visit"], M, 1.0))


# ---------------------------------------------------------------------- the population
class NotificationPopulation:
    """N users' weeks in lockstep: each step is every unfinished user's next candidate.

    A user whose week has ended is *done*: later actions for them are ignored, their reward and
    outcomes are 0 and their observation stays the one at the horizon. ``truncated`` is True
    exactly once per user, at their last decision; ``terminated`` is always False (no terminal
    state: the week just ends). ``info["active"]`` marks the users who decided at this step.

    Args:
        n_users: N.
        config: the simulator constants (default :class:`NotificationConfig`).
    """

    def __init__(self, n_users: int, config: NotificationConfig | None = None):
        if n_users < 1:
            raise ValueError(f"n_users must be positive, got {n_users}")
        self.n_users = int(n_users)
        self.config = config if config is not None else NotificationConfig()
        self._d: _Draws | None = None

    # ------------------------------------------------------------------ reset
    def reset(self, seed: int | None = None, first_user: int = 0) -> np.ndarray:
        """Draw users ``first_user ... first_user + N − 1`` of ``seed``; returns obs (N, d) float32."""
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1)[0])
        cfg, N = self.config, self.n_users
        self.seed, self.first_user = int(seed), int(first_user)
        d = self._d = _draw_users(self.seed, self.first_user, N, cfg)
        K, M = d.quality.shape[1], d.visit_times.shape[1]
        self.k = np.zeros(N, dtype=np.int64)  # index of each user's current candidate
        self.e = d.engagement.copy()
        self.f = np.zeros(N)  # fatigue at time self.f_time
        self.f_time = np.zeros(N)
        self.disabled = np.zeros(N, dtype=bool)
        self.sent = np.zeros((N, K), dtype=bool)  # delivered, per candidate
        self.clicked = np.zeros((N, K), dtype=bool)
        self.visited = np.zeros((N, M), dtype=bool)  # accepted organic visits
        self.totals = {name: np.zeros(N, dtype=np.int64) for name in OUTCOMES}
        self.returns = np.zeros(N)
        pre = self._organic(np.zeros(N), d.times[:, 0], np.ones(N, dtype=bool))  # before the first candidate
        self.totals["sessions"] += pre
        self.e += cfg.engagement_drift * (1.0 - self.e) * pre
        return self.observe()

    @property
    def done(self) -> np.ndarray:
        """(N,) bool: the user's week has ended."""
        self._check_reset()
        return self.k >= self._d.n_candidates

    @property
    def current_time(self) -> np.ndarray:
        """(N,) hours since the week's start of each user's current candidate (the horizon when done)."""
        self._check_reset()
        kk = np.minimum(self.k, self._d.quality.shape[1] - 1)
        return np.where(self.done, self.config.horizon_hours, self._d.times[np.arange(self.n_users), kk])

    def _check_reset(self) -> None:
        if self._d is None:
            raise RuntimeError("NotificationPopulation: call reset() first")

    # ------------------------------------------------------------------ observations
    def observe(self) -> np.ndarray:
        """(N, len(FEATURES)) float32 observations at each user's current candidate (see module doc)."""
        self._check_reset()
        d, cfg, done = self._d, self.config, self.done
        kk = np.minimum(self.k, d.quality.shape[1] - 1)
        t = self.current_time  # (N,)
        sent_age = np.where(self.sent, t[:, None] - d.times[:, :-1], np.inf)  # (N, K)
        click_age = np.where(self.clicked, t[:, None] - d.times[:, :-1], np.inf)  # (N, K)
        visit_age = np.where(self.visited, t[:, None] - d.visit_times, np.inf)  # (N, M)

        def sessions_within(w: float) -> np.ndarray:
            return (click_age < w).sum(1) + (visit_age < w).sum(1)

        since = np.minimum(np.minimum(click_age.min(1), visit_age.min(1)), t - d.last_visit)
        hour = np.mod(t, 24.0)
        obs = np.stack([
            (sent_age < 1.0).sum(1), (sent_age < 24.0).sum(1) / 10.0, (sent_age < 168.0).sum(1) / 50.0,
            np.minimum(since, cfg.visit_cap_hours) / cfg.visit_cap_hours,
            sessions_within(24.0) / 5.0, sessions_within(168.0) / 20.0, (click_age < 168.0).sum(1) / 10.0,
            np.where(done, 0.0, d.score[np.arange(self.n_users), kk]),
            np.sin(2 * np.pi * hour / 24.0), np.cos(2 * np.pi * hour / 24.0), self.disabled,
        ], axis=1)  # (N, d)
        return obs.astype(np.float32)

    # ------------------------------------------------------------------ dynamics
    def _organic(self, start: np.ndarray, end: np.ndarray, active: np.ndarray) -> np.ndarray:
        """Accept organic visits in (start, end] by thinning with the fatigue decaying from ``start``."""
        d, cfg = self._d, self.config
        vt = d.visit_times  # (N, M)
        in_gap = active[:, None] & (vt > start[:, None]) & (vt <= end[:, None])
        when = np.where(in_gap, vt, start[:, None])  # (N, M); padding (+inf) never enters the intensity
        f = self.f[:, None] * np.exp2(-(when - start[:, None]) / cfg.fatigue_half_life_hours)  # (N, M)
        accept = in_gap & (d.u_visit < session_intensity(cfg, self.e[:, None], f, when))
        self.visited |= accept
        return accept.sum(1)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Apply one send/drop decision per user (0/1, shape (N,); ignored for done users).

        Returns ``obs`` (N, d) float32, ``reward`` (N,) float64, ``terminated`` and ``truncated``
        (N,) bool, and ``info`` of (N,) arrays: ``sessions, clicks, sent, disables`` (int64, this
        step's outcomes), ``hour`` (hour of day of the decision, NaN for done users), ``active``.
        """
        self._check_reset()
        a = np.asarray(actions)
        if a.shape != (self.n_users,) or not np.isin(a, (0, 1)).all():
            raise ValueError(f"actions must be 0/1 of shape ({self.n_users},), got shape {a.shape}")
        active = ~self.done
        if not active.any():
            raise RuntimeError("every user's week has ended; call reset()")
        d, cfg, rows = self._d, self.config, np.arange(self.n_users)
        kk = np.minimum(self.k, d.quality.shape[1] - 1)
        t = np.where(active, d.times[rows, kk], self.f_time)  # (N,) decision times; done users stand still
        self.f = self.f * np.exp2(-(t - self.f_time) / cfg.fatigue_half_life_hours)  # fatigue just before
        self.f_time = t
        deliver = active & (a == 1) & ~self.disabled
        click = deliver & (d.u_click[rows, kk] < click_probability(cfg, d.quality[rows, kk], self.e, self.f, t))
        self.f = self.f + deliver
        disable = deliver & (d.u_disable[rows, kk] < disable_probability(cfg, self.f))
        self.disabled |= disable
        self.e = np.where(disable, self.e * (1.0 - cfg.disable_engagement_drop), self.e)
        self.sent[rows, kk] |= deliver
        self.clicked[rows, kk] |= click
        gap_end = np.minimum(d.times[rows, kk + 1], cfg.horizon_hours)
        sessions = click + self._organic(t, gap_end, active)
        self.e += cfg.engagement_drift * (1.0 - self.e) * sessions
        out = {"sessions": sessions, "clicks": click.astype(np.int64), "sent": deliver.astype(np.int64),
               "disables": disable.astype(np.int64)}
        w = cfg.reward_weights
        reward = (w["sessions"] * sessions + w["clicks"] * out["clicks"] - w["volume"] * out["sent"]
                  - w["disables"] * out["disables"]) * active
        for name in OUTCOMES:
            self.totals[name] += out[name]
        self.returns += reward
        truncated = active & (self.k + 1 >= d.n_candidates)
        self.k += active
        info = {**out, "hour": np.where(active, np.mod(t, 24.0), np.nan), "active": active}
        return self.observe(), reward.astype(np.float64), np.zeros(self.n_users, dtype=bool), truncated, info

    # ------------------------------------------------------------------ summaries
    def outcomes(self) -> dict[str, np.ndarray]:
        """Per-user week outcomes so far: sessions (incl. those before the first candidate), clicks,
        sent, disables, weekly_active (≥ 1 session), return (sum of step rewards), decisions."""
        self._check_reset()
        return {**{k: v.copy() for k, v in self.totals.items()}, "weekly_active": self.totals["sessions"] >= 1,
                "return": self.returns.copy(), "decisions": np.minimum(self.k, self._d.n_candidates)}

    def metrics(self) -> dict[str, float]:
        """:func:`summarize` of :meth:`outcomes`."""
        return summarize(self.outcomes())


def summarize(outcomes: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Population metrics from per-user outcomes (as :meth:`NotificationPopulation.outcomes` gives).

    ``sessions`` (total), ``sessions_per_user``, ``weekly_active`` (share of users with ≥ 1 session),
    ``sent`` (total volume), ``sent_per_user``, ``ctr`` (clicks / sent), ``clicks``, ``disables``
    (total), ``disable_rate`` (share of users who disabled), ``return_mean``, ``users``.
    """
    n = len(outcomes["sessions"])
    sent = float(np.sum(outcomes["sent"]))
    return {
        "users": float(n),
        "sessions": float(np.sum(outcomes["sessions"])),
        "sessions_per_user": float(np.mean(outcomes["sessions"])),
        "weekly_active": float(np.mean(outcomes["weekly_active"])),
        "sent": sent,
        "sent_per_user": sent / n,
        "clicks": float(np.sum(outcomes["clicks"])),
        "ctr": float(np.sum(outcomes["clicks"])) / sent if sent else 0.0,
        "disables": float(np.sum(outcomes["disables"])),
        "disable_rate": float(np.mean(outcomes["disables"] > 0)),
        "return_mean": float(np.mean(outcomes["return"])),
    }


# ---------------------------------------------------------------------- policies and A/B runs
def logging_policy(obs: np.ndarray, rng: np.random.Generator, threshold: float = LOGGING_THRESHOLD,
                   epsilon: float = 0.05, daily_cap: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The behavior policy: send iff ``score > threshold``, each decision flipped with prob ε.

    With ``daily_cap`` (a production frequency cap), a user who was sent ``daily_cap`` or more
    notifications in the last 24 h is never sent another: no exploration crosses the cap, so the
    logs never show a send above it.

    Returns ``(actions (N,) int64, propensities (N,) float64)``: the propensity is the
    probability of the chosen action, with ``P(send) = 1 − ε`` if ``score > threshold`` else ``ε``
    (and 0 above the cap).
    """
    obs = np.atleast_2d(obs)
    greedy = obs[:, SCORE] > threshold
    flip = rng.random(len(obs)) < epsilon
    p_send = np.where(greedy, 1.0 - epsilon, epsilon)
    if daily_cap is not None:
        capped = np.rint(obs[:, SENT_24H] * 10.0) >= daily_cap  # sent_24h is logged as count / 10
        p_send = np.where(capped, 0.0, p_send)
        flip &= ~capped
        greedy &= ~capped
    actions = (greedy ^ flip).astype(np.int64)
    return actions, np.where(actions == 1, p_send, 1.0 - p_send)


def fatigue_aware_policy(obs: np.ndarray, threshold: float = 0.22, per_recent: float = 0.2,
                         night_penalty: float = 0.1, peak_hour: float = 14.0) -> np.ndarray:
    """A reference heuristic that uses only logged features (fatigue itself is latent).

    Send iff ``score > threshold + per_recent·sent_24h + night_penalty·(1 − c(h))/2`` (``sent_24h``
    as scaled in the observation, ``c(h)`` the diurnal curve peaking at ``peak_hour``), and never
    when notifications are disabled or one was delivered in the last hour.
    """
    obs = np.atleast_2d(obs)
    hour = np.arctan2(obs[:, FEATURES.index("hour_sin")], obs[:, FEATURES.index("hour_cos")]) * 24 / (2 * np.pi)
    off_peak = (1.0 - _diurnal(hour, peak_hour)) / 2.0  # 0 at the peak hour, 1 twelve hours away
    bar = threshold + per_recent * obs[:, SENT_24H] + night_penalty * off_peak
    ok = (obs[:, SCORE] > bar) & (obs[:, DISABLED] < 0.5) & (obs[:, SENT_1H] < 0.5)
    return ok.astype(np.int64)


def send_all_policy(obs: np.ndarray) -> np.ndarray:
    """Send every candidate."""
    return np.ones(len(np.atleast_2d(obs)), dtype=np.int64)


def logging_batch_policy(seed: int = 0, threshold: float = LOGGING_THRESHOLD, epsilon: float = 0.05,
                         daily_cap: int | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """:func:`logging_policy` as a batch policy ``obs -> actions`` (its own seeded generator)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,)))
    return lambda obs: logging_policy(obs, rng, threshold, epsilon, daily_cap)[0]


def simulate(policy: Callable[[np.ndarray], np.ndarray], n_users: int, seed: int = 0,
             config: NotificationConfig | None = None) -> dict[str, np.ndarray]:
    """Run ``policy(obs (N, d)) -> actions (N,)`` for one week of ``n_users`` users.

    Returns per-user arrays ``sessions, clicks, sent, disables, weekly_active, return, decisions``
    (:func:`summarize` turns them into metrics). The same seed gives the same users and candidates
    for every policy, so A/B comparisons are paired.
    """
    pop = NotificationPopulation(n_users, config)
    obs = pop.reset(seed)
    while not pop.done.all():
        obs, *_ = pop.step(np.asarray(policy(obs)))
    return pop.outcomes()


# ---------------------------------------------------------------------- the Gymnasium view
def _obs_bounds() -> tuple[np.ndarray, np.ndarray]:
    low = np.zeros(len(FEATURES), dtype=np.float32)
    high = np.full(len(FEATURES), np.inf, dtype=np.float32)
    for name in ("hour_sin", "hour_cos"):
        low[FEATURES.index(name)] = -1.0
    for name in ("hours_since_visit", "score", "hour_sin", "hour_cos", "disabled"):
        high[FEATURES.index(name)] = 1.0
    return low, high


class NotificationEnv(gymnasium.Env):
    """One user's week as a Gymnasium env (the population's dynamics with N = 1).

    Args:
        config: a :class:`NotificationConfig` or a dict of its fields; keyword arguments override
            single fields (``gymnasium.make(ENV_ID, reward_weights={...})``).

    ``reset(seed=s, options={"user": i})`` gives user ``i`` of seed ``s`` (default user 0);
    without a seed, the next seed comes from the env's generator. ``info`` of a step holds
    ``sessions, clicks, sent, disables`` (ints) and ``hour``.
    """

    metadata = {"render_modes": []}

    def __init__(self, config: NotificationConfig | Mapping[str, Any] | None = None,
                 render_mode: str | None = None, **overrides: Any):
        if render_mode is not None:
            raise ValueError(f"NotificationEnv has no render modes, got render_mode={render_mode!r}")
        self.render_mode = None
        if not isinstance(config, NotificationConfig):
            config = NotificationConfig.from_dict({**dict(config or {}), **overrides})
        elif overrides:
            config = NotificationConfig.from_dict({**config.to_dict(), **overrides})
        self.config = config
        self._pop = NotificationPopulation(1, config)
        low, high = _obs_bounds()
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        self.action_space = spaces.Discrete(2)
        self._started = False

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        user_seed = seed if seed is not None else int(self.np_random.integers(2**63 - 1))
        obs = self._pop.reset(user_seed, first_user=int((options or {}).get("user", 0)))
        self._started = True
        return obs[0], {"hour": float(math.fmod(self._pop.current_time[0], 24.0))}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if not self._started or self._pop.done[0]:
            raise RuntimeError("NotificationEnv.step called before reset() or after the week ended")
        if not self.action_space.contains(action):
            raise ValueError(f"action must be 0 (drop) or 1 (send), got {action!r}")
        obs, reward, terminated, truncated, info = self._pop.step(np.array([int(action)]))
        info1 = {name: int(info[name][0]) for name in OUTCOMES} | {"hour": float(info["hour"][0])}
        return obs[0], float(reward[0]), bool(terminated[0]), bool(truncated[0]), info1

    def metrics(self) -> dict[str, float]:
        """The finished (or running) week's :func:`summarize` metrics."""
        return self._pop.metrics()


if ENV_ID not in gymnasium.registry:
    # The env ends its own episodes at the horizon; no TimeLimit wrapper on top.
    gymnasium.register(id=ENV_ID, entry_point=NotificationEnv, max_episode_steps=None)


# ---------------------------------------------------------------------- the checks in the docstring
def immediate_send_value(q: float, e: float, f: float, hour: float = 14.0,
                         config: NotificationConfig | None = None) -> float:
    """Expected immediate reward of sending (clicks and disables only; fatigue's later cost excluded)."""
    cfg = config if config is not None else NotificationConfig()
    w = cfg.reward_weights
    p = click_probability(cfg, np.float64(q), np.float64(e), np.float64(f), np.float64(hour))
    return float((w["sessions"] + w["clicks"]) * p - w["volume"] - w["disables"] * disable_probability(cfg, f + 1.0))


def check_report(n_users: int = 4000, seed: int = 0) -> str:
    """The checks of the module docstring, measured (a Markdown-ish table; ~10 s for 4,000 users)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,)))
    pop, chosen = NotificationPopulation(n_users), []
    obs = pop.reset(seed)
    while not pop.done.all():
        actions = logging_policy(obs, rng)[0]
        chosen.append(actions[~pop.done])  # the decisions actually taken
        obs, *_ = pop.step(actions)
    rows = {"logging": pop.metrics()}
    rows["logging, threshold x 0.9"] = summarize(simulate(
        logging_batch_policy(seed, threshold=0.9 * LOGGING_THRESHOLD), n_users, seed))
    rows["send everything"] = summarize(simulate(send_all_policy, n_users, seed))
    rows["fatigue-aware"] = summarize(simulate(fatigue_aware_policy, n_users, seed))
    rows["send nothing"] = summarize(simulate(lambda o: np.zeros(len(o), dtype=np.int64), n_users, seed))
    lines = [f"{n_users} users, seed {seed}; logging sends {np.concatenate(chosen).mean():.3f} of candidates",
             "policy | sent/user | CTR | WAU | sessions/user | disable rate | mean return"]
    for name, m in rows.items():
        lines.append(f"{name} | {m['sent_per_user']:.2f} | {m['ctr']:.4f} | {m['weekly_active']:.4f} | "
                     f"{m['sessions_per_user']:.3f} | {m['disable_rate']:.4f} | {m['return_mean']:.3f}")
    lines.append(f"immediate value of sending q=0.1 to e=0.3, f=8: {immediate_send_value(0.1, 0.3, 8.0):.4f}; "
                 f"q=0.5 to e=0.3, f=0: {immediate_send_value(0.5, 0.3, 0.0):.4f}")
    return "\n".join(lines)
