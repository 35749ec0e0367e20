"""The weights digest of a finished preset, and whether two results folders hold the same runs
(docs/reproduces.md: the demo's digest; issue 25: "runs.csv unchanged in every column but wall time").

    python benchmarks/results_digest.py results/demo                  # the digest of every run's weights
    python benchmarks/results_digest.py results/demo /other/results/demo   # and the comparison

The digest is ``largelr.portable.weights_digest`` over every ``runs/<cell>/model.pt``, keyed by the
cell's folder, so equal digests mean bit-identical weights. The comparison reads both
``summary/runs.csv`` without ``wall_time_s`` and prints the columns whose values differ. It prints one
JSON object; the exit status is 1 when two folders differ.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from largelr.columns import GRID_COLUMNS  # noqa: E402
from largelr.portable import weights_digest  # noqa: E402 (torch-free)

TIMING_COLUMNS = ["wall_time_s"]


def results_digest(results: Path) -> tuple[str, int]:
    """SHA-256 over every run's ``model.pt`` under ``results/runs`` and the number of runs."""
    import torch

    runs = results / "runs"
    states = {str(model.parent.relative_to(runs)): torch.load(model, map_location="cpu", weights_only=True)
              for model in sorted(runs.rglob("model.pt"))}
    return weights_digest(states), len(states)


def differing_columns(first: Path, second: Path) -> list[str]:
    """The columns of ``summary/runs.csv`` (timings left out) whose values differ between two folders."""
    import pandas as pd

    tables = []
    for results in (first, second):
        runs = pd.read_csv(results / "summary" / "runs.csv").drop(columns=TIMING_COLUMNS, errors="ignore")
        tables.append(runs.sort_values(GRID_COLUMNS).reset_index(drop=True))  # one row per cell
    a, b = tables
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return sorted(set(a.columns) ^ set(b.columns)) or ["<row count>"]
    return [column for column in a.columns if not (a[column].equals(b[column]))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, nargs="+", help="results/<preset> folders (one or two)")
    args = parser.parse_args(argv)
    report: dict[str, Any] = {}
    for results in args.results[:2]:
        digest, runs = results_digest(results)
        report[str(results)] = {"digest": digest, "runs": runs}
    same = True
    if len(args.results) > 1:
        first, second = args.results[:2]
        report["differing_columns"] = differing_columns(first, second)
        report["same_weights"] = report[str(first)]["digest"] == report[str(second)]["digest"]
        same = report["same_weights"] and not report["differing_columns"]
    print(json.dumps(report, indent=1))
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
