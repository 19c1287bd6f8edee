"""`orlkit demo goal-classifier` at a tiny scale: every method reports true and predicted success."""

import pytest

from orlkit.demos import goal_classifier as demo

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.slow
def test_tiny_run_fills_the_table_and_the_plot(tmp_path):
    results = demo.run(seeds=1, steps=1100, methods=("BC", "VICE-RAQ", "AIRL"), progress=False)
    methods = results["methods"]
    assert methods["BC"]["true_success"]["mean"] >= 0.9  # seed 0's BC policy clones the demos (seeds 1, 2 do not)
    assert methods["BC"]["predicted_success"] is None and methods["AIRL"]["predicted_success"] is None
    assert 0.0 <= methods["VICE-RAQ"]["predicted_success"]["mean"] <= 1.0
    assert methods["VICE-RAQ"]["env_steps"] == 1100
    assert methods["BC"]["late_success"] is None and 0.0 <= methods["AIRL"]["late_success"]["mean"] <= 1.0
    text = demo.table(results)
    assert "VICE-RAQ" in text and "predicted success" in text and "late success" in text
    demo.plot(results, str(tmp_path / "g.png"))
    assert (tmp_path / "g.png").stat().st_size > 10_000


def test_summarize_averages_seeds_and_the_last_evaluations():
    def seed(true, pred, curve):
        return {"true_success": true, "predicted_success": pred, "env_steps": 100,
                "curve": [{"step": 10 * i, "success_rate": s} for i, s in enumerate(curve)]}

    res = demo.summarize({"VICE": [seed(1.0, 0.5, [0.0, 1.0, 1.0, 0.5, 0.5]), seed(0.0, 1.0, [1.0] * 5)],
                          "BC": [seed(0.5, None, []), seed(1.0, None, [])]}, steps=100)
    vice = res["methods"]["VICE"]
    assert vice["true_success"] == {"mean": 0.5, "std": 0.5} and vice["predicted_success"]["mean"] == 0.75
    assert vice["late_success"]["mean"] == (0.75 + 1.0) / 2  # the last 4 evaluations of each seed, then seeds
    assert res["methods"]["BC"]["late_success"] is None and res["methods"]["BC"]["true_success"]["mean"] == 0.75
    with pytest.raises(ValueError, match="same number of seeds"):
        demo.summarize({"VICE": [seed(1.0, 0.5, [])], "BC": [seed(0.5, None, []), seed(1.0, None, [])]}, steps=100)


def test_rl_methods_run_with_half_demonstration_batches_and_the_demo_classifier(monkeypatch):
    import orlkit.rewards.example_rl as example_rl

    seen = {}

    class Stop(Exception):
        pass

    def capture(kind):
        def fake(run, *args, **kwargs):
            seen[kind] = (run, kwargs)
            raise Stop

        return fake

    monkeypatch.setattr(example_rl, "train_with_classifier", capture("classifier"))
    monkeypatch.setattr(example_rl, "train_adversarial", capture("adversarial"))
    for method in ("VICE", "GAIL"):
        with pytest.raises(Stop):
            demo.run_method(method, seed=1, steps=2000)
    for run, _ in seen.values():
        assert (run.initial_fraction, run.updates_per_step, run.steps, run.seed) == (0.5, 2, 2000, 1)
    clf = seen["classifier"][1]["config"]
    assert (clf.lr, clf.steps_per_update, clf.hidden, clf.seed) == (1e-3, 50, (64, 64), 1)
    assert seen["classifier"][1]["demos"].n_transitions == 50 * 100  # the demonstrations go in the buffer
    assert seen["adversarial"][1]["demos_in_buffer"]
