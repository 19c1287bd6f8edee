"""The batched critic ensemble: chunked evaluation of sampled actions is exactly one pass."""

import torch

from orlkit.nets.ensemble import Critic


def _values_and_grads(critic: Critic, obs: torch.Tensor, actions: torch.Tensor):
    critic.zero_grad(set_to_none=True)
    q = critic(obs, actions)
    (q * torch.linspace(-1, 1, q.numel()).reshape(q.shape)).sum().backward()  # weights every output differently
    return q.detach(), [p.grad.clone() for p in critic.parameters()]


def test_chunked_sampled_actions_match_one_pass():
    torch.manual_seed(0)
    critic = Critic(5, 2, (16, 16), n_critics=2)
    obs, actions = torch.randn(7, 5), torch.rand(7, 4, 2) * 2 - 1  # 7 states, 4 actions each
    critic.chunk_rows = 10 ** 6
    q_one, g_one = _values_and_grads(critic, obs, actions)
    for rows in (9, 8, 4, 1):  # 2 states per chunk (uneven last chunk), 2, 1, and fewer rows than N
        critic.chunk_rows = rows
        q, g = _values_and_grads(critic, obs, actions)
        assert q.shape == (2, 7, 4)
        torch.testing.assert_close(q, q_one, rtol=1e-6, atol=1e-6)
        for a, b in zip(g, g_one, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_sampled_actions_match_per_action_evaluation():
    torch.manual_seed(1)
    critic = Critic(3, 2, (8,), n_critics=3)
    critic.chunk_rows = 6  # 2 states per chunk with N = 3
    obs, actions = torch.randn(5, 3), torch.randn(5, 3, 2)
    q = critic(obs, actions)
    for j in range(3):
        torch.testing.assert_close(q[:, :, j], critic(obs, actions[:, j]))
