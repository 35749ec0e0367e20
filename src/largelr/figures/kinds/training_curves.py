"""Kind ``training_curves``: training loss and unbiased test accuracy through training, per LR with
the seeds' band, one row of panels per training group (Fig 24 bottom: the ``sgd_long`` runs trained
beyond convergence; :mod:`largelr.figures.training_curves`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from largelr.figures.kind import FigureJob, FigureKind, InputPaths, of_datasets, plain_selection


def inputs(spec: Mapping[str, Any], grid: pd.DataFrame, paths: InputPaths) -> dict[str, list[str]]:
    """history.csv and run.json of the figure's runs (its recipe and model, plain cells)."""
    selection = plain_selection(spec)
    return {"histories": of_datasets(paths, "history.csv", spec, selection),
            "runs": of_datasets(paths, "run.json", spec, selection)}


def draw(job: FigureJob) -> None:
    """The curves; ``{figure}.csv``: per group, LR, metric and iteration, the seeds' mean, min and max."""
    from largelr.figures.training_curves import plot_training_curves, read_histories

    rows = read_histories(job.inputs["histories"], job.inputs["runs"])
    plot_training_curves(rows, job.pdf, job.png, job.csv, title=job.title, note=job.note)


KIND = FigureKind(
    "training_curves", inputs, draw,
    caption="""Training loss (mean minibatch loss of each log interval, log scale) and unbiased test
accuracy against iteration, one line per LR (mean over seeds, band: the seeds' range, dots: where
each seed stopped), from the runs' ``history.csv``. For Fig 24 (bottom) the runs train until the
full-training-set cross-entropy is below 1e-5 (recipe ``sgd_long``), far beyond 100 % training
accuracy: the paper's point is that the test accuracy of a large LR stays above that of a small
one through that phase. The numbers are in ``{figure}.csv``.""",
)
