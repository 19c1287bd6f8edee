"""orlkit.nets.optim: the traceable Adam step is torch.optim.Adam's update rule."""

from __future__ import annotations

import pytest
import torch

from orlkit.nets.optim import adam, adam_step_


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_adam_step_matches_torch_adam(weight_decay: float) -> None:
    gen = torch.Generator().manual_seed(0)
    start = [torch.randn(5, 3, generator=gen), torch.randn(7, generator=gen)]
    params = [torch.nn.Parameter(p.clone()) for p in start]
    opt = adam(params, lr=1e-2, weight_decay=weight_decay)
    mine = [p.clone() for p in start]
    exp_avg, exp_avg_sq = [torch.zeros_like(p) for p in mine], [torch.zeros_like(p) for p in mine]
    steps, lr = [torch.zeros(()) for _ in mine], torch.tensor(1e-2)
    for t in range(30):
        if t == 20:  # a changed learning rate, as a schedule sets it
            lr.fill_(3e-3)
            opt.param_groups[0]["lr"] = 3e-3
        grads = [torch.randn(p.shape, generator=gen) for p in mine]
        for p, g in zip(params, grads, strict=True):
            p.grad = g.clone()
        opt.step()
        adam_step_(mine, grads, exp_avg, exp_avg_sq, steps, lr, (0.9, 0.999), 1e-8, weight_decay)
    assert [float(s) for s in steps] == [30.0, 30.0]
    for p, q, s in zip(params, mine, start, strict=True):
        assert not torch.equal(q, s)  # it moved
        torch.testing.assert_close(q, p.detach(), rtol=1e-5, atol=1e-5)
    for p, m, v in zip(params, exp_avg, exp_avg_sq, strict=True):
        torch.testing.assert_close(m, opt.state[p]["exp_avg"], rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(v, opt.state[p]["exp_avg_sq"], rtol=1e-5, atol=1e-9)
