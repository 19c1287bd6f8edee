"""Sampler: one index gathers the same rows from every column and extra, reproducibly."""

import numpy as np
import torch

from orlkit.data.dataset import TransitionDataset


def test_sampled_rows_line_up_across_columns_and_extras():
    n = 50
    row = np.arange(n, dtype=np.float32)
    ds = TransitionDataset(np.stack([row, -row], 1), np.stack([row + 0.5, 2 * row], 1), row * 10,
                           np.stack([row + 1, 3 * row], 1), (np.arange(n) % 7 == 6), (np.arange(n) % 5 == 4),
                           extras={"tag": row * 100, "count": np.arange(n) * 2, "flag": np.arange(n) % 3 == 0})
    sampler = ds.sampler(16, seed=3)
    for _ in range(5):
        b = sampler.sample()
        i = b.obs[:, 0]
        k = i.long()
        assert b.obs.shape == (16, 2) and b.rewards.shape == (16,) and b.terminals.dtype == torch.bool
        torch.testing.assert_close(b.obs[:, 1], -i)
        torch.testing.assert_close(b.actions, torch.stack([i + 0.5, 2 * i], 1))
        torch.testing.assert_close(b.rewards, i * 10)
        torch.testing.assert_close(b.next_obs, torch.stack([i + 1, 3 * i], 1))
        assert torch.equal(b.terminals, k % 7 == 6) and torch.equal(b.timeouts, k % 5 == 4)
        torch.testing.assert_close(b.extras["tag"], i * 100)
        assert torch.equal(b.extras["count"], k * 2) and torch.equal(b.extras["flag"], k % 3 == 0)
    first = ds.sampler(16, seed=3).sample()
    assert torch.equal(first.obs, ds.sampler(16, seed=3).sample().obs)
    assert not torch.equal(first.obs, ds.sampler(16, seed=4).sample().obs)
