"""`orlkit demo preferences` end to end at a tiny scale: every table row and the plot are produced."""

import pytest

from orlkit.demos import preferences as demo

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.slow
def test_tiny_online_run_fills_the_table_and_the_plot(tmp_path, monkeypatch):
    online = demo.run_online(seeds=1, steps=1200, budget=12, progress=False)
    assert set(online) == set(demo.ONLINE_CONDITIONS)
    assert online["SAC, true reward"]["queries"] == 0
    for name, entry in online.items():
        if name != "SAC, true reward":
            assert entry["queries"] == 12  # one round at step 1000 spends the whole budget
            assert -1 <= entry["reward_corr"]["mean"] <= 1
        assert [p["step"] for p in entry["curves"][0]] == [1000, 1200]
    alignment = demo.run_alignment(seeds=1, n_queries=10)
    assert set(next(iter(alignment.values()))) == {"after_10", "curve"}
    assert len(next(iter(alignment.values()))["curve"]) == 10
    offline = {"dataset": "x", "steps": 1, "queries": 1, **{k: {"mean": 0.0, "std": 0.0, "per_seed": [0.0]}
                                                             for k in ("true reward", "learned reward", "reward_corr")}}
    results = {"seeds": 1, "online_steps": 1200, "budget": 12, "alignment": alignment, "online": online,
               "offline": offline}
    text = demo.table(results)
    for name in list(demo.ONLINE_CONDITIONS) + ["learned reward", "volume_removal"]:
        assert name in text
    demo.plot(results, str(tmp_path / "p.png"))
    assert (tmp_path / "p.png").stat().st_size > 10_000
