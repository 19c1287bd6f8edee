"""bf16 mode: hidden layers in bfloat16, output layers and parameters in float32; flags checked early."""

import pytest
import torch

from orlkit import cli
from orlkit.errors import OrlkitError
from orlkit.nets.ensemble import Critic
from orlkit.nets.mlp import mlp
from orlkit.nets.precision import PRECISIONS, autocast, check_precision
from orlkit.train.fit import RunConfig
from orlkit.train.online import OnlineConfig


def test_hidden_layers_bf16_output_layer_float32():
    net = mlp(5, 3, (16, 16))
    seen = {}
    net[0].register_forward_hook(lambda m, i, o: seen.update(hidden=o.dtype))
    x = torch.randn(4, 5)
    with autocast("bf16"):
        out = net(x)
    assert seen["hidden"] == torch.bfloat16 and out.dtype == torch.float32
    out.sum().backward()
    assert all(p.grad.dtype == torch.float32 for p in net.parameters())
    with autocast("fp32"):
        assert net(x).dtype == torch.float32
    torch.testing.assert_close(net(x), out, rtol=0.05, atol=0.05)  # bf16 ≈ fp32 for a small net


def test_ensemble_critic_output_is_float32_under_bf16():
    critic = Critic(3, 2, (16, 16))
    with autocast("bf16"):
        q = critic(torch.randn(8, 3), torch.rand(8, 2))
        q_many = critic(torch.randn(8, 3), torch.rand(8, 5, 2))
    assert q.shape == (2, 8) and q.dtype == torch.float32
    assert q_many.shape == (2, 8, 5) and q_many.dtype == torch.float32


def test_unknown_precision_is_refused_early():
    with pytest.raises(OrlkitError, match="unknown precision 'fp16'"):
        check_precision("fp16")
    with pytest.raises(OrlkitError, match="unknown precision"):
        RunConfig(algo="bc", dataset="pendulum-medium", precision="half")
    with pytest.raises(OrlkitError, match="unknown precision"):
        OnlineConfig("Pendulum-v1", precision="int8")
    assert cli.PRECISIONS == PRECISIONS  # the CLI's copy (it avoids importing torch for --help)


def test_weights_changed_by_an_optimizer_step_are_seen_in_the_same_bf16_region():
    """An update calls the critic again after the critic's step (actor loss): autocast must not reuse the
    bf16 copy of the old weights."""
    net = mlp(4, 1, (8,))
    x = torch.randn(3, 4)
    with autocast("bf16"):
        before = net(x)
        with torch.no_grad():
            net[0].weight.add_(1.0)
        after = net(x)
    assert not torch.allclose(before, after)


