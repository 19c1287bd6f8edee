"""Scripted teachers produce B-Pref's label statistics; the human teacher is a well-behaved queue.

Statistical checks use many synthetic queries and a 4.5-sigma binomial tolerance."""

import math

import numpy as np
import pytest

from orlkit.data.preferences import PreferenceData, Segment
from orlkit.errors import OrlkitError
from orlkit.rewards.teachers import PRESETS, SKIPPED, HumanTeacher, ScriptedTeacher

T = 4


def queries(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, T)), rng.normal(size=(n, T))


def within_binomial(freq: float, p: float, n: int, sigmas: float = 4.5) -> bool:
    return abs(freq - p) <= sigmas * math.sqrt(p * (1 - p) / n) + 1e-12


def test_oracle_prefers_the_higher_return():
    ra, rb = queries(1000)
    labels = ScriptedTeacher.from_preset("oracle").label(ra, rb)
    np.testing.assert_array_equal(labels, (ra.sum(1) > rb.sum(1)).astype(float))
    assert ScriptedTeacher().label([1.0, 2.0], [2.0, 1.0]).tolist() == [0.5]  # exact tie: no preference


def test_mistake_rate_is_eps():
    ra, rb = queries(20_000)
    oracle = ScriptedTeacher().label(ra, rb)
    labels = ScriptedTeacher.from_preset("mistake", seed=1).label(ra, rb)
    assert set(np.unique(labels)) == {0.0, 1.0}
    assert within_binomial(np.mean(labels != oracle), 0.1, len(ra))


@pytest.mark.parametrize("beta", [0.5, 1.0, 2.0])
def test_bradley_terry_teacher_label_frequency_is_sigmoid_beta_delta(beta):
    n = 4000
    teacher = ScriptedTeacher(beta=beta, seed=2)
    for delta in (-2.0, -0.5, 0.25, 1.0, 3.0):
        ra = np.zeros((n, T))
        ra[:, 1] = delta  # R_A − R_B = delta
        labels = teacher.label(ra, np.zeros((n, T)))
        assert within_binomial(labels.mean(), 1 / (1 + math.exp(-beta * delta)), n), (beta, delta)


def test_beta_zero_answers_at_random():
    ra, rb = queries(8000)
    assert within_binomial(ScriptedTeacher(beta=0.0, seed=3).label(ra, rb).mean(), 0.5, 8000)


def test_equal_label_exactly_when_returns_are_within_the_threshold():
    ra, rb = queries(5000)
    diff = np.abs(ra.sum(1) - rb.sum(1))
    labels = ScriptedTeacher(equal_threshold=0.5, eps_mistake=0.3, seed=4).label(ra, rb)
    np.testing.assert_array_equal(labels == 0.5, diff < 0.5)  # mistakes never touch equal labels
    assert 0.05 < np.mean(diff < 0.5) < 0.5  # the check is not vacuous

    relative = ScriptedTeacher.from_preset("equal")  # t_equal = 0.1 · mean |R| of the call's segments
    scale = np.abs(np.concatenate([ra.sum(1), rb.sum(1)])).mean()
    np.testing.assert_array_equal(relative.label(ra, rb) == 0.5, diff < 0.1 * scale)
    calibrated = ScriptedTeacher.from_preset("equal").calibrate(np.full((3, T), 2.5))  # mean |R| = 10
    np.testing.assert_array_equal(calibrated.label(ra, rb) == 0.5, diff < 1.0)


def test_skip_exactly_when_neither_return_exceeds_the_threshold():
    ra, rb = queries(5000)
    skip = np.maximum(ra.sum(1), rb.sum(1)) <= 0.3
    labels = ScriptedTeacher(skip_threshold=0.3, equal_threshold=100.0).label(ra, rb)  # skip overrides equal
    np.testing.assert_array_equal(labels == SKIPPED, skip)
    assert np.all(labels[~skip] == 0.5)
    assert np.mean(labels == SKIPPED) == pytest.approx(np.mean(skip)) and 0.1 < np.mean(skip) < 0.9

    teacher = ScriptedTeacher.from_preset("skip", return_scale=20.0)  # t_skip = 0.1 · 20 = 2
    np.testing.assert_array_equal(teacher.label(ra, rb) == SKIPPED, np.maximum(ra.sum(1), rb.sum(1)) <= 2.0)


def test_myopic_teacher_weights_later_steps_more():
    early = [1.0, 0.0, 0.0, 0.0, 0.0]  # return 1.0, all of it at the start
    late = [0.0, 0.0, 0.0, 0.0, 0.9]  # return 0.9, all of it at the end
    assert ScriptedTeacher.from_preset("oracle").label(early, late).tolist() == [1.0]
    myopic = ScriptedTeacher(gamma=0.5)  # early counts 0.5⁴ = 0.0625 < 0.9
    assert myopic.label(early, late).tolist() == [0.0]
    np.testing.assert_allclose(myopic.discounted_returns(np.ones((1, 3))), [0.25 + 0.5 + 1.0])
    assert ScriptedTeacher.from_preset("myopic").gamma == 0.9


