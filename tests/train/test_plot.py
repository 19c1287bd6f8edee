"""`orlkit plot` draws PNGs from run directories and refuses folders that are not runs."""

import json

from orlkit.cli import main


def fake_run(path, algo, q_offset):
    path.mkdir()
    (path / "config.json").write_text(json.dumps({"algo": algo, "seed": 0}))
    rows = [{"step": s, "return_mean": -500.0 + s / 10, "discounted_return_mean": -50.0,
             "q_estimate": -50.0 + q_offset * s} for s in (1000, 2000, 3000)]
    (path / "eval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_plot_writes_learning_curves_and_estimate_vs_real(tmp_path, capsys):
    runs = [fake_run(tmp_path / "sac", "sac", 1.0), fake_run(tmp_path / "cql", "cql-continuous", -0.01)]
    assert main(["plot", *runs, "--out", str(tmp_path / "plots")]) == 0
    for name in ("learning_curves.png", "estimate_vs_real.png"):
        data = (tmp_path / "plots" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_plot_of_a_folder_that_is_not_a_run_exits_2(tmp_path, capsys):
    assert main(["plot", str(tmp_path)]) == 2
    assert "not a run directory" in capsys.readouterr().err
