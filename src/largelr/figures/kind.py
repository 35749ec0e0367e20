"""What a figure kind is: the function that names its inputs and the function that draws it.

Every figure of the paper (Figs 1-34) is one *kind* of drawing (``figures.<name>.kind`` in a
preset): metrics vs LR (§4, Figs 3-5), interventions (§5, Figs 6, 19), attribution galleries (§6,
Figs 1, 8), ... One module of :mod:`largelr.figures.kinds` per kind defines its
:class:`FigureKind` as ``KIND``; the workflow's one ``figure`` rule asks it for the input files
(:attr:`FigureKind.inputs`, while Snakemake builds the DAG) and ``scripts/plot_figure.py`` has it
draw (:attr:`FigureKind.draw`). Every figure writes ``{figure}.pdf``, ``{figure}.png`` and
``{figure}.csv``: the numbers it draws, or, for a figure of images, the files it draws.

pandas only at import: the workflow imports this while building the DAG; a kind imports its
plotting code (matplotlib, ``envs/plot.yaml``) inside its ``draw``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import pandas as pd

from largelr.figures.names import scale_note
from largelr.figure_spec import figure_datasets
from largelr.grid_selection import Selection
from largelr.io import atomic_path

# an input of a figure: one file or a list of files
Files = Union[str, list[str]]


@dataclass(frozen=True)
class InputPaths:
    """Where the files a figure reads lie, for one preset (built by ``workflow/rules/common.smk``).

    ``cells(name, selections)``: the run file or analysis file ``name`` (``run.json``,
    ``metrics.json``, ``landscape.npz``, ...) of every grid cell of each selection, selection after
    selection; ``dataset(d)``: the generated dataset; ``lr_filter(d)``: the §4.2 LR filter of a
    dataset; ``group(name, dataset, model, recipe)``: an analysis file of a group of runs.
    """

    cells: Callable[[str, Sequence[Selection]], list[str]]
    dataset: Callable[[str], str]
    lr_filter: Callable[[str], str]
    group: Callable[[str, str, str, str], str]


@dataclass(frozen=True)
class FigureJob:
    """One figure to draw: its preset entry, its input files (by the names its kind gave them),
    the three files it writes and the parameters its kind computed while the DAG was built."""

    figure: str
    spec: Mapping[str, Any]
    preset: str
    inputs: Mapping[str, Any]
    pdf: str
    png: str
    csv: str
    params: Mapping[str, Any] = field(default_factory=dict)
    scale: str = "reduced"  # the preset's ``scale``: full (the paper's) or reduced
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("largelr.figure"))

    @property
    def title(self) -> str:
        """The spec's ``title``, else the figure's name."""
        return self.spec.get("title", self.figure)

    @property
    def note(self) -> str:
        """The footer saying that a reduced preset drew it ("" for a full-scale one)."""
        return scale_note(self.preset, self.scale)


def no_params(spec: Mapping[str, Any], grid: pd.DataFrame) -> dict[str, Any]:
    """A kind that needs nothing from the grid at draw time."""
    return {}


@dataclass(frozen=True)
class FigureKind:
    """One kind of figure.

    ``inputs(spec, grid, paths)``: the figure's input files by name (Snakemake's ``unpack``);
    ``draw(job)``: writes ``job.pdf``, ``job.png`` and ``job.csv``; ``caption``: its report
    caption (reStructuredText; ``{figure}`` stands for the figure's name); ``params(spec, grid)``:
    what ``draw`` needs of the grid (e.g. panel labels), computed while the DAG is built.
    """

    name: str
    inputs: Callable[[Mapping[str, Any], pd.DataFrame, InputPaths], dict[str, Files]]
    draw: Callable[[FigureJob], None]
    caption: str
    params: Callable[[Mapping[str, Any], pd.DataFrame], dict[str, Any]] = no_params


# ---- pieces the kinds share ------------------------------------------------------------------
def plain_selection(spec: Mapping[str, Any], intervention: str | None = "none") -> dict[str, Any]:
    """A figure's runs: its recipe, its model if it names one, the plain cells (no
    intervention) unless ``intervention`` is None (every intervention too)."""
    selection = {"recipe": spec["recipe"], **({"model": spec["model"]} if "model" in spec else {})}
    return {**selection, "intervention": intervention} if intervention is not None else selection


def of_datasets(paths: InputPaths, name: str, spec: Mapping[str, Any], selection: Selection) -> list[str]:
    """File ``name`` of the ``selection`` cells of each of the figure's datasets, dataset by dataset."""
    return paths.cells(name, [{**selection, "dataset": dataset} for dataset in figure_datasets(spec)])


def lr_filters(paths: InputPaths, spec: Mapping[str, Any]) -> list[str]:
    """The §4.2 LR filter decisions of each of the figure's datasets."""
    return [paths.lr_filter(dataset) for dataset in figure_datasets(spec)]


def summary_inputs(spec: Mapping[str, Any], paths: InputPaths, intervention: str | None = "none") -> dict[str, Files]:
    """run.json and metrics.json of the figure's runs (:func:`plain_selection`) and the LR filter of
    each of its datasets: what :func:`kept_figure_runs` reads."""
    selection = plain_selection(spec, intervention)
    return {"runs": of_datasets(paths, "run.json", spec, selection),
            "metrics": of_datasets(paths, "metrics.json", spec, selection), "lr_filters": lr_filters(paths, spec)}


def kept_figure_runs(job: FigureJob) -> pd.DataFrame:
    """The figure's runs (:func:`summary_inputs`) that the §4.2 LR filter keeps, one row per run."""
    from largelr.reporting.lr_filter import kept_runs
    from largelr.reporting.summary import summarize_runs

    runs = summarize_runs(job.inputs["runs"], job.inputs["metrics"])
    return kept_runs(runs, pd.concat([pd.read_csv(path) for path in job.inputs["lr_filters"]]))


def write_table(table: pd.DataFrame, path: str | Path) -> None:
    """Write a figure's table atomically (no index)."""
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)


def drawn_files(job: FigureJob) -> pd.DataFrame:
    """The table of a figure of images: every input file it draws, by input name, in order."""
    rows = [(name, file) for name, files in job.inputs.items()
            for file in ([files] if isinstance(files, str) else list(files))]
    return pd.DataFrame(rows, columns=["input", "file"])


__all__ = ["FigureJob", "FigureKind", "Files", "InputPaths", "drawn_files", "kept_figure_runs", "lr_filters",
           "no_params", "of_datasets", "plain_selection", "summary_inputs", "write_table"]
