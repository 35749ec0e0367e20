"""Kind ``pruning_curves``: accuracy retained vs the pruned fraction, one line per LR (Fig 20 column
pruning, Fig 21 global magnitude pruning; §4.2)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from largelr.figures.kind import FigureJob, FigureKind, InputPaths, of_datasets, plain_selection, write_table


def inputs(spec: Mapping[str, Any], grid: pd.DataFrame, paths: InputPaths) -> dict[str, list[str]]:
    """run.json and pruning.json of the figure's plain runs."""
    selection = plain_selection(spec)
    return {"runs": of_datasets(paths, "run.json", spec, selection),
            "pruning": of_datasets(paths, "pruning.json", spec, selection)}


def draw(job: FigureJob) -> None:
    """Retention curves of the spec's ``method``; ``{figure}.csv``: retention per run and fraction κ."""
    from largelr.figures.pruning_curves import plot_pruning_curves, pruning_table

    method = job.spec["method"]
    table = pruning_table(job.inputs["runs"], job.inputs["pruning"], method)
    plot_pruning_curves(table, method, job.pdf, job.png, title=job.title, note=job.note)
    write_table(table, job.csv)


KIND = FigureKind(
    "pruning_curves", inputs, draw,
    caption="""Unbiased test accuracy retained after pruning a fraction κ of the network, one line per
learning rate (mean over seeds, band ± 1 s.d.): column pruning as in the paper's Fig 20 or
unstructured global magnitude pruning as in Fig 21. Higher curves = more compressible; the
retention of every run and κ is in ``{figure}.csv``.""",
)
