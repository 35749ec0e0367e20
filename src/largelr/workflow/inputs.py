"""The input files of the analysis, figure and table jobs, and what the default target builds.

:class:`WorkflowPlan` extends :class:`largelr.workflow.plan.Plan` (grid, resources, training jobs)
with the inputs of the jobs downstream of training: the summary (§4.2's runs.csv), the per-dataset
LR filter and training curves, the hard-sample selection (§5), and every figure through its kind
(:mod:`largelr.figures.kinds`: the kind names the files of the cells it draws, given where this
workflow keeps them, :class:`largelr.figures.kind.InputPaths`), and the per-run analyses batched per
training job (issue 25 item 3, :mod:`largelr.workflow.analysis_jobs`): each job analyses the runs of its
training job whose files those targets read.
"""

from __future__ import annotations

import functools
from types import SimpleNamespace
from typing import Any, Callable

from snakemake.utils import Paramspace

from largelr.figures.kind import InputPaths
from largelr.figures.kinds import figure_kind
from largelr.workflow import paths
from largelr.workflow.analysis_jobs import GROUP_FILE, INPUT_KEYS, flat_files, requested_cells
from largelr.workflow.plan import Plan, Wildcards


class WorkflowPlan(Plan):
    """Every job's inputs, for the presets' grids (see the module doc)."""

    def __init__(self, presets: Any, figure_kinds: dict[str, str]) -> None:
        super().__init__(presets)
        self.figure_kinds = figure_kinds

    def summary_inputs(self, wildcards: Wildcards) -> dict[str, list[str]]:
        """summarize: every run's run.json and metrics.json, and the attributions of the attributed datasets."""
        preset = wildcards.preset
        attributed = self.attributed_datasets(preset)
        return {
            "runs": self.run_records(preset),
            "metrics": self.metric_records(preset),
            "attribution_runs": self.run_records(preset, dataset=attributed),
            "attributions": self.cell_files(preset, "attribution.json", dataset=attributed),
        }

    def dataset_runs(self, wildcards: Wildcards) -> dict[str, list[str]]:
        """filter_learning_rates: the run.json and metrics.json of every run on one dataset."""
        preset, dataset = wildcards.preset, wildcards.dataset
        return {"runs": self.run_records(preset, dataset=dataset),
                "metrics": self.metric_records(preset, dataset=dataset)}

    def group_inputs(self, wildcards: Wildcards) -> dict[str, Any]:
        """select_hard_samples: every plain run of one (dataset, model, recipe) and its attribution maps."""
        preset, dataset = wildcards.preset, wildcards.dataset
        selection = {"dataset": dataset, "model": wildcards.model, "recipe": wildcards.recipe,
                     "intervention": "none"}
        return {
            "dataset": paths.DATASET_FILE.format(preset=preset, dataset=dataset),
            "runs": self.run_records(preset, **selection),
            "maps": self.cell_files(preset, "attribution_maps.npz", **selection),
            "lr_filter": paths.LR_FILTER_CSV.format(preset=preset, dataset=dataset),
        }

    @functools.lru_cache(maxsize=None)
    def input_paths(self, preset: str) -> InputPaths:
        """Where the files a figure of ``preset`` reads lie (largelr.figures.kind.InputPaths)."""

        def cells(name: str, selections: list[dict[str, Any]]) -> list[str]:
            return [p for selection in selections for p in self.cell_files(preset, name, **selection)]

        def group(name: str, dataset: str, model: str, recipe: str) -> str:
            return paths.path(paths.GROUP_DIR, name).format(preset=preset, dataset=dataset, model=model, recipe=recipe)

        return InputPaths(
            cells=cells,
            dataset=lambda dataset: paths.DATASET_FILE.format(preset=preset, dataset=dataset),
            lr_filter=lambda dataset: paths.LR_FILTER_CSV.format(preset=preset, dataset=dataset),
            group=group,
        )

    def figure_spec(self, wildcards: Wildcards) -> dict[str, Any]:
        return self.preset_of(wildcards)["figures"][wildcards.figure]

    def figure_kind_name(self, wildcards: Wildcards) -> str:
        return self.figure_kinds[wildcards.figure]

    def figure_inputs(self, wildcards: Wildcards) -> Any:
        """figure: the input files of one figure, named by its kind (``FigureKind.inputs``)."""
        kind = figure_kind(self.figure_kind_name(wildcards))
        grid = self.grids[wildcards.preset]
        return kind.inputs(self.figure_spec(wildcards), grid, self.input_paths(wildcards.preset))

    def figure_kind_params(self, wildcards: Wildcards) -> Any:
        """figure: what the kind's drawing needs of the grid (``FigureKind.params``)."""
        kind = figure_kind(self.figure_kind_name(wildcards))
        return kind.params(self.figure_spec(wildcards), self.grids[wildcards.preset])

    def figure_kind_caption(self, wildcards: Wildcards) -> str:
        """figure: the report caption of the figure's kind, for this figure."""
        caption = figure_kind(self.figure_kind_name(wildcards)).caption
        return caption.format(figure=wildcards.figure)

    def lr_filter_files(self, wildcards: Wildcards) -> list[str]:
        datasets = sorted(set(self.grids[wildcards.preset]["dataset"]))
        return [paths.LR_FILTER_CSV.format(preset=wildcards.preset, dataset=d) for d in datasets]

    def curve_inputs(self, wildcards: Wildcards) -> dict[str, list[str]]:
        """training_curves: the history.csv and run.json of every run on one dataset (issue 28)."""
        preset, dataset = wildcards.preset, wildcards.dataset
        return {"histories": self.cell_files(preset, "history.csv", dataset=dataset),
                "runs": self.run_records(preset, dataset=dataset)}

    def has_interventions(self, preset: str) -> bool:
        return bool((self.grids[preset]["intervention"] != "none").any())

    def final_outputs(self, preset: str) -> list[str]:
        """Everything the default target builds for ``preset``: the summary table, every figure and the
        training curves of every dataset."""
        datasets = sorted(set(self.grids[preset]["dataset"]))
        files = [paths.SUMMARY_CSV] + [paths.LR_FILTER_CSV.replace("{dataset}", d) for d in datasets]
        tables = {"table1": (".csv", ".md", ".tex"), "claims": (".csv", ".md")}
        if self.has_interventions(preset):
            tables["table2"] = (".csv", ".md", ".tex")
        files += [paths.path(paths.TABLES, table) + ext for table, extensions in tables.items() for ext in extensions]
        files += [paths.path(paths.FIGURES, "inventory") + ext for ext in (".csv", ".md")]
        files += [paths.TRAINING_CURVES.replace("{dataset}", d) + ext  # one job per dataset (issue 28)
                  for d in datasets for ext in (".pdf", ".png")]
        files += [paths.path(paths.FIGURES, figure) + ext
                  for figure in self.presets[preset]["figures"] for ext in (".pdf", ".png")]
        return [file.replace("{preset}", preset) for file in files]

    # ---- per-run analyses, one job per training job and batch (largelr.workflow.analysis_jobs) ----
    @functools.lru_cache(maxsize=None)
    def requested_analyses(self, preset: str) -> dict[str, set[str]]:
        """{batch: cell patterns}: the runs whose per-run analysis files the preset's targets read (the
        summary, every figure, and the hard-sample selections those read)."""
        files = flat_files(self.summary_inputs(SimpleNamespace(preset=preset)))
        for figure in self.presets[preset]["figures"]:
            files += flat_files(self.figure_inputs(SimpleNamespace(preset=preset, figure=figure)))
        groups = {match.groups() for file in files for match in [GROUP_FILE.search(file)] if match}
        for dataset, model, recipe in sorted(groups):
            names = SimpleNamespace(preset=preset, dataset=dataset, model=model, recipe=recipe)
            files += flat_files(self.group_inputs(names))
        return requested_cells(files, paths.path(paths.RESULTS, "analysis").format(preset=preset))

    def batch_cells(self, batch: str, wildcards: Wildcards) -> list[dict[str, str]]:
        """The cells of one training job that ``batch`` analyses (cell order of group_grid)."""
        requested = self.requested_analyses(wildcards.preset).get(batch.format(**wildcards), ())
        patterns = Paramspace(self.group_rows(wildcards)).instance_patterns
        return [cell for cell, pattern in zip(self.job_cells(wildcards), patterns) if pattern in requested]

    def analysed_runs(self, batch: str | None, wildcards: Wildcards) -> int:
        """The runs a job analyses (job_runtime): every run of its training job, or those of ``batch``."""
        return super().analysed_runs(None, wildcards) if batch is None else len(self.batch_cells(batch, wildcards))

    def batch_inputs(self, batch: str, name: str = "model.pt") -> Callable[[Wildcards], dict[str, Any]]:
        """A batched analysis job: the dataset and the run.json and ``name`` (in runs/, or in analysis/
        for attribution_maps.npz) of each of its cells."""

        def inputs(wildcards: Wildcards) -> dict[str, Any]:
            cells = [{**wildcards, **cell} for cell in self.batch_cells(batch, wildcards)]
            folder = paths.ANALYSIS_DIR if name == "attribution_maps.npz" else paths.RUN_DIR
            return {
                "dataset": paths.DATASET_FILE.format(**wildcards),
                "runs": [paths.path(paths.RUN_DIR, "run.json").format(**cell) for cell in cells],
                INPUT_KEYS[name]: [paths.path(folder, name).format(**cell) for cell in cells],
            }

        return inputs

    def batch_output_dirs(self, batch: str) -> Callable[[Wildcards], list[str]]:
        """A batched analysis job: the folder of each cell's files (cell order of batch_inputs)."""

        def folders(wildcards: Wildcards) -> list[str]:
            cell_dir = paths.batch_path(batch, "lr~{lr}", "seed~{seed}")
            return [cell_dir.format(**{**wildcards, **cell}) for cell in self.batch_cells(batch, wildcards)]

        return folders

    def batch_manifest(self, batch: str) -> Callable[[Wildcards], str]:
        """link_* (one cell): the manifest of the batched job of the cell's training job (its part)."""
        return lambda wildcards: paths.batch_path(batch, "group{part}.json").format(
            **wildcards, part=self.job_part(wildcards))

    @staticmethod
    def batch_cell_dir(batch: str) -> Callable[[Wildcards], str]:
        """link_*: where the batched job left one cell's files."""
        return lambda wildcards: paths.batch_path(batch, "lr~{lr}", "seed~{seed}").format(**wildcards)
