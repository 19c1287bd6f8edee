"""Bradley–Terry reward model: the loss against BCE and a naive reference, rankings → pairs,
learning a linear reward from oracle pairs, bootstrap ensembles, normalisation, save/load/resume."""

import math
from itertools import combinations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from orlkit.data.preferences import PreferenceData, Segment
from orlkit.errors import OrlkitError
from orlkit.rewards.base import RewardModel
from orlkit.rewards.preference import (
    PairBatch,
    PreferenceConfig,
    PreferenceRewardModel,
    make_pair_batch,
    preference_loss,
    rankings_to_pairs,
)
from orlkit.rewards.teachers import ScriptedTeacher

pytestmark = pytest.mark.usefixtures("one_torch_thread")

OBS_DIM, ACT_DIM, T = 3, 1, 5
W_TRUE = np.array([1.0, -2.0, 0.5])  # r(s, a) = w·s


def small_config(**kw) -> PreferenceConfig:
    return PreferenceConfig(**{"hidden": (32, 32), "lr": 3e-3, "batch_size": 64, **kw})


def linear_problem(seed: int = 0, n_segments: int = 200, n_queries: int = 900):
    """Segments with r = w·s, 300 oracle-labelled training pairs and the remaining held-out pairs."""
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(n_segments, T, OBS_DIM)).astype(np.float32)
    act = rng.normal(size=(n_segments, T, ACT_DIM)).astype(np.float32)
    rew = (obs @ W_TRUE).astype(np.float32)  # (S, T)
    data = PreferenceData([Segment(obs[k], act[k], rew[k]) for k in range(n_segments)])
    queries = rng.integers(n_segments, size=(n_queries, 2))
    queries = queries[queries[:, 0] != queries[:, 1]]
    assert ScriptedTeacher.from_preset("oracle").label_into(data, queries[:300]) == 300
    return data, queries[300:]


def random_batch(n=16, seed=0) -> PairBatch:
    g = torch.Generator().manual_seed(seed)
    return PairBatch(torch.randn(n, T, OBS_DIM, generator=g), torch.randn(n, T, ACT_DIM, generator=g),
                     torch.randn(n, T, OBS_DIM, generator=g), torch.randn(n, T, ACT_DIM, generator=g),
                     torch.randint(3, (n,), generator=g).float() / 2)


# ---------------------------------------------------------------------------------- loss
def test_loss_without_random_responses_is_bce_with_logits_on_the_return_difference():
    g = torch.Generator().manual_seed(0)
    ra, rb = torch.randn(3, 50, generator=g) * 3, torch.randn(3, 50, generator=g) * 3
    labels = torch.tensor([0.0, 0.5, 1.0] * 16 + [0.5, 1.0])
    loss, metrics = preference_loss(ra, rb, labels, random_response=0.0)
    ref = sum(F.binary_cross_entropy_with_logits(ra[e] - rb[e], labels) for e in range(3))
    torch.testing.assert_close(loss, ref)
    assert set(metrics) == {"loss/pref", "stats/pref_accuracy"}


def test_loss_with_random_responses_matches_the_naive_mixture():
    g = torch.Generator().manual_seed(1)
    d = torch.randn(2, 40, generator=g, dtype=torch.float64) * 4  # moderate d: the naive form is accurate
    labels = torch.tensor([0.0, 0.5, 1.0, 1.0] * 10, dtype=torch.float64)
    loss, _ = preference_loss(d, torch.zeros_like(d), labels, random_response=0.1)
    p_a = 0.9 * torch.sigmoid(d) + 0.05
    naive = -(labels * torch.log(p_a) + (1 - labels) * torch.log(1 - p_a)).mean(1).sum()
    torch.testing.assert_close(loss, naive)


def test_loss_with_random_responses_is_finite_and_bounded_for_huge_logits():
    d = torch.tensor([[-1e4, 1e4, 50.0, -50.0]], requires_grad=True)
    loss, _ = preference_loss(d, torch.zeros_like(d), torch.tensor([1.0, 0.0, 0.0, 1.0]), random_response=0.1)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(d.grad).all()
    torch.testing.assert_close(loss, torch.tensor(-math.log(0.05)), rtol=1e-5, atol=1e-5)  # every pair wrong


