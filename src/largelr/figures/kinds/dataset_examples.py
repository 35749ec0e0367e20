"""Kind ``dataset_examples``: bias-aligned and bias-conflicting training images of each dataset (Fig 2, §4.1)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from largelr.figures.kind import FigureJob, FigureKind, InputPaths, drawn_files, write_table
from largelr.figure_spec import figure_datasets


def inputs(spec: Mapping[str, Any], grid: pd.DataFrame, paths: InputPaths) -> dict[str, list[str]]:
    """The generated file of each of the figure's datasets, in the order of its datasets."""
    return {"datasets": [paths.dataset(dataset) for dataset in figure_datasets(spec)]}


def draw(job: FigureJob) -> None:
    """A BA row and a BC row per dataset; ``{figure}.csv``: the dataset files drawn."""
    from largelr.datasets import load_dataset
    from largelr.figures.dataset_examples import plot_dataset_examples

    names = figure_datasets(job.spec)
    datasets = {name: load_dataset(path) for name, path in zip(names, job.inputs["datasets"], strict=True)}
    plot_dataset_examples(datasets, job.pdf, job.png)
    write_table(drawn_files(job), job.csv)


KIND = FigureKind(
    "dataset_examples", inputs, draw,
    caption="""Example training images of the semi-synthetic spurious-correlation datasets, as in the
paper's Fig 2: for each dataset a row of bias-aligned (BA, b = y) and a row of
bias-conflicting (BC, b ≠ y) samples, captioned with class y and bias label b.""",
)