def test_backward_of_float32_last_layer_stays_float32():
    """Algorithm._step runs the backward pass outside autocast: the last layer's weight gradient is the float32
    product of its (bf16-computed) input and the output's gradient, not recomputed in bf16 (about 1e-3 off)."""
    from types import SimpleNamespace

    from orlkit.algos.base import Algorithm

    torch.manual_seed(0)
    net = mlp(6, 1, (64,))
    seen = {}
    net[1].register_forward_hook(lambda m, i, o: seen.update(h=o.detach()))
    x = torch.randn(512, 6)
    fake = SimpleNamespace(optimizers={"net": torch.optim.SGD(net.parameters(), lr=0.0)}, device=torch.device("cpu"))
    with autocast("bf16"):
        out = net(x)
        Algorithm._step(fake, "net", out.pow(2).mean())
    assert seen["h"].dtype == torch.bfloat16
    g = 2 * out.detach() / len(x)  # d loss / d out, (512, 1)
    expected = g.T @ seen["h"].float()  # (1, 64), float32
    torch.testing.assert_close(net[2].weight.grad, expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("helper", ["orlkit", "torch.func"])
def test_several_seeds_gradient_of_float32_last_layer_stays_float32(helper):
    """The several-seeds path (vmap of grad_and_value inside bf16 autocast) gets the same float32 last-layer weight
    gradient as Algorithm._step: orlkit's grad_and_value takes it outside autocast; torch.func's, inside, does not."""
    import torch.func

    from orlkit.nets import precision

    torch.manual_seed(0)
    net = mlp(6, 1, (64,))
    params = {k: v.detach().unsqueeze(0) for k, v in net.named_parameters()}  # one seed: (1, ...)
    x = torch.randn(512, 6)

    def loss(p, x):  # returns the hidden activations as they were computed under vmap (a batched kernel)
        out = torch.func.functional_call(net, p, (x,))
        h = torch.func.functional_call(net[:2], {k: v for k, v in p.items() if k.startswith("0.")}, (x,))
        return out.pow(2).mean(), (h, out)

    gv = precision.grad_and_value if helper == "orlkit" else torch.func.grad_and_value
    with autocast("bf16"):
        grads, (_, (h, out)) = torch.func.vmap(gv(loss, has_aux=True))(params, x.unsqueeze(0))
    assert h.dtype == torch.bfloat16 and out.dtype == torch.float32
    expected = (2 * out[0] / len(x)).T @ h[0].float()  # (1, 64), float32
    if helper == "orlkit":
        torch.testing.assert_close(grads["2.weight"][0], expected, rtol=1e-5, atol=1e-7)
    else:  # what the several-seeds path did before: the backward matmul recomputed in bf16
        assert not torch.allclose(grads["2.weight"][0], expected, rtol=1e-3, atol=1e-7)


def test_bf16_on_a_cpu_without_bf16_matmuls_is_refused_before_any_work(monkeypatch, tmp_path, capsys):
    """Emulated bf16 matmuls are ~20x slower than fp32; a user asking for bf16 wants speed, so say so and stop."""
    from orlkit.algos import DataSpec, make_algorithm
    from orlkit.nets import precision
    from orlkit.train.fit import train
    from orlkit.train.online import train_online
    from orlkit.train.seeds import train_seeds

    monkeypatch.setattr(precision, "cpu_has_bf16_matmul", lambda: False)
    monkeypatch.delenv("ORLKIT_ALLOW_SLOW_BF16")
    message = "precision bf16: this CPU has no bf16 matrix instructions"
    with pytest.raises(OrlkitError, match=message):
        check_precision("bf16", "cpu")
    assert check_precision("fp32", "cpu") == "fp32" and check_precision("bf16") == "bf16"  # no device: name only
    assert check_precision("bf16", "cuda") == "bf16"  # GPUs have their own bf16 units
    run = RunConfig(algo="bc", dataset="no-such-dataset.npz", precision="bf16")  # a config alone is fine (load_run)
    out = tmp_path / "run"
    with pytest.raises(OrlkitError, match=message):
        train(run, out)
    assert not out.exists()  # refused before the dataset was read or anything written
    with pytest.raises(OrlkitError, match=message):
        train_seeds("bc", None, seeds=[0, 1], steps=1, precision="bf16")
    sac = make_algorithm("sac", DataSpec(obs_dim=3, n_actions=None, action_dim=1))
    with pytest.raises(OrlkitError, match=message):
        train_online(sac, OnlineConfig("Pendulum-v1", steps=1, precision="bf16"))
    rc = cli.main(["train", "bc", "--dataset", "no-such-dataset.npz", "--out", str(out), "--precision", "bf16"])
    assert rc == 2 and message in capsys.readouterr().err and not out.exists()
    for allowed in ("1", "yes"):
        monkeypatch.setenv("ORLKIT_ALLOW_SLOW_BF16", allowed)
        assert check_precision("bf16", "cpu") == "bf16"
    monkeypatch.setenv("ORLKIT_ALLOW_SLOW_BF16", "0")
    with pytest.raises(OrlkitError, match=message):
        check_precision("bf16", "cpu")


def test_cpu_bf16_detection_answers_a_bool():
    from orlkit.nets.precision import cpu_has_bf16_matmul

    assert isinstance(cpu_has_bf16_matmul(), bool)
