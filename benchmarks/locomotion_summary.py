"""The README's locomotion summaries: a table and a figure per budget, from result files already in benchmarks/results/.

    python benchmarks/locomotion_summary.py               # 20,000 updates: BC, IQL, CQL (AMD machine's data)
    python benchmarks/locomotion_summary.py --grid 100k   # 100,000 updates: BC, IQL (Intel machine's data)

``benchmarks/locomotion.py`` writes one result file per grid (an algorithm set, datasets, settings, a number of
updates). A summary picks, per dataset and algorithm, the grid named in its sources (all at the same number of
updates, made on one machine where the files record it) and writes
``benchmarks/results/locomotion-summary[-100k].{md,json}`` and ``docs/figures/locomotion_summary[_100k].png``
(learning curves, mean ± std over seeds). The dataset versions in the table are
the ones ``SOURCES`` declares; a result file that records its dataset's version (``locomotion.py`` does so since the
tenth session) must agree with it, and for older files the check is that all sources of a dataset have the same
behavior data score (two versions of one dataset have different data). Sources at other numbers of updates, or
with other evaluation settings, are refused.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from locomotion import beats, plot

from orlkit.errors import OrlkitError
from orlkit.train.io import figure_format, write_text

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
# (dataset, dataset version, column, algorithm key in the file, result file): every cell of the table
SOURCES = [
    ("hopper-medium", 2, "BC", "bc", "locomotion-20k-cql-2026-11-29.json"),
    ("hopper-medium", 2, "IQL (τ 0.02)", "iql", "locomotion-iql-tau02-20k-2026-11-29.json"),
    ("hopper-medium", 2, "CQL", "cql-continuous", "locomotion-20k-cql-2026-11-29.json"),
    ("halfcheetah-medium", 2, "BC", "bc", "locomotion-20k-cql-2026-11-29.json"),
    ("halfcheetah-medium", 2, "IQL (τ 0.02)", "iql", "locomotion-iql-tau02-20k-2026-11-29.json"),
    ("halfcheetah-medium", 2, "CQL", "cql-continuous", "locomotion-20k-cql-2026-11-29.json"),
    ("walker2d-medium", 3, "BC", "bc", "locomotion-walker-v3-bc-iql-20k-2026-11-30.json"),
    ("walker2d-medium", 3, "IQL (τ 0.02)", "iql", "locomotion-walker-v3-bc-iql-20k-2026-11-30.json"),
    ("walker2d-medium", 3, "CQL", "cql-continuous", "locomotion-walker-v3-cql-20k-2026-11-30.json"),
]
# The longest runs, made on the Intel machine of the eleventh and twelfth sessions (its own datasets: the same versions
# as the AMD machine's, not the same bytes, so not mixed with SOURCES).
SOURCES_100K = [
    ("hopper-medium", 2, "BC", "bc", "locomotion-intel-bc-iql-100k-2026-11-30.json"),
    ("hopper-medium", 2, "IQL (τ 0.02)", "iql", "locomotion-intel-bc-iql-100k-2026-11-30.json"),
    ("halfcheetah-medium", 2, "BC", "bc", "locomotion-intel-bc-iql-100k-2026-11-30.json"),
    ("halfcheetah-medium", 2, "IQL (τ 0.02)", "iql", "locomotion-intel-bc-iql-100k-2026-11-30.json"),
    ("walker2d-medium", 3, "BC", "bc", "locomotion-walker-v3-intel-bc-iql-100k-2026-11-30.json"),
    ("walker2d-medium", 3, "IQL (τ 0.02)", "iql", "locomotion-walker-v3-intel-bc-iql-100k-2026-11-30.json"),
]
# grid: (updates, sources, default report path, default figure name, date line)
GRIDS = {
    "20k": (20_000, SOURCES, "locomotion-summary", "locomotion_summary.png", "runs of 2026-11-29 and -30"),
    "100k": (100_000, SOURCES_100K, "locomotion-summary-100k", "locomotion_summary_100k.png", "runs of 2026-11-30"),
}


def gather(sources: list[tuple[str, int, str, str, str]], steps: int) -> dict[str, Any]:
    results: dict[str, Any] = {"steps": steps, "datasets": {}, "sources": {},
                               "columns": list(dict.fromkeys(column for _, _, column, _, _ in sources))}
    files: dict[str, Any] = {}
    for dataset, version, column, key, name in sources:
        if name not in files:
            if not (RESULTS / name).exists():
                raise SystemExit(f"{RESULTS / name}: no such result file (make it with benchmarks/locomotion.py)")
            files[name] = json.loads((RESULTS / name).read_text())
        data = files[name]
        if data["steps"] != steps:
            raise SystemExit(f"{name}: a grid at {data['steps']} updates, not {steps}")
        # datasets are deterministic per machine: files that record different CPUs hold different data
        # (files from before the model was recorded say only "x86_64")
        machine = data.get("machine", "x86_64")
        if machine != "x86_64" and results.setdefault("machine", machine) != machine:
            raise SystemExit(f"{name}: made on {machine}, another source on {results['machine']}")
        settings = (data["eval_every"], data["eval_episodes"])
        if results.setdefault("eval_settings", settings) != settings:
            raise SystemExit(f"{name}: evaluations every {settings[0]} updates over {settings[1]} episodes, not "
                             f"{results['eval_settings'][0]} / {results['eval_settings'][1]} as in the other sources")
        entry = data["datasets"][dataset]
        if entry.get("dataset_version", version) != version:
            raise SystemExit(f"{name}: {dataset} version {entry['dataset_version']}, SOURCES says {version}")
        out = results["datasets"].setdefault(dataset, {"dataset_version": version,
                                                       "behavior_score": entry["behavior_score"], "algorithms": {}})
        if abs(out["behavior_score"] - entry["behavior_score"]) > 1e-6:
            raise SystemExit(f"{name}: {dataset}'s behavior data score {entry['behavior_score']:.2f} differs from "
                             f"{out['behavior_score']:.2f} in another source: runs on different dataset versions")
        out["algorithms"][column] = entry["algorithms"][key]
        overrides = ", ".join((data.get("overrides") or {}).get(key, [])) or "defaults"
        results["sources"][f"{dataset} / {column}"] = f"{name} ({key}, settings: {overrides})"
    return results


def table(results: dict[str, Any]) -> str:
    columns = results["columns"]
    head = ["dataset (version)", "behavior data", *columns, *[f"{c} beats BC" for c in columns[1:]]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for dataset, entry in results["datasets"].items():
        algs = entry["algorithms"]
        cells = [f"{dataset} ({entry['dataset_version']})", f"{entry['behavior_score']:.1f}"]
        for c in columns:
            r = algs.get(c)
            cells.append(f"{r['score_mean']:.1f} ± {r['score_std']:.1f} (last 3: {r['last3_mean']:.1f} ± "
                         f"{r['last3_std']:.1f})" if r else "—")
        for c in columns[1:]:
            cells.append(beats(algs[c], algs["BC"]) if c in algs and "BC" in algs else "—")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--grid", choices=sorted(GRIDS), default="20k",
                   help="which summary: 20,000 updates (BC, IQL, CQL) or 100,000 (BC, IQL) (default: %(default)s)")
    p.add_argument("--out", type=Path, default=None,
                   help="report path without suffix: writes .md and .json (default: results/locomotion-summary[-100k])")
    p.add_argument("--figure", type=Path, default=None,
                   help="the learning-curve figure; its suffix picks the format "
                        "(default: docs/figures/locomotion_summary[_100k].png)")
    args = p.parse_args()
    steps, sources, out_name, figure_name, date = GRIDS[args.grid]
    out = args.out or RESULTS / out_name
    figure = args.figure or HERE.parent / "docs" / "figures" / figure_name
    try:
        figure_format(figure)
    except OrlkitError as e:
        p.error(str(e))
    results = gather(sources, steps)
    results["date"] = date
    write_text(out.with_suffix(".json"), json.dumps(results, indent=1))
    write_text(out.with_suffix(".md"), table(results))
    plot(results, figure)
    print(table(results))
    for cell, source in results["sources"].items():
        print(f"{cell}: {source}")


if __name__ == "__main__":
    main()
