"""Kind ``lr_drop``: final unbiased accuracy vs the iteration of an LR drop x 0.1, one line per LR
(Fig 28 top right, suppl. D.4)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from largelr.figures.cells import lr_drop_selections
from largelr.figures.kind import FigureJob, FigureKind, InputPaths


def inputs(spec: Mapping[str, Any], grid: pd.DataFrame, paths: InputPaths) -> dict[str, list[str]]:
    """run.json and metrics.json of the ``lr_drop_at`` cells and of the plain cells at their LRs."""
    cells = lr_drop_selections(spec, grid)
    return {"runs": paths.cells("run.json", cells), "metrics": paths.cells("metrics.json", cells)}


def draw(job: FigureJob) -> None:
    """One line per base LR; ``{figure}.csv``: the drawn points (seed means per LR and drop iteration)."""
    from largelr.figures.lr_drop import plot_lr_drop
    from largelr.reporting.summary import summarize_runs

    runs = summarize_runs(job.inputs["runs"], job.inputs["metrics"])
    plot_lr_drop(runs, job.pdf, job.png, job.csv, title=job.title, note=job.note)


KIND = FigureKind(
    "lr_drop", inputs, draw,
    caption="""Final unbiased test accuracy of runs whose LR is divided by 10 after iteration i (x axis,
symmetric log scale; i = 0 trains at LR / 10 throughout), one line per base LR, as in the
paper's Fig 28 (top right): "the effects of LR are almost completely integrated by step 1000"
(suppl. D.4). Dashed lines: the plain runs at the same LR (never dropped). Hollow markers: runs
that stopped at or before iteration i, so were never dropped. Lines are means over seeds,
bands ± 1 s.d.; the numbers are in ``{figure}.csv``.""",
)
