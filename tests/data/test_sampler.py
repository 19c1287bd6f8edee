"""Sampler: one index gathers the same rows from every column and extra, reproducibly."""

import numpy as np
import torch

from orlkit.data.dataset import TransitionDataset


def test_sampled_rows_line_up_across_columns_and_extras():
    n = 50
    row = np.arange(n, dtype=np.float32)
    ds = TransitionDataset(np.stack([row, -row], 1), np.stack([row + 0.5, row], 1), row * 10,
                           np.stack([row + 1, row], 1), (np.arange(n) % 7 == 6), np.zeros(n, bool),
                           extras={"tag": row * 100})
    sampler = ds.sampler(16, seed=3)
    for _ in range(5):
        b = sampler.sample()
        i = b.obs[:, 0]
        assert b.obs.shape == (16, 2) and b.rewards.shape == (16,) and b.terminals.dtype == torch.bool
        torch.testing.assert_close(b.obs[:, 1], -i)
        torch.testing.assert_close(b.actions[:, 0], i + 0.5)
        torch.testing.assert_close(b.rewards, i * 10)
        torch.testing.assert_close(b.next_obs[:, 0], i + 1)
        assert torch.equal(b.terminals, (i.long() % 7 == 6))
        torch.testing.assert_close(b.extras["tag"], i * 100)
    again = ds.sampler(16, seed=3)
    first = again.sample()
    assert torch.equal(first.obs, ds.sampler(16, seed=3).sample().obs)
    assert not torch.equal(first.obs, ds.sampler(16, seed=4).sample().obs)
