"""`orlkit demo goal-classifier` at a tiny scale: every method reports true and predicted success."""

import pytest

from orlkit.demos import goal_classifier as demo

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.slow
def test_tiny_run_fills_the_table_and_the_plot(tmp_path):
    results = demo.run(seeds=1, steps=1100, methods=("BC", "VICE-RAQ", "AIRL"), progress=False)
    methods = results["methods"]
    assert methods["BC"]["true_success"]["mean"] >= 0.9  # 50 scripted demos are easy to clone (docs say so)
    assert methods["BC"]["predicted_success"] is None and methods["AIRL"]["predicted_success"] is None
    assert 0.0 <= methods["VICE-RAQ"]["predicted_success"]["mean"] <= 1.0
    assert methods["VICE-RAQ"]["env_steps"] == 1100
    assert methods["BC"]["late_success"] is None and 0.0 <= methods["AIRL"]["late_success"]["mean"] <= 1.0
    assert results["demo_fraction"] == demo.DEMO_FRACTION and results["updates_per_step"] == demo.UPDATES_PER_STEP
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
