"""GAIL and AIRL discriminators: the loss against NumPy, the reward formulas, AIRL's f and its use of
log π, learning on a toy, determinism and save/load."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from orlkit.data.dataset import Batch
from orlkit.errors import OrlkitError
from orlkit.rewards.adversarial import (
    AdversarialConfig,
    AIRLDiscriminator,
    GAILDiscriminator,
    disc_loss,
    load_discriminator,
    make_discriminator,
)
from orlkit.rewards.base import RewardModel

pytestmark = pytest.mark.usefixtures("one_torch_thread")

OBS_DIM, ACT_DIM = 2, 2
UNIFORM_LOGP = -ACT_DIM * math.log(2.0)  # log π(a|s) of the uniform policy on [-1, 1]²
W = torch.tensor([[1.5, -0.5], [0.3, 1.2]])


def transitions(kind: str, n: int, gen: torch.Generator, terminal_every: int = 0) -> Batch:
    """Toy data: the expert acts a = tanh(sW) from states around (+1.5, 0); the policy acts uniformly
    from states around (−1.5, 0) (states alone separate them 93 % of the time). s′ = s + 0.1·a."""
    shift = torch.tensor([1.5, 0.0]) if kind == "expert" else torch.tensor([-1.5, 0.0])
    s = torch.randn(n, OBS_DIM, generator=gen) + shift
    a = torch.tanh(s @ W) if kind == "expert" else torch.rand(n, ACT_DIM, generator=gen) * 2 - 1
    terminals = torch.zeros(n, dtype=torch.bool)
    if terminal_every:
        terminals[::terminal_every] = True
    return Batch(obs=s, actions=a, rewards=torch.zeros(n), next_obs=s + 0.1 * a, terminals=terminals,
                 timeouts=torch.zeros(n, dtype=torch.bool))


def uniform_logp(obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    return torch.full((len(obs),), UNIFORM_LOGP)


def small(kind: str, **kw) -> AdversarialConfig:
    return AdversarialConfig(kind=kind, hidden=(64, 64), lr=1e-3, **kw)


# ---------------------------------------------------------------------- the loss and the rewards
def test_disc_loss_is_balanced_bce_on_logits_against_numpy():
    le, lp = np.array([2.0, -0.3, 0.5, 4.0]), np.array([-1.0, 0.2, -3.0, 0.0])
    loss, metrics = disc_loss(torch.tensor(le), torch.tensor(lp))
    sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    reference = 0.5 * (-np.log(sig(le)).mean() - np.log(1 - sig(lp)).mean())
    assert float(loss) == pytest.approx(reference, rel=1e-10)
    bce = F.binary_cross_entropy_with_logits(torch.tensor(np.concatenate([le, lp])),
                                             torch.tensor([1.0] * 4 + [0.0] * 4, dtype=torch.float64))
    assert float(loss) == pytest.approx(float(bce), rel=1e-10)
    assert float(metrics["stats/accuracy"]) == pytest.approx(0.5 * (3 / 4 + 3 / 4))
    assert float(metrics["stats/d_expert"]) == pytest.approx(sig(le).mean())
    big = disc_loss(torch.tensor([200.0]), torch.tensor([-200.0]))[0]
    assert torch.isfinite(big) and float(big) < 1e-30  # logits, not clipped probabilities


def test_gail_reward_is_minus_log_one_minus_d():
    disc = GAILDiscriminator(OBS_DIM, ACT_DIM, AdversarialConfig(hidden=(16,)))
    b = transitions("policy", 32, torch.Generator().manual_seed(0))
    assert isinstance(disc, RewardModel)
    r = disc.reward(b.obs, b.actions, b.next_obs)
    d = torch.sigmoid(disc.score(b.obs, b.actions, b.next_obs)).detach()
    torch.testing.assert_close(r, -torch.log1p(-d), rtol=1e-5, atol=1e-6)
    assert r.shape == (32,) and (r > 0).all() and not r.requires_grad


def test_airl_f_is_g_plus_discounted_shaping_and_the_logit_subtracts_log_pi():
    cfg = AdversarialConfig(kind="airl", hidden=(16,), gamma=0.9)
    disc = AIRLDiscriminator(OBS_DIM, ACT_DIM, cfg)
    b = transitions("expert", 16, torch.Generator().manual_seed(0), terminal_every=4)
    g, h = disc.modules["g"], disc.modules["h"]
    with torch.no_grad():
        not_done = 1.0 - b.terminals.float()
        f = g(b.obs).squeeze(-1) + 0.9 * not_done * h(b.next_obs).squeeze(-1) - h(b.obs).squeeze(-1)
    torch.testing.assert_close(disc.reward(b.obs, b.actions, b.next_obs, terminals=b.terminals), f)
    log_pi = torch.linspace(-2, 1, 16)
    torch.testing.assert_close(disc.reward(b.obs, b.actions, b.next_obs, b.terminals, log_pi=log_pi), f - log_pi)
    torch.testing.assert_close(disc.disentangled_reward(b.obs), g(b.obs).squeeze(-1).detach())
    # the loss update() minimises is disc_loss on f − log π(a|s), with log π from policy_logp_fn
    p = transitions("policy", 16, torch.Generator().manual_seed(1))
    logp = lambda o, a: -(o ** 2).sum(-1)  # noqa: E731  (any function of (s, a))
    with torch.no_grad():
        expected = disc_loss(disc.score(b.obs, b.actions, b.next_obs, b.terminals.float()) - logp(b.obs, b.actions),
                             disc.score(p.obs, p.actions, p.next_obs, p.terminals.float()) - logp(p.obs, p.actions))[0]
    assert disc.update(b, p, logp)["loss/disc"] == pytest.approx(float(expected), rel=1e-6)


def test_airl_with_actions_in_g():
    disc = AIRLDiscriminator(OBS_DIM, ACT_DIM, AdversarialConfig(kind="airl", hidden=(8,), state_only=False))
    b = transitions("expert", 4, torch.Generator().manual_seed(0))
    g_in = disc.modules["g"][0].in_features
    assert g_in == OBS_DIM + ACT_DIM
    assert disc.disentangled_reward(b.obs, b.actions).shape == (4,)
    with pytest.raises(OrlkitError, match="needs actions"):
        disc.disentangled_reward(b.obs)


# ---------------------------------------------------------------------- learning
@pytest.mark.parametrize("kind,state_only", [("gail", True), ("airl", True), ("airl", False)])
def test_discriminators_separate_expert_from_policy_on_a_toy(kind, state_only):
    gen = torch.Generator().manual_seed(0)
    disc = make_discriminator(OBS_DIM, ACT_DIM, small(kind, state_only=state_only, grad_penalty=0.01))
    for _ in range(200):
        metrics = disc.update(transitions("expert", 128, gen), transitions("policy", 128, gen), uniform_logp)
    assert metrics["stats/accuracy"] > 0.8 and metrics["stats/d_expert"] > metrics["stats/d_policy"]
    e, p = transitions("expert", 1000, gen), transitions("policy", 1000, gen)
    logits_e = disc.score(e.obs, e.actions, e.next_obs).detach() - (UNIFORM_LOGP if kind == "airl" else 0.0)
    logits_p = disc.score(p.obs, p.actions, p.next_obs).detach() - (UNIFORM_LOGP if kind == "airl" else 0.0)
    accuracy = 0.5 * ((logits_e > 0).float().mean() + (logits_p <= 0).float().mean())
    assert accuracy > 0.8  # on fresh samples
    assert disc.reward(e.obs, e.actions, e.next_obs).mean() > disc.reward(p.obs, p.actions, p.next_obs).mean() + 0.5


def test_update_metrics_parameters_move_and_determinism():
    runs = []
    for _ in range(2):
        gen = torch.Generator().manual_seed(0)
        disc = AIRLDiscriminator(OBS_DIM, ACT_DIM, AdversarialConfig(kind="airl", hidden=(16,), grad_penalty=1.0,
                                                                     seed=2))
        before = {k: [p.detach().clone() for p in m.parameters()] for k, m in disc.modules.items()}
        runs.append(disc.update(transitions("expert", 32, gen), transitions("policy", 24, gen), uniform_logp))
        for name, module in disc.modules.items():
            assert all(not torch.equal(a, b) for a, b in zip(before[name], module.parameters(), strict=True)), name
    assert runs[0] == runs[1]
    assert set(runs[0]) == {"loss/disc", "stats/d_expert", "stats/d_policy", "stats/accuracy", "stats/logit_expert",
                            "stats/logit_policy", "loss/grad_penalty", "stats/grad_norm"}
    assert all(np.isfinite(v) for v in runs[0].values())


def test_bad_input_is_named():
    gen = torch.Generator().manual_seed(0)
    e, p = transitions("expert", 8, gen), transitions("policy", 8, gen)
    airl = AIRLDiscriminator(OBS_DIM, ACT_DIM, AdversarialConfig(kind="airl", hidden=(8,)))
    with pytest.raises(OrlkitError, match="policy_logp_fn"):
        airl.update(e, p)
    with pytest.raises(OrlkitError, match="shape"):
        airl.update(e, p, lambda o, a: torch.zeros(len(o), 3))
    with pytest.raises(OrlkitError, match="kind='gail'"):
        GAILDiscriminator(OBS_DIM, ACT_DIM, AdversarialConfig(kind="airl"))
    with pytest.raises(OrlkitError, match="must be one of"):
        make_discriminator(OBS_DIM, ACT_DIM, AdversarialConfig(kind="wgan"))
    gail = GAILDiscriminator(OBS_DIM, ACT_DIM, AdversarialConfig(hidden=(8,)))
    with pytest.raises(OrlkitError, match="'actions' must have shape"):
        gail.update({"obs": e.obs, "actions": e.actions[:, :1], "next_obs": e.next_obs}, p)
    with pytest.raises(OrlkitError, match="'next_obs' is missing"):
        gail.update({"obs": e.obs, "actions": e.actions}, p)
    assert np.isfinite(gail.update(e, p)["loss/disc"])  # GAIL needs no log π


# ---------------------------------------------------------------------- save / load
@pytest.mark.parametrize("kind", ["gail", "airl"])
def test_save_load_gives_identical_rewards_and_resumes_identically(tmp_path, kind):
    gen = torch.Generator().manual_seed(0)
    disc = make_discriminator(OBS_DIM, ACT_DIM, AdversarialConfig(kind=kind, hidden=(16, 16), grad_penalty=0.5))
    for _ in range(3):
        disc.update(transitions("expert", 16, gen), transitions("policy", 16, gen), uniform_logp)
    disc.save(tmp_path / "disc")
    loaded = load_discriminator(tmp_path / "disc")
    assert type(loaded) is type(disc) and loaded.config == disc.config and loaded.n_updates == 3
    b = transitions("policy", 64, gen)
    torch.testing.assert_close(loaded.reward(b.obs, b.actions, b.next_obs), disc.reward(b.obs, b.actions, b.next_obs),
                               rtol=0, atol=0)
    e, p = transitions("expert", 16, gen), transitions("policy", 16, gen)
    assert loaded.update(e, p, uniform_logp) == disc.update(e, p, uniform_logp)  # Adam state and generator restored
    other = GAILDiscriminator if kind == "airl" else AIRLDiscriminator
    with pytest.raises(OrlkitError, match="not a"):
        other.load(tmp_path / "disc")


def test_relabelling_passes_terminals_to_airl_and_keeps_three_argument_models_working():
    # AIRL's shaping γ·h(s′) must vanish after a terminal when a buffer or dataset is relabelled too
    from orlkit.rewards.base import relabel_rewards

    disc = AIRLDiscriminator(OBS_DIM, ACT_DIM, AdversarialConfig(kind="airl", hidden=(16,), gamma=0.9))
    b = transitions("expert", 16, torch.Generator().manual_seed(0), terminal_every=4)
    arrays = [x.numpy() for x in (b.obs, b.actions, b.next_obs)]
    relabelled = relabel_rewards(disc, *arrays, terminals=b.terminals.numpy())
    expected = disc.reward(b.obs, b.actions, b.next_obs, terminals=b.terminals)
    np.testing.assert_allclose(relabelled, expected.numpy(), rtol=1e-6)
    assert b.terminals.any() and not np.allclose(relabelled, relabel_rewards(disc, *arrays))

    class ThreeArgs:
        def reward(self, obs, actions, next_obs):
            return obs.sum(-1)

    np.testing.assert_allclose(relabel_rewards(ThreeArgs(), *arrays, terminals=b.terminals.numpy()),
                               b.obs.sum(-1).numpy(), rtol=1e-6)


def test_reward_learning_loops_refuse_a_buffer_that_would_overwrite_rows():
    from orlkit.envs import pusher
    from orlkit.rewards.example_rl import train_adversarial, train_with_classifier
    from orlkit.train.online import OnlineConfig

    demos = pusher.make_demos(2, seed=0)  # 200 rows
    run = OnlineConfig("orlkit/Pusher-v0", steps=100, buffer_size=250)
    with pytest.raises(OrlkitError, match=r"buffer_size 250 < steps \+ initial rows \(300\).*every transition kept"):
        train_adversarial(run, demos, demos_in_buffer=True, progress=False)
    finals = demos.obs[demos.episode_bounds[1]]
    with pytest.raises(OrlkitError, match=r"buffer_size 250 < steps \+ initial rows \(300\)"):
        train_with_classifier(run, finals, pusher.failure_examples(10, seed=0), demos=demos, progress=False)