def test_loss_accepts_per_member_labels_and_accuracy_ignores_ties():
    ra = torch.tensor([[2.0, 2.0, 2.0], [2.0, -2.0, 2.0]])
    rb = torch.zeros_like(ra)
    labels = torch.tensor([[1.0, 0.5, 0.0], [1.0, 0.5, 1.0]])  # member 0 gets one wrong pair, member 1 none
    _, m = preference_loss(ra, rb, labels)
    assert m["stats/pref_accuracy"].item() == pytest.approx(3 / 4)
    _, m = preference_loss(ra[:1], rb[:1], torch.tensor([0.5, 0.5, 0.5]))
    assert math.isnan(m["stats/pref_accuracy"].item())


# ---------------------------------------------------------------------------------- rankings
@pytest.mark.parametrize("k", range(2, 7))
def test_a_k_ranking_gives_all_pairs_in_order(k):
    ranking = list(np.random.default_rng(k).permutation(100)[:k].tolist())
    pairs = rankings_to_pairs(ranking)
    assert len(pairs) == math.comb(k, 2)
    assert {(a, b) for a, b, _ in pairs} == set(combinations(ranking, 2))  # a always ranked above b
    assert all(label == 1.0 for *_, label in pairs)


def test_ties_give_half_labels():
    pairs = rankings_to_pairs([7, [1, 2, 3], (4, 5), 0])
    assert len(pairs) == math.comb(7, 2)
    labels = {(a, b): y for a, b, y in pairs}
    assert labels[(1, 2)] == labels[(1, 3)] == labels[(2, 3)] == labels[(4, 5)] == 0.5
    assert labels[(7, 1)] == labels[(3, 4)] == labels[(5, 0)] == 1.0
    assert sum(y == 0.5 for y in labels.values()) == 4


@pytest.mark.parametrize("ranking, message", [([1, 2, 1], "segment 1 appears more than once"),
                                              ([1, [], 2], "empty tie group"),
                                              ([1, "a"], "not a segment id")])
def test_bad_rankings_are_named(ranking, message):
    with pytest.raises(OrlkitError, match=message):
        rankings_to_pairs(ranking)


# ---------------------------------------------------------------------------------- model
def test_it_learns_a_linear_reward_from_300_oracle_pairs():
    data, held_out = linear_problem()
    model = PreferenceRewardModel(OBS_DIM, ACT_DIM, small_config())
    history = model.fit(data, steps=300)
    assert history[-1]["stats/pref_accuracy"] > 0.9
    obs, act = data.segment_arrays()
    with torch.no_grad():
        pred = model.segment_returns(obs, act).mean(0).numpy()  # (S,)
    true = data.segment_rewards().sum(1)
    i, j = held_out[:, 0], held_out[:, 1]
    accuracy = np.mean((pred[i] > pred[j]) == (true[i] > true[j]))
    assert accuracy > 0.9, accuracy


def test_reward_model_protocol_shapes_and_normalisation():
    data, _ = linear_problem(n_queries=400)
    model = PreferenceRewardModel(OBS_DIM, ACT_DIM, small_config())
    assert isinstance(model, RewardModel)
    model.fit(data, steps=5)  # fit renormalises on the training segments' states
    obs, act = data.segment_arrays()
    flat_obs, flat_act = obs.reshape(-1, OBS_DIM), act.reshape(-1, ACT_DIM)  # (S·T, ·)
    with torch.no_grad():
        r = model.member_rewards(flat_obs, flat_act)  # (E, S·T)
        assert r.shape == (3, len(flat_obs))
        torch.testing.assert_close(r.mean(1), torch.zeros(3), atol=1e-5, rtol=0)
        torch.testing.assert_close(r.std(1), torch.ones(3))
        torch.testing.assert_close(model.reward(flat_obs, flat_act, flat_obs), r.mean(0))
        assert model.segment_returns(obs[:4], act[:4]).shape == (3, 4)
        torch.testing.assert_close(model.segment_returns(obs[:4], act[:4]),
                                   r.reshape(3, -1, T)[:, :4].sum(-1))  # (E, S, T) → sums


