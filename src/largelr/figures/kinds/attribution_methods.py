"""Kind ``attribution_methods``: Integrated Gradients vs DeepLift on the same runs and samples
(Fig 14, suppl. E.1)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from largelr.figures.cells import chosen_selections, figure_groups
from largelr.figures.kind import FigureJob, FigureKind, Files, InputPaths


def inputs(spec: Mapping[str, Any], grid: pd.DataFrame, paths: InputPaths) -> dict[str, Files]:
    """run.json and both methods' maps of the chosen cells (cells.chosen_selections), and the
    dataset of the figure's first (dataset, model)."""
    cells = chosen_selections(spec, grid)
    (dataset, _), *_ = figure_groups(spec, grid)
    return {"runs": paths.cells("run.json", cells),
            "ig": paths.cells("attribution_maps_integrated_gradients.npz", cells),
            "deeplift": paths.cells("attribution_maps_deeplift.npz", cells),
            "dataset": paths.dataset(dataset)}


def draw(job: FigureJob) -> None:
    """Both methods' maps side by side; ``{figure}.csv``: their agreement per run."""
    from largelr.figures.attribution_methods import plot_attribution_methods

    inputs, spec = job.inputs, job.spec
    agreement = plot_attribution_methods(
        inputs["runs"], inputs["ig"], inputs["deeplift"], inputs["dataset"], job.pdf, job.png, job.csv,
        title=job.title, note=job.note,
        **({"n_samples": int(spec["n_samples"])} if "n_samples" in spec else {}),  # default: the function's
    )
    job.log.info("IG vs DeepLift agreement:\n%s", agreement.to_string(index=False))


KIND = FigureKind(
    "attribution_methods", inputs, draw,
    caption="""The same runs and test samples attributed with Integrated Gradients (left) and DeepLift
(right), low LR above high LR (suppl. E.1). ``{figure}.csv`` gives, per run, the rank
correlation of the two methods' maps and the spurious share under each.""",
)
