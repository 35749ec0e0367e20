"""Kind ``landscape``: loss, unbiased accuracy and spurious-utilisation landscapes around the final
weights, one row per run (Fig 9, §6)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from largelr.figures.cells import chosen_selections
from largelr.figures.kind import FigureJob, FigureKind, InputPaths, drawn_files, write_table


def inputs(spec: Mapping[str, Any], grid: pd.DataFrame, paths: InputPaths) -> dict[str, list[str]]:
    """run.json and landscape.npz of the chosen cells (cells.chosen_selections: LRs, seeds, ``interventions``)."""
    cells = chosen_selections(spec, grid)
    return {"runs": paths.cells("run.json", cells), "landscapes": paths.cells("landscape.npz", cells)}


def draw(job: FigureJob) -> None:
    """One row per run; ``{figure}.csv``: the run and landscape files drawn."""
    from largelr.figures.landscape import plot_landscapes

    plot_landscapes(job.inputs["runs"], job.inputs["landscapes"], job.pdf, job.png, title=job.title, note=job.note)
    write_table(drawn_files(job), job.csv)


KIND = FigureKind(
    "landscape", inputs, draw,
    caption="""Training loss, unbiased test accuracy and spurious feature utilisation (share of unbiased
test predictions equal to the bias label) on the plane w + α·d₁ + β·d₂ spanned by two random
filter-normalised directions (Li et al. 2018) around each run's final weights; one row per run:
the lowest and highest LR and, where the figure names them (``interventions``), the focal-loss models
(paper: "models with different LRs and FL").""",
)
