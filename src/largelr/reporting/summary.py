"""The tidy table of every run of a preset: ``summary/runs.csv`` (one row per run).

Columns: the grid cell (dataset, model, recipe, lr, intervention, seed), the run's status, iterations,
wall time, device, maximum BC loss ratio (§6), one column per metrics.json metric of
:mod:`largelr.metric_registry` (:data:`largelr.columns.METRIC_NAMES`), one ``prunability_<ranking>``
column per unit ranking (§3.2, ``analysis.prune_rankings``) and normalisation (``analysis.prune_normalisations``:
``pruned_accuracy_<ranking>`` for the accuracy reading, then ``prunability_<ranking>`` for the
retention reading) that some run's metrics.json has (in the order of
:data:`largelr.columns.PRUNE_RANKING_NAMES`) and, in ``runs.csv``, the attribution statistics of
:data:`largelr.columns.ATTRIBUTION_COLUMNS` with a ``notes`` column saying why a value is
undefined (e.g. no core/spurious share where the region masks do not separate the two).
Diverged runs keep their row with empty metrics.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd

from largelr.columns import (
    ATTRIBUTION_COLUMNS,
    BACKGROUND_COLUMNS,
    GRID_COLUMNS,
    METRIC_NAMES,
    NOTES_COLUMN,
    PARAMETER_COLUMNS,
    PRUNABILITY_COLUMNS,
    PRUNED_ACCURACY_COLUMNS,
    RUN_COLUMNS,
)
from largelr.io import atomic_path, read_json

# Per-ranking prunability columns of runs.csv: the accuracy readings, then the retention readings.
RANKING_COLUMNS = PRUNED_ACCURACY_COLUMNS + PRUNABILITY_COLUMNS


def summary_row(run_json: str | Path, metrics_json: str | Path) -> dict:
    record, metrics = read_json(run_json), read_json(metrics_json)
    row = {key: record["cell"][key] for key in GRID_COLUMNS}
    row.update({key: record[key] for key in RUN_COLUMNS})
    row.update({name: metrics.get(name) for name in METRIC_NAMES})
    row.update({name: metrics[name] for name in RANKING_COLUMNS if name in metrics})
    return row


def summarize_runs(run_jsons: Sequence[str | Path], metrics_jsons: Sequence[str | Path]) -> pd.DataFrame:
    """One row per run: grid cell, run facts and metrics (add analysis files with :func:`add_analysis_file_columns`)."""
    rows = [summary_row(*files) for files in zip(run_jsons, metrics_jsons, strict=True)]
    rankings = [name for name in RANKING_COLUMNS if any(name in row for row in rows)]
    frame = pd.DataFrame(rows, columns=GRID_COLUMNS + RUN_COLUMNS + list(METRIC_NAMES) + rankings)
    return frame.sort_values(GRID_COLUMNS, ignore_index=True)


# Optional per-run analysis files a figure may add to the table: kind → (columns, block reader).
ANALYSIS_FILE_COLUMNS = {
    "attributions": (ATTRIBUTION_COLUMNS, lambda record: record),
    "pruning": (PARAMETER_COLUMNS, lambda record: record.get("parameters", {})),
    "background": (BACKGROUND_COLUMNS, lambda record: record),
}


def add_analysis_file_columns(frame: pd.DataFrame, run_jsons: Sequence[str | Path], files: Sequence[str | Path],
                         kind: str) -> pd.DataFrame:
    """``frame`` (from :func:`summarize_runs`) with the columns of one kind of per-run analysis
    file (``attributions``, ``pruning`` or ``background``) joined on the grid cell."""
    columns, block = ANALYSIS_FILE_COLUMNS[kind]
    rows = []
    for run_json, path in zip(run_jsons, files, strict=True):
        cell, record = read_json(run_json)["cell"], read_json(path)
        values = block(record)
        rows.append({**{key: cell[key] for key in GRID_COLUMNS}, **{c: values.get(c) for c in columns},
                     "_note": record.get(NOTES_COLUMN, "")})
    extra = pd.DataFrame(rows, columns=GRID_COLUMNS + list(columns) + ["_note"])
    kept = frame.drop(columns=[c for c in columns if c in frame.columns])
    extra = extra.astype({"lr": float, "seed": int, "intervention": str})
    extra[list(columns)] = extra[list(columns)].apply(pd.to_numeric)  # null (an undefined value) → NaN
    merged = kept.merge(extra, on=GRID_COLUMNS, how="left")
    note = merged.pop("_note")
    if NOTES_COLUMN not in merged:
        merged[NOTES_COLUMN] = ""
    return _append_notes(merged, note)


def _append_notes(frame: pd.DataFrame, notes: pd.Series) -> pd.DataFrame:
    """``frame`` with each row's note of ``notes`` added to its ``notes`` column ("; "-joined, once)."""
    def join(old: object, new: object) -> str:
        parts = [str(p) for p in (old, new) if isinstance(p, str) and p]
        return "; ".join(dict.fromkeys(parts))

    frame[NOTES_COLUMN] = [join(old, new) for old, new in zip(frame[NOTES_COLUMN], notes)]
    return frame


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
