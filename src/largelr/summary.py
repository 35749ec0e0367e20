"""The tidy table of every run of a preset: ``summary/runs.csv`` (one row per run).

Columns: the grid cell (dataset, model, optimizer, lr, seed), the run's status, iterations,
wall time, device, maximum BC loss ratio (§6), then one column per metric of
:data:`largelr.evaluation.METRIC_NAMES`. Diverged runs keep their row with empty metrics.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd

from largelr.columns import GRID_COLUMNS, METRIC_NAMES, RUN_COLUMNS
from largelr.io import atomic_path, read_json


def summary_row(run_json: str | Path, metrics_json: str | Path) -> dict:
    record, metrics = read_json(run_json), read_json(metrics_json)
    row = {key: record["cell"][key] for key in GRID_COLUMNS}
    row.update({key: record[key] for key in RUN_COLUMNS})
    row.update({name: metrics.get(name) for name in METRIC_NAMES})
    return row


def summarize_runs(run_jsons: Sequence[str | Path], metrics_jsons: Sequence[str | Path]) -> pd.DataFrame:
    rows = [summary_row(r, m) for r, m in zip(run_jsons, metrics_jsons, strict=True)]
    frame = pd.DataFrame(rows, columns=GRID_COLUMNS + RUN_COLUMNS + list(METRIC_NAMES))
    return frame.sort_values(GRID_COLUMNS, ignore_index=True)


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
