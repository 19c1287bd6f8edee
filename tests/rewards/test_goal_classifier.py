"""Goal classifier: the losses against NumPy, mixup, balanced batches, RAQ, save/load, and the lecture's
claim on a 2-D toy — a frozen classifier is exploitable, VICE's policy negatives fix it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from orlkit.errors import OrlkitError
from orlkit.rewards.base import RewardModel, relabel_rewards
from orlkit.rewards.goal_classifier import (
    BalancedSampler,
    GoalClassifier,
    GoalClassifierConfig,
    classifier_loss,
    gradient_penalty,
    mixup,
    smooth_labels,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TOY = GoalClassifierConfig(hidden=(64, 64), lr=1e-3, batch_size=128)  # small and fast; default mixup α = 1
SUCCESS_CENTER, SUCCESS_RADIUS = np.array([1.0, 0.0]), 0.3  # the toy's goal set G: a disc


def disc(rng: np.random.Generator, n: int, center, radius: float) -> np.ndarray:
    ang, rad = rng.uniform(0, 2 * np.pi, n), radius * np.sqrt(rng.uniform(0, 1, n))
    return np.stack([center[0] + rad * np.cos(ang), center[1] + rad * np.sin(ang)], axis=1).astype(np.float32)


def toy_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Positives: 64 states in G; fixed negatives: 128 states around (−1, 0)."""
    rng = np.random.default_rng(seed)
    return disc(rng, 64, SUCCESS_CENTER, 0.25), (rng.normal(0, 0.3, (128, 2)) + [-1.0, 0.0]).astype(np.float32)


# ---------------------------------------------------------------------- losses
def np_bce(logits: np.ndarray, labels: np.ndarray) -> float:
    p = 1 / (1 + np.exp(-logits))
    return float(np.mean(-(labels * np.log(p) + (1 - labels) * np.log(1 - p))))


@pytest.mark.parametrize("eps", [0.0, 0.2])
def test_classifier_loss_is_bce_on_logits_against_numpy(eps):
    logits = np.array([-3.0, -0.5, 0.0, 0.7, 4.0])
    labels = np.array([0.0, 1.0, 0.3, 1.0, 0.0])
    loss, metrics = classifier_loss(torch.tensor(logits), torch.tensor(labels), label_smoothing=eps)
    smoothed = labels * (1 - eps) + eps / 2
    assert float(loss) == pytest.approx(np_bce(logits, smoothed), rel=1e-10)
    assert set(metrics) == {"loss/classifier"}
    with pytest.raises(OrlkitError, match="differ"):
        classifier_loss(torch.zeros(3), torch.zeros(4))


def test_label_smoothing_values():
    out = smooth_labels(torch.tensor([1.0, 0.0, 0.5, 0.8]), 0.2)
    torch.testing.assert_close(out, torch.tensor([0.9, 0.1, 0.5, 0.74]))
    torch.testing.assert_close(smooth_labels(torch.tensor([1.0, 0.0]), 0.0), torch.tensor([1.0, 0.0]))


def test_gradient_penalty_of_a_linear_function_is_its_squared_weight_norm():
    w = torch.tensor([3.0, -4.0], requires_grad=True)
    x = torch.randn(8, 2, requires_grad=True)
    unused = torch.randn(8, 3, requires_grad=True)
    penalty, metrics = gradient_penalty(x @ w, [x, unused])
    assert float(penalty.detach()) == pytest.approx(25.0)
    assert float(metrics["stats/grad_norm"].detach()) == pytest.approx(5.0)
    assert penalty.requires_grad  # the graph is kept so the penalty can be minimised


# ---------------------------------------------------------------------- mixup
def test_mixup_mixes_inputs_and_labels_with_the_same_lambda():
    n, rng = 64, np.random.default_rng(0)
    x, y = mixup(np.ones((n, 3), np.float32), np.zeros((n, 3), np.float32), 1.0, rng)
    assert x.shape == (2 * n, 3) and y.shape == (2 * n,)
    assert ((y > 0) & (y < 1)).all()  # every example is a mix of a positive (1) and a negative (0)
    np.testing.assert_allclose(x, np.repeat(y[:, None], 3, axis=1), rtol=1e-6)  # λ·1 + (1 − λ)·0 = λ


