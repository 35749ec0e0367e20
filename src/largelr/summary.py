"""The tidy table of every run of a preset: ``summary/runs.csv`` (one row per run).

Columns: the grid cell (dataset, model, optimizer, lr, hp, seed), the run's status, iterations,
wall time, device, maximum BC loss ratio (§6), one column per metric of
:data:`largelr.columns.METRIC_NAMES` and, in ``runs.csv``, the attribution statistics of
:data:`largelr.columns.ATTRIBUTION_COLUMNS`. Diverged runs keep their row with empty metrics.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd

from largelr.columns import ATTRIBUTION_COLUMNS, GRID_COLUMNS, METRIC_NAMES, RUN_COLUMNS
from largelr.io import atomic_path, read_json


def summary_row(run_json: str | Path, metrics_json: str | Path, attribution_json: str | Path | None = None) -> dict:
    record, metrics = read_json(run_json), read_json(metrics_json)
    row = {key: record["cell"][key] for key in GRID_COLUMNS}
    row.update({key: record[key] for key in RUN_COLUMNS})
    row.update({name: metrics.get(name) for name in METRIC_NAMES})
    if attribution_json is not None:
        attribution = read_json(attribution_json)
        row.update({name: attribution.get(name) for name in ATTRIBUTION_COLUMNS})
    return row


def summarize_runs(run_jsons: Sequence[str | Path], metrics_jsons: Sequence[str | Path],
                   attribution_jsons: Sequence[str | Path] | None = None) -> pd.DataFrame:
    """One row per run; attribution columns are present when ``attribution_jsons`` is given."""
    attribution_jsons = attribution_jsons if attribution_jsons is not None else [None] * len(run_jsons)
    rows = [summary_row(*files) for files in zip(run_jsons, metrics_jsons, attribution_jsons, strict=True)]
    columns = GRID_COLUMNS + RUN_COLUMNS + list(METRIC_NAMES)
    if attribution_jsons and attribution_jsons[0] is not None:
        columns += list(ATTRIBUTION_COLUMNS)
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values(GRID_COLUMNS, ignore_index=True)


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