def test_bootstrap_members_see_different_pairs_and_differ(monkeypatch):
    data, _ = linear_problem(n_queries=400)
    model = PreferenceRewardModel(OBS_DIM, ACT_DIM, small_config())
    boot = model.bootstrap_indices(300)
    assert boot.shape == (3, 300) and not torch.equal(boot[0], boot[1])
    assert len(boot[0].unique()) < 300  # with replacement: some pairs drawn twice, others not at all
    seen, update = [], model.update

    def spy(batch, indices=None):
        seen.append(indices.clone())
        return update(batch, indices)

    monkeypatch.setattr(model, "update", spy)
    model.fit(data, steps=30)
    used = torch.stack(seen)  # (steps, E, b): the pairs each member trained on in fit
    assert used.shape[:2] == (30, 3)
    pairs = [set(used[:, e].flatten().tolist()) for e in range(3)]
    assert pairs[0] != pairs[1] and pairs[1] != pairs[2]
    obs = torch.randn(64, OBS_DIM, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        r = model.member_rewards(obs, torch.zeros(64, ACT_DIM))
    assert (r[0] - r[1]).abs().max() > 1e-3 and (r[1] - r[2]).abs().max() > 1e-3


def test_same_seed_same_metrics():
    batch = random_batch()
    runs = []
    for _ in range(2):
        model = PreferenceRewardModel(OBS_DIM, ACT_DIM, small_config(seed=3))
        runs.append([model.update(batch) for _ in range(3)])
    assert runs[0] == runs[1]


def test_every_parameter_but_the_output_bias_moves():
    model = PreferenceRewardModel(OBS_DIM, ACT_DIM, small_config())
    before = {k: p.detach().clone() for k, p in model.net.named_parameters()}
    metrics = model.update(random_batch())
    assert set(metrics) == set(PreferenceRewardModel.metric_keys) and all(map(math.isfinite, metrics.values()))
    output_bias = list(before)[-1]  # R_a − R_b cancels a constant reward shift: it gets no gradient
    for name, p in model.net.named_parameters():
        assert torch.equal(before[name], p) == (name == output_bias), name


def test_use_actions_false_ignores_actions():
    model = PreferenceRewardModel(OBS_DIM, ACT_DIM, small_config(use_actions=False))
    obs = torch.randn(5, OBS_DIM)
    torch.testing.assert_close(model.reward(obs, torch.randn(5, ACT_DIM), obs), model.reward(obs, None, obs))
    batch = random_batch()
    batch.actions_a = batch.actions_b = None
    assert math.isfinite(model.update(batch)["loss/pref"])


def test_save_load_gives_identical_rewards_and_resumes_identically(tmp_path):
    data, _ = linear_problem(n_queries=400)
    batch = make_pair_batch(data)
    model = PreferenceRewardModel(OBS_DIM, ACT_DIM, small_config(seed=5))
    model.fit(data, steps=10)
    model.save(tmp_path / "pref")
    loaded = PreferenceRewardModel.load(tmp_path / "pref")
    assert loaded.config == model.config and loaded.n_updates == 10
    obs, act = torch.randn(20, OBS_DIM), torch.randn(20, ACT_DIM)
    with torch.no_grad():
        assert torch.equal(model.reward(obs, act, obs), loaded.reward(obs, act, obs))
    assert model.update(batch) == loaded.update(batch)  # optimizer and generator state came along
    with torch.no_grad():
        assert torch.equal(model.member_rewards(obs, act), loaded.member_rewards(obs, act))


def test_bad_input_is_named(tmp_path):
    model = PreferenceRewardModel(OBS_DIM, ACT_DIM, small_config())
    with pytest.raises(OrlkitError, match="obs_dim"):
        model.reward(torch.randn(4, OBS_DIM + 1), torch.randn(4, ACT_DIM), None)
    with pytest.raises(OrlkitError, match="actions"):
        model.reward(torch.randn(4, OBS_DIM), torch.randn(4, ACT_DIM + 2), None)
    batch = random_batch()
    batch.labels[2] = 1.5
    with pytest.raises(OrlkitError, match="row 2"):
        model.update(batch)
    with pytest.raises(OrlkitError, match="random_response"):
        PreferenceConfig(random_response=1.0)
    with pytest.raises(OrlkitError, match="exactly one of steps or epochs"):
        model.fit(random_batch())
    with pytest.raises(OrlkitError, match="checkpoint not found"):
        PreferenceRewardModel.load(tmp_path / "missing")