def test_mixup_pairs_each_positive_and_each_negative_twice():
    n = 50
    x_pos = np.stack([np.arange(1, n + 1), np.zeros(n)], axis=1).astype(np.float32)  # positive i: (i + 1, 0)
    x_neg = np.stack([np.zeros(n), np.arange(100, 100 + n)], axis=1).astype(np.float32)  # negative k: (0, 100 + k)
    x, y = mixup(x_pos, x_neg, 1.0, np.random.default_rng(1))
    i = np.rint(x[:, 0] / y).astype(int) - 1  # x = (λ(i + 1), (1 − λ)(100 + k)), label λ
    k = np.rint(x[:, 1] / (1 - y)).astype(int) - 100
    np.testing.assert_allclose(x[:, 0], y * x_pos[i, 0], rtol=1e-5)
    np.testing.assert_allclose(x[:, 1], (1 - y) * x_neg[k, 1], rtol=1e-5)
    np.testing.assert_array_equal(i[:n], np.arange(n))
    np.testing.assert_array_equal(k[n:], np.arange(n))
    assert (np.bincount(i, minlength=n) == 2).all() and (np.bincount(k, minlength=n) == 2).all()


def test_mixup_lambda_is_beta_and_alpha_zero_turns_it_off():
    ones, zeros = np.ones((2000, 1), np.float32), np.zeros((2000, 1), np.float32)
    _, y = mixup(ones, zeros, 1.0, np.random.default_rng(0))  # Beta(1, 1) = U(0, 1)
    assert abs(y.mean() - 0.5) < 0.02 and abs(y.var() - 1 / 12) < 0.01
    _, y = mixup(ones, zeros, 0.2, np.random.default_rng(0))  # U-shaped, still strictly inside (0, 1)
    assert ((y > 0) & (y < 1)).all() and ((y < 0.1) | (y > 0.9)).mean() > 0.5
    x, y = mixup(ones[:3], zeros[:3], 0.0, np.random.default_rng(0))
    np.testing.assert_array_equal(y, [1, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(x[:, 0], [1, 1, 1, 0, 0, 0])
    a = mixup(ones[:5], zeros[:5], 1.0, np.random.default_rng(7))
    b = mixup(ones[:5], zeros[:5], 1.0, np.random.default_rng(7))
    np.testing.assert_array_equal(a[1], b[1])


# ---------------------------------------------------------------------- balanced batches
def test_balanced_sampler_gives_exact_halves_from_very_unequal_pools():
    sampler = BalancedSampler(2, np.random.default_rng(0))
    sampler.add_positives(np.ones((3, 2)))
    sampler.add_negatives(-np.ones((10_000, 2)))
    for _ in range(5):
        pos, neg = sampler.sample(256)
        assert pos.shape == neg.shape == (128, 2)
        assert (pos == 1).all() and (neg == -1).all()
    sampler.add_negatives(torch.full((5, 2), -2.0))  # tensors and repeated adds grow the pool
    assert sampler.negatives.size == 10_005


def test_sampler_and_pools_reject_bad_input():
    sampler = BalancedSampler(2, np.random.default_rng(0))
    with pytest.raises(OrlkitError, match="positives .* empty"):
        sampler.sample(4)
    sampler.add_positives(np.zeros((2, 2)))
    with pytest.raises(OrlkitError, match="even"):
        sampler.sample(5)
    with pytest.raises(OrlkitError, match=r"shape \(N, 2\)"):
        sampler.add_negatives(np.zeros((4, 3)))
    with pytest.raises(OrlkitError, match="row 1 .* not finite"):
        sampler.add_negatives(np.array([[0.0, 0.0], [np.nan, 0.0]]))
    with pytest.raises(OrlkitError, match="batch_size must be even"):
        GoalClassifier(2, GoalClassifierConfig(batch_size=7))


# ---------------------------------------------------------------------- the lecture's claim
def test_frozen_classifier_is_exploited_and_vice_negatives_fix_it():
    """A frozen classifier scores an unseen non-success state high; after VICE rounds that add the
    policy's visits to it as negatives it scores it low, while true successes keep p ≥ ½."""
    pos, neg = toy_data()
    exploit = np.array([[2.5, 0.0]], np.float32)  # far outside G, never shown to the classifier
    clf = GoalClassifier(2, TOY)
    clf.train_frozen(pos, neg, steps=200)
    assert clf.prob(exploit)[0] > 0.5  # the frozen classifier extrapolates: the policy would go here
    assert clf.prob(pos).min() >= 0.5
    rng = np.random.default_rng(1)
    for _ in range(20):  # 20 RL epochs of a policy that found the exploit
        metrics = clf.update(exploit + rng.normal(0, 0.1, (8, 2)).astype(np.float32))
    assert clf.prob(exploit)[0] < 0.5
    assert clf.prob(pos).min() >= 0.5
    assert clf.prob(disc(np.random.default_rng(2), 100, SUCCESS_CENTER, 0.25)).min() >= 0.5  # unseen successes
    assert metrics["stats/n_neg"] == 128 + 20 * 8 and clf.n_updates == 200 + 20 * TOY.steps_per_update


def test_balanced_batches_keep_successes_the_policy_visits_above_half():
    """The lecture's "what if visited states *are* successful?": with D₋ ∪= the successes themselves,
    balanced batches still leave p ≥ ½ on them: the optimum there is ½ / (½ + ½·q) = 1 / (1 + q) for
    the fraction q ≤ 1 of D₋ that lies there."""
    pos, neg = toy_data()
    clf = GoalClassifier(2, GoalClassifierConfig(hidden=(64, 64), lr=1e-3, batch_size=128, mixup_alpha=0.0))
    clf.train_frozen(pos, neg, steps=100)
    for _ in range(2):
        clf.update(pos)  # the policy now reaches the goal: its visits are successes, added as negatives
    for _ in range(5):
        clf.update(None)
    assert clf.sampler.negatives.size == 128 + 2 * 64  # half of D₋ now lies in G: the optimum p there is 2/3
    p = clf.prob(pos)
    assert (p >= 0.5).mean() >= 0.95 and 0.55 < p.mean() < 0.8  # pulled towards ½, not below it


# ---------------------------------------------------------------------- the classifier object
def test_reward_is_the_logit_of_next_obs_and_follows_the_protocol():
    pos, neg = toy_data()
    clf = GoalClassifier(2, TOY)
    clf.train_frozen(pos, neg, steps=5)
    obs, next_obs, actions = torch.tensor(neg[:6]), torch.tensor(pos[:6]), torch.zeros(6, 3)
    assert isinstance(clf, RewardModel)
    r = clf.reward(obs, actions, next_obs)
    assert r.shape == (6,) and not r.requires_grad
    torch.testing.assert_close(r, clf.logits(next_obs).detach())
    np.testing.assert_allclose(relabel_rewards(clf, neg[:6], np.zeros((6, 3)), pos[:6]), r.numpy(), rtol=1e-6)
    clf.config.score_next_obs = False
    torch.testing.assert_close(clf.reward(obs, actions, next_obs), clf.logits(obs).detach())
    np.testing.assert_allclose(clf.prob(pos[:6]), torch.sigmoid(clf.logits(pos[:6])).detach().numpy(), rtol=1e-6)


def test_update_metrics_parameters_move_and_determinism():
    pos, neg = toy_data()
    runs = []
    for _ in range(2):
        clf = GoalClassifier(2, GoalClassifierConfig(hidden=(32, 32), batch_size=32, grad_penalty=0.1,
                                                     label_smoothing=0.1, weight_decay=1e-4, seed=3))
        before = [p.detach().clone() for p in clf.net.parameters()]
        clf.add_positives(pos)
        runs.append(clf.update(neg))
        assert all(not torch.equal(a, b) for a, b in zip(before, clf.net.parameters(), strict=True))
    assert runs[0] == runs[1]
    assert set(runs[0]) == {"loss/classifier", "loss/grad_penalty", "stats/grad_norm", "stats/p_pos", "stats/p_neg",
                            "stats/logit_pos", "stats/logit_neg", "stats/accuracy", "stats/n_pos", "stats/n_neg"}
    assert all(np.isfinite(v) for v in runs[0].values())


def test_vice_logit_subtracts_the_policy_log_prob():
    """With log π ≡ c, VICE's logit f − c sees the same losses and gradients as a plain classifier whose
    output is f − c: trained from the same start on the same batches, f stays the plain logit + c."""
    pos, neg = toy_data()
    c = 3.0
    plain = GoalClassifier(2, TOY)
    vice = GoalClassifier(2, GoalClassifierConfig(**{**vars(TOY), "use_vice_pi": True}))
    with torch.no_grad():
        vice.net[-1].bias += c
    for clf in (plain, vice):
        clf.add_positives(pos)
    plain.update(neg)
    vice.update(neg, log_pi_fn=lambda s: torch.full((len(s),), c))
    x = torch.tensor(np.concatenate([pos, neg]))
    torch.testing.assert_close(vice.logits(x), plain.logits(x) + c, atol=1e-5, rtol=1e-5)
    with pytest.raises(OrlkitError, match="log_pi_fn"):
        vice.update(neg)
    with pytest.raises(OrlkitError, match="shape"):
        vice.update(neg, log_pi_fn=lambda s: torch.zeros(len(s), 2))


def test_active_query_labels_the_highest_reward_candidate():
    pos, neg = toy_data()
    clf = GoalClassifier(2, TOY)
    clf.train_frozen(pos, neg, steps=50)
    candidates = np.concatenate([neg[:20], np.array([[2.5, 0.0]], np.float32), pos[:5]])
    asked = []

    def teacher(state):
        asked.append(state)
        return np.linalg.norm(state - SUCCESS_CENTER) <= SUCCESS_RADIUS

    logits = clf.logits(candidates).detach()
    q = clf.active_query(candidates, teacher)
    assert q.index == int(logits.argmax()) and q.logit == pytest.approx(float(logits.max()))
    assert len(asked) == 1 and asked[0].shape == (2,)
    truth = bool(np.linalg.norm(candidates[q.index] - SUCCESS_CENTER) <= SUCCESS_RADIUS)
    assert q.label == truth  # the teacher's answer, filed with the right class
    n_pos, n_neg = clf.sampler.positives.size, clf.sampler.negatives.size
    assert (n_pos, n_neg) == ((65, 128) if truth else (64, 129))
    assert clf.n_queries == 1
    q2 = clf.active_query(pos[:3], lambda s: True)
    assert q2.label and clf.sampler.positives.size == n_pos + 1
    np.testing.assert_array_equal(clf.sampler.positives.data[-1], q2.state)


def test_save_load_gives_identical_rewards_and_resumes_identically(tmp_path):
    pos, neg = toy_data()
    clf = GoalClassifier(2, GoalClassifierConfig(hidden=(32, 32), lr=1e-3, batch_size=32, seed=4))
    clf.train_frozen(pos, neg, steps=10)
    clf.active_query(neg, lambda s: False)
    clf.save(tmp_path / "clf")
    assert (tmp_path / "clf.safetensors").exists() and (tmp_path / "clf.json").exists()
    loaded = GoalClassifier.load(tmp_path / "clf")
    x = torch.tensor(np.concatenate([pos, neg]))
    torch.testing.assert_close(loaded.reward(x, x, x), clf.reward(x, x, x), rtol=0, atol=0)
    assert loaded.config == clf.config and (loaded.n_updates, loaded.n_queries) == (10, 1)
    np.testing.assert_array_equal(loaded.sampler.negatives.data, clf.sampler.negatives.data)
    assert loaded.update(neg[:4]) == clf.update(neg[:4])  # Adam moments and the sampling RNG came back


def test_load_rejects_missing_and_foreign_checkpoints(tmp_path):
    with pytest.raises(OrlkitError, match="not found"):
        GoalClassifier.load(tmp_path / "nothing")
    from orlkit.rewards.adversarial import AdversarialConfig, GAILDiscriminator

    GAILDiscriminator(2, 1, AdversarialConfig(hidden=(8,))).save(tmp_path / "gail")
    with pytest.raises(OrlkitError, match="not a 'goal_classifier'"):
        GoalClassifier.load(tmp_path / "gail")
