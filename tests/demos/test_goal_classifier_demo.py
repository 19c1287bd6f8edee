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
    text = demo.table(results)
    assert "VICE-RAQ" in text and "predicted success" in text
    demo.plot(results, str(tmp_path / "g.png"))
    assert (tmp_path / "g.png").stat().st_size > 10_000
