"""TransitionDataset.digest: what a run records to refuse resuming on other data."""

import numpy as np

from orlkit.data.dataset import TransitionDataset


def test_digest_follows_the_transitions_not_the_metadata() -> None:
    rng = np.random.default_rng(0)
    cols = {"obs": rng.normal(size=(20, 3)).astype(np.float32), "actions": rng.integers(0, 2, 20),
            "rewards": rng.normal(size=20).astype(np.float32), "next_obs": rng.normal(size=(20, 3)).astype(np.float32),
            "terminals": np.zeros(20, bool), "timeouts": np.r_[np.zeros(19, bool), True]}
    a = TransitionDataset(**cols, n_actions=2, meta={"env_id": "x"})
    assert a.digest() == TransitionDataset(**cols, n_actions=2, meta={"other": 1}, source="y").digest()
    assert len(a.digest()) == 32
    assert a.digest() != TransitionDataset(**cols, n_actions=3).digest()
    for name, col in cols.items():  # one value changed in any column changes the digest
        changed = col.copy()
        changed[3] = (not col[3]) if col.dtype == bool else (1 - col[3]) if name == "actions" else col[3] + 1
        assert TransitionDataset(**{**cols, name: changed}, n_actions=2).digest() != a.digest(), name
    assert a.replace(extras={"user_id": np.arange(20)}).digest() != a.digest()


def test_data_with_an_object_column_has_no_digest() -> None:
    n = 4
    ds = TransitionDataset(np.zeros((n, 2), np.float32), np.zeros(n, np.int64), np.zeros(n, np.float32),
                           np.zeros((n, 2), np.float32), np.zeros(n, bool), np.ones(n, bool), n_actions=2,
                           extras={"note": np.array([object()] * n)})
    assert ds.digest() == ""  # no stable bytes to hash: "not known", which resume accepts
