"""Kind ``lr_sweep``: metrics vs LR, each min-max normalised (Figs 3-5, 10, 15-17, 22-26, 28; §4)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from largelr.figures.kind import FigureJob, FigureKind, InputPaths, lr_filters, of_datasets, plain_selection
from largelr.metric_registry import METRIC_FILE

# the optional per-run analysis files a metric can live in (METRIC_FILE: metric -> input name): input name -> file
ANALYSIS_FILE = {"attributions": "attribution.json", "pruning": "pruning.json", "background": "background.json"}


def inputs(spec: Mapping[str, Any], grid: pd.DataFrame, paths: InputPaths) -> dict[str, list[str]]:
    """run.json and metrics.json of the figure's plain runs, the analysis files its metrics live
    in (METRIC_FILE) and the LR filter of each dataset."""
    selection = plain_selection(spec)
    files = {"runs": of_datasets(paths, "run.json", spec, selection),
             "metrics": of_datasets(paths, "metrics.json", spec, selection)}
    for name in sorted({METRIC_FILE[m] for m in spec.get("metrics", []) if m in METRIC_FILE}):
        files[name] = of_datasets(paths, ANALYSIS_FILE[name], spec, selection)
    return {**files, "lr_filters": lr_filters(paths, spec)}


def dropped_lr_note(decisions: pd.DataFrame, spec: Mapping[str, Any], datasets: pd.Series) -> str:
    """The footer line naming the LRs the §4.2 filter left out of this figure ("" if none)."""
    dropped = decisions[~decisions["kept"] & decisions["intervention"].eq("none")
                        & decisions["recipe"].eq(spec["recipe"]) & decisions["dataset"].isin(datasets.unique())]
    if not len(dropped):
        return ""
    lrs = ", ".join(f"{row.dataset} {row.lr:g}" for row in dropped.itertuples())
    return f"LRs left out by the §4.2 filter (divergence / >25 % acc. drop): {lrs}"


def draw(job: FigureJob) -> None:
    """The kept runs' metrics vs LR; ``{figure}.csv``: raw min/max of every drawn variable."""
    from largelr.figures.lr_sweep import plot_lr_sweep
    from largelr.figures.names import DISPLAY_NAMES
    from largelr.reporting.lr_filter import kept_runs
    from largelr.reporting.summary import add_analysis_file_columns, summarize_runs

    inputs, spec = job.inputs, job.spec
    all_runs = summarize_runs(inputs["runs"], inputs["metrics"])
    for name in ANALYSIS_FILE:  # optional per-run analysis files
        if name in inputs:
            all_runs = add_analysis_file_columns(all_runs, inputs["runs"], inputs[name], name)
    decisions = pd.concat([pd.read_csv(path) for path in inputs["lr_filters"]])
    runs = kept_runs(all_runs, decisions)
    notes = [line for line in (job.note, dropped_lr_note(decisions, spec, runs["dataset"])) if line]
    plot_lr_sweep(runs, job.pdf, job.png, job.csv, title=job.title, note="\n".join(notes),
                  metrics=spec.get("metrics"), panel_titles=DISPLAY_NAMES)


KIND = FigureKind(
    "lr_sweep", inputs, draw,
    caption="""Metrics against learning rate (the variables named in the legend: by default unbiased test
accuracy, prunability, activation compressibility, average CSI and class separation), laid
out like the paper's Figs 3–5, 10, 15–17 and 22–26. Each variable is min–max normalised
over its per-LR means (raw min/max in ``{figure}.csv``); lines are means over seeds,
bands ± 1 s.d., LR on a log axis; LRs past divergence or a > 25-point accuracy drop are left
out (§4.2).""",
)
