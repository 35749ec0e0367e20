"""Kind ``attribution_gallery``: test images and the low- and high-LR seed-aggregated attributions
of hard samples (§6, Figs 1, 8, 29-34; suppl. E.1)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from largelr.figures.cells import figure_groups
from largelr.figures.kind import FigureJob, FigureKind, InputPaths, write_table
from largelr.figures.names import DISPLAY_NAMES


def inputs(spec: Mapping[str, Any], grid: pd.DataFrame, paths: InputPaths) -> dict[str, list[str]]:
    """The gallery (select_hard_samples) of each (dataset, model) of the figure."""
    groups = figure_groups(spec, grid)
    return {"galleries": [paths.group("gallery.npz", dataset, model, spec["recipe"]) for dataset, model in groups]}


def params(spec: Mapping[str, Any], grid: pd.DataFrame) -> dict[str, Any]:
    """One panel label per gallery: "dataset · model"."""
    return {"labels": [f"{DISPLAY_NAMES.get(d, d)} · {m}" for d, m in figure_groups(spec, grid)]}


def draw(job: FigureJob) -> None:
    """One panel per gallery; ``{figure}.csv``: the panel label and gallery file of each panel."""
    from largelr.figures.attribution_gallery import plot_attribution_gallery, read_gallery

    labels, paths = list(job.params["labels"]), list(job.inputs["galleries"])
    if len(labels) != len(paths) or len(set(labels)) != len(labels):
        raise ValueError(f"need one distinct panel label per gallery, got {labels} for {len(paths)} galleries")
    galleries = {label: read_gallery(path) for label, path in zip(labels, paths)}
    plot_attribution_gallery(galleries, job.pdf, job.png, title=job.title, note=job.note)
    write_table(pd.DataFrame({"panel": labels, "file": paths}), job.csv)


KIND = FigureKind(
    "attribution_gallery", inputs, draw, params=params,
    caption="""Top row: test images; middle: attributions (Integrated Gradients, \\|attr\\| summed over
channels) of the low-LR models; bottom: of the high-LR models, each averaged over the seeds
of the cell after normalising every seed's map. Samples are the "hard" ones of suppl. E.1
(correct for > 75 % of the high-LR seeds and < 25 % of the low-LR seeds, marked ``*``); when
too few exist at this scale the row is filled with the samples ranked by that difference.""",
)