def test_presets_mirror_b_pref():
    t = {name: ScriptedTeacher.from_preset(name) for name in PRESETS}
    assert math.isinf(t["oracle"].beta) and t["oracle"].gamma == 1 and t["oracle"].eps_mistake == 0
    assert t["oracle"].skip_threshold is None and t["oracle"].equal_threshold == 0
    assert t["stoc"].beta == 1.0
    assert t["mistake"].eps_mistake == 0.1
    assert t["skip"].skip_threshold == 0.1 and t["skip"].relative_thresholds
    assert t["equal"].equal_threshold == 0.1 and t["equal"].relative_thresholds
    assert t["myopic"].gamma == 0.9
    assert t["stoc"].name == "stoc" and ScriptedTeacher.from_preset("stoc", name="bob").name == "bob"
    with pytest.raises(OrlkitError, match="unknown teacher preset 'noisy'"):
        ScriptedTeacher.from_preset("noisy")


def test_same_seed_same_labels_and_generators_are_accepted():
    ra, rb = queries(200)
    a = ScriptedTeacher(beta=1.0, eps_mistake=0.2, seed=7).label(ra, rb)
    b = ScriptedTeacher(beta=1.0, eps_mistake=0.2, seed=np.random.default_rng(7)).label(ra, rb)
    np.testing.assert_array_equal(a, b)


def test_rank_sorts_by_return_and_groups_ties():
    rewards = [np.full(T, v) for v in (0.1, 0.9, 0.5, 0.52, -1.0)]  # returns 0.4, 3.6, 2.0, 2.08, -4.0
    assert ScriptedTeacher().rank(rewards) == [1, 3, 2, 0, 4]
    assert ScriptedTeacher(equal_threshold=0.1).rank(rewards) == [1, [3, 2], 0, 4]
    assert ScriptedTeacher(skip_threshold=5.0).rank(rewards) is None
    assert ScriptedTeacher().rank([np.zeros(T), np.zeros(T), np.ones(T)]) == [2, [0, 1]]


def test_stochastic_rank_is_plackett_luce():
    teacher, n, delta = ScriptedTeacher(beta=1.0, seed=8), 4000, 0.8
    a, b = np.zeros(T), np.zeros(T)
    a[0] = delta
    first = np.mean([teacher.rank([a, b])[0] == 0 for _ in range(n)])
    assert within_binomial(first, 1 / (1 + math.exp(-delta)), n)


def test_label_into_stores_answered_pairs_only():
    rewards = np.array([[1.0, 1.0], [0.0, 0.0], [-1.0, -1.0]])
    data = PreferenceData([Segment(np.zeros((2, 1)), np.zeros((2, 1)), r) for r in rewards])
    teacher = ScriptedTeacher(skip_threshold=0.5, name="oracle-skip")
    assert teacher.label_into(data, [(0, 1), (1, 2), (2, 0)]) == 2  # (1, 2): neither return exceeds 0.5
    assert [(p.i, p.j, p.label, p.labeller) for p in data.pairs] == [(0, 1, 1.0, "oracle-skip"),
                                                                      (2, 0, 0.0, "oracle-skip")]


def test_bad_teacher_input_is_named():
    with pytest.raises(OrlkitError, match="beta"):
        ScriptedTeacher(beta=-1)
    with pytest.raises(OrlkitError, match="gamma"):
        ScriptedTeacher(gamma=0.0)
    with pytest.raises(OrlkitError, match="shape"):
        ScriptedTeacher().label(np.zeros((3, 4)), np.zeros((3, 5)))
    with pytest.raises(OrlkitError, match="seg_rewards_b: non-finite reward .* row 1"):
        ScriptedTeacher().label(np.zeros((3, 4)), np.array([[0.0] * 4, [np.nan] * 4, [0.0] * 4]))


def test_human_teacher_queue():
    clock = iter([100.0, 200.0])
    human = HumanTeacher("alice", clock=lambda: next(clock))
    q0, q1, q2 = human.ask((0, 1)), human.ask((2, 3)), human.ask((4, 5))
    assert human.pending() == [(q0, (0, 1)), (q1, (2, 3)), (q2, (4, 5))]
    human.answer(q1, 0.5)
    human.answer(q0, SKIPPED, labeller="bob")
    assert human.pending() == [(q2, (4, 5))]
    assert [(a.id, a.query, a.label, a.labeller, a.timestamp) for a in human.answered()] == [
        (q1, (2, 3), 0.5, "alice", 100.0), (q0, (0, 1), SKIPPED, "bob", 200.0)]
    with pytest.raises(OrlkitError, match="query 1 was already answered"):
        human.answer(q1, 1.0)
    with pytest.raises(OrlkitError, match="query 9 was never asked"):
        human.answer(9, 1.0)
    with pytest.raises(OrlkitError, match="label 0.3"):
        human.answer(q2, 0.3)
    assert human.pending() == [(q2, (4, 5))]  # a rejected answer leaves the query pending
