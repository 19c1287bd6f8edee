"""The A/B machinery of `orlkit demo notifications` on policies whose direction is known."""

import numpy as np

from orlkit.demos.notifications import ab_test, logging_probs, spearman, true_value
from orlkit.envs.notifications import FEATURES, PRODUCTION_DAILY_CAP, send_all_policy


def test_send_all_arm_raises_volume_and_lowers_ctr_significantly():
    table = ab_test({"send-all": send_all_policy}, n_users=400, seed=3, n_boot=200)
    arm = table["arms"]["send-all"]
    assert arm["Volume"]["change"] > 0 and arm["Volume"]["ci_low"] > 0 and arm["Volume"]["significant"]
    assert arm["CTR"]["change"] < 0 and arm["CTR"]["ci_high"] < 0
    for m in arm.values():
        assert m["ci_low"] <= m["change"] <= m["ci_high"]


def test_true_value_orders_send_all_below_sending_nothing():
    nothing = true_value(lambda o: np.zeros(len(o), dtype=np.int64), 300, seed=1, gamma=0.99)
    everything = true_value(send_all_policy, 300, seed=1, gamma=0.99)
    assert everything < nothing


def test_logging_probabilities_respect_the_cap():
    obs = np.zeros((2, len(FEATURES)), np.float32)
    obs[:, FEATURES.index("score")] = 0.9
    obs[1, FEATURES.index("sent_24h")] = PRODUCTION_DAILY_CAP / 10
    probs = logging_probs(obs)
    assert np.allclose(probs, [[0.05, 0.95], [1.0, 0.0]])


def test_spearman_is_one_for_the_same_order_and_minus_one_reversed():
    assert spearman([1, 2, 3], [10, 20, 30]) == 1.0
    assert spearman([1, 2, 3], [3, 2, 1]) == -1.0
