"""``orlkit plot DIR...``: learning curves and the critic's estimate against the real return, as PNG."""

from __future__ import annotations

from pathlib import Path

from orlkit.errors import OrlkitError
from orlkit.train.io import read_jsonl, save_figure


def _label(run_dir: Path) -> str:
    import json

    config = json.loads((run_dir / "config.json").read_text())
    dataset = Path(str(config.get("dataset", ""))).stem
    on = f" on {dataset}" if dataset else ""
    return f"{config['algo']}{on} (seed {config['seed']})"


def plot_runs(run_dirs: list[str | Path], out: str | Path) -> list[Path]:
    """Draw ``learning_curves.png`` (return vs updates) and, where runs logged a critic estimate,
    ``estimate_vs_real.png`` (the critic's Q̂(s0, π(s0)) against the discounted Monte-Carlo return of
    the same policy, vs updates) into the folder ``out``. Returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = []
    for d in map(Path, run_dirs):
        rows = read_jsonl(d / "eval.jsonl")
        if not (d / "config.json").exists() or not rows:
            raise OrlkitError(f"{d}: not a run directory with evaluations (need config.json and eval.jsonl)")
        runs.append((d, rows))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []

    fig, ax = plt.subplots(figsize=(6, 4))
    for d, rows in runs:
        ax.plot([r["step"] for r in rows], [r["return_mean"] for r in rows], marker="o", label=_label(d))
    ax.set(xlabel="gradient updates", ylabel="return (evaluation mean)", title="Learning curves")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, out / "learning_curves.png", dpi=120)
    plt.close(fig)
    written.append(out / "learning_curves.png")

    with_q = [(d, rows) for d, rows in runs if "q_estimate" in rows[0] and "discounted_return_mean" in rows[0]]
    if with_q:
        fig, ax = plt.subplots(figsize=(6, 4))
        for i, (d, rows) in enumerate(with_q):
            color = f"C{i}"
            steps = [r["step"] for r in rows]
            ax.plot(steps, [r["q_estimate"] for r in rows], color=color, marker="o", label=f"{_label(d)}: Q̂(s0, π(s0))")
            ax.plot(steps, [r["discounted_return_mean"] for r in rows], color=color, linestyle="--", marker="x",
                    label=f"{_label(d)}: real discounted return")
        ax.set(xlabel="gradient updates", ylabel="value", title="Critic's estimate vs real return")
        ax.set_yscale("symlog")
        ax.legend(fontsize=7)
        fig.tight_layout()
        save_figure(fig, out / "estimate_vs_real.png", dpi=120)
        plt.close(fig)
        written.append(out / "estimate_vs_real.png")
    return written
