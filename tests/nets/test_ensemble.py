"""The batched critic ensemble: chunked evaluation of sampled actions equals one pass (up to rounding)."""

import shutil

import pytest
import torch

from orlkit.nets.ensemble import CHUNK_FLOATS, MIN_CHUNK_ROWS, Critic
from orlkit.nets.precision import autocast


def _values_and_grads(critic: Critic, obs: torch.Tensor, actions: torch.Tensor, precision: str = "fp32"):
    critic.zero_grad(set_to_none=True)
    with autocast(precision):
        q = critic(obs, actions)
    (q * torch.linspace(-1, 1, q.numel()).reshape(q.shape)).sum().backward()  # weights every output differently
    return q.detach(), [p.grad.clone() for p in critic.parameters()]


@pytest.mark.parametrize("rows", [12, 8, 4, 1])  # chunks of 3+3+1, 2+2+2+1, 1 state each; fewer rows than N
def test_chunked_sampled_actions_match_one_pass(rows):
    torch.manual_seed(0)
    critic = Critic(5, 2, (16, 16), n_critics=2)
    obs, actions = torch.randn(7, 5), torch.rand(7, 4, 2) * 2 - 1  # 7 states, 4 actions each
    critic.chunk_rows = 10 ** 6
    q_one, g_one = _values_and_grads(critic, obs, actions)
    critic.chunk_rows = rows
    q, g = _values_and_grads(critic, obs, actions)
    assert q.shape == (2, 7, 4)
    torch.testing.assert_close(q, q_one, rtol=1e-6, atol=1e-6)
    for a, b in zip(g, g_one, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_chunked_bf16_matches_one_pass_in_float32_output():
    torch.manual_seed(2)
    critic = Critic(5, 2, (32, 32), n_critics=2)
    obs, actions = torch.randn(9, 5), torch.rand(9, 6, 2) * 2 - 1
    critic.chunk_rows = 10 ** 6
    q_one, g_one = _values_and_grads(critic, obs, actions, "bf16")
    critic.chunk_rows = 12  # 2 states per chunk, 5 chunks
    q, g = _values_and_grads(critic, obs, actions, "bf16")
    assert q.dtype == torch.float32 and q.shape == (2, 9, 6)  # the last layer runs in float32
    torch.testing.assert_close(q, q_one, rtol=1e-3, atol=1e-3)
    for a, b in zip(g, g_one, strict=True):  # bf16 sums the chunks' gradients in another order: 1 % of the scale
        torch.testing.assert_close(a, b, rtol=0, atol=0.01 * float(b.abs().max()))


def _q_of(critic: Critic, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    with autocast("bf16"):
        return critic(obs, actions)


def test_compiled_bf16_q_head_is_a_product_sum():
    """Under torch.compile the one-output float32 last layer is traced as a product-sum, not a baddbmm: only the two
    hidden layers are batched matmuls in the graph (a recording backend; nothing is compiled to C++)."""
    torch._dynamo.reset()
    graphs = []

    def record(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    critic = Critic(5, 2, (32, 32), n_critics=2)
    try:
        torch.compile(_q_of, backend=record)(critic, torch.randn(4, 5), torch.rand(4, 3, 2))
    finally:
        torch._dynamo.reset()
    calls = [str(n.target) for g in graphs for n in g.graph.nodes if n.op in ("call_function", "call_method")]
    assert sum("baddbmm" in c for c in calls) == 2  # the hidden layers; without the product-sum it would be 3
    assert any(c == "sum" or "sum" in c for c in calls)


@pytest.mark.skipif(shutil.which("c++") is None and shutil.which("g++") is None,
                    reason="torch.compile on the CPU needs a C++ compiler")
def test_compiled_bf16_q_head_matches_eager():
    """Compiled (the product-sum head) and eager (the baddbmm head): the same values and gradients up to summation
    order."""
    torch.manual_seed(3)
    torch._dynamo.reset()
    critic = Critic(5, 2, (32, 32), n_critics=2)
    obs, actions = torch.randn(9, 5), torch.rand(9, 6, 2) * 2 - 1
    try:
        for fn in (_q_of, torch.compile(_q_of)):
            critic.zero_grad(set_to_none=True)
            q = fn(critic, obs, actions)
            (q * torch.linspace(-1, 1, q.numel()).reshape(q.shape)).sum().backward()
            if fn is _q_of:
                q_eager, g_eager = q.detach(), [p.grad.clone() for p in critic.parameters()]
    finally:
        torch._dynamo.reset()
    assert q.dtype == torch.float32 and q.shape == (2, 9, 6)
    torch.testing.assert_close(q.detach(), q_eager, rtol=1e-3, atol=1e-3)
    for p, g in zip(critic.parameters(), g_eager, strict=True):
        torch.testing.assert_close(p.grad, g, rtol=0, atol=0.01 * float(g.abs().max()))


def test_sampled_actions_match_per_action_evaluation():
    torch.manual_seed(1)
    critic = Critic(3, 2, (8,), n_critics=3)
    critic.chunk_rows = 6  # 2 states per chunk with N = 3
    obs, actions = torch.randn(5, 3), torch.randn(5, 3, 2)
    q = critic(obs, actions)
    for j in range(3):
        torch.testing.assert_close(q[:, :, j], critic(obs, actions[:, j]))


def test_chunk_rows_follow_the_widest_layer_and_the_ensemble_size():
    assert Critic(11, 3, (256, 256)).chunk_rows == CHUNK_FLOATS // (2 * 256)  # 2048: CQL's 7680 rows in 4 chunks
    assert Critic(11, 3, (64, 512), n_critics=4).chunk_rows == CHUNK_FLOATS // (4 * 512)
    assert Critic(11, 3, (4096, 4096), n_critics=10).chunk_rows == MIN_CHUNK_ROWS
    assert Critic(11, 3, ()).chunk_rows == CHUNK_FLOATS // 2


def test_chunks_are_equal_whole_states():
    critic = Critic(11, 3, (256, 256))
    assert critic.chunk_states(256, 30) == 64  # 7680 rows → 4 chunks of 1920
    assert critic.chunk_states(256, 4) == 256  # 1024 rows: one pass
    assert critic.chunk_states(7, 0) == 7
    critic.chunk_rows = 8
    assert critic.chunk_states(7, 4) == 2  # 28 rows → 4 chunks: 2 + 2 + 2 + 1 states


def test_layer_norm_ensemble_equals_separate_members():
    """Each member with ``layer_norm`` is Linear → LayerNorm (its own gain and bias) → ReLU per hidden layer."""
    from orlkit.nets.ensemble import EnsembleMLP

    torch.manual_seed(0)
    net = EnsembleMLP(3, 4, 1, (8, 6), layer_norm=True)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.1)  # gains and biases away from 1 and 0
    x = torch.randn(5, 4)
    out = net(x)
    lin = [m for m in net.net if m.__class__.__name__ == "EnsembleLinear"]
    norms = [m for m in net.net if m.__class__.__name__ == "EnsembleLayerNorm"]
    assert len(lin) == 3 and len(norms) == 2
    for e in range(3):
        h = x
        for i, layer in enumerate(lin):
            h = h @ layer.weight[e] + layer.bias[e]
            if i < len(norms):
                ln = torch.nn.LayerNorm(h.shape[-1])
                with torch.no_grad():
                    ln.weight.copy_(norms[i].weight[e, 0])
                    ln.bias.copy_(norms[i].bias[e, 0])
                h = torch.relu(ln(h))
        torch.testing.assert_close(out[e], h, rtol=1e-5, atol=1e-6)
    assert not [m for m in EnsembleMLP(3, 4, 1, (8, 6)).net if m.__class__.__name__ == "EnsembleLayerNorm"]
