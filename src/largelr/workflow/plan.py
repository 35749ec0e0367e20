"""The workflow's plan of jobs: which files each job reads and writes, and what it asks of a machine.

A :class:`Plan` holds the resolved presets (``largelr.config.resolve_config``) and answers, for a
job's wildcards, the questions Snakemake asks of ``workflow/rules/common.smk``: input files, params
and resources. Its training part splits long training groups into jobs (§4.2 trains every cell to
100 % training accuracy, so a cluster's wall time comes from the estimate of
:mod:`largelr.workflow.cost`). The paths are :mod:`largelr.workflow.paths`' templates.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable, Mapping

import pandas as pd
from snakemake.utils import Paramspace

from largelr.config import cell_training, training_grid
from largelr.grid_selection import select_cells
from largelr.workflow import paths
from largelr.workflow.cost import data_memory_mb, estimate_group_minutes, group_parts, trains_one_after_another
from largelr.workflow.resources import MIN_TRAIN_RUNTIME, RULE_RESOURCES, RUNTIME_SAFETY, cuda_available

GROUP_KEYS = ("preset", "dataset", "model", "recipe", "intervention")
Wildcards = Any  # Snakemake's Wildcards: attributes and a mapping


class Plan:
    """Every preset's grid and the job planning of the workflow (see the module doc)."""

    def __init__(self, presets: Mapping[str, dict[str, Any]]) -> None:
        self.presets = dict(presets)
        self.grids = {name: training_grid(preset) for name, preset in self.presets.items()}

    # ---- the grid -----------------------------------------------------------------------------
    def names(self, key: str) -> list[str]:
        """Every name of one config section (datasets, models, recipes) over the presets."""
        return sorted({name for preset in self.presets.values() for name in preset[key]})

    def recipe_labels(self) -> list[str]:
        """Every recipe name, and every grid recipe label (RECIPE+TAG of a tagged experiment)."""
        labels = {label for grid in self.grids.values() for label in grid["recipe"]}
        return sorted(set(self.names("recipes")) | labels)

    def preset_of(self, wildcards: Wildcards) -> dict[str, Any]:
        return self.presets[wildcards.preset]

    def full_scale(self, preset: str) -> bool:
        return self.presets[preset]["scale"] == "full"

    def cell_paths(self, preset: str, template: str, **selection: Any) -> list[str]:
        """``template`` (with a {cell} field) for every grid cell of ``preset`` matching ``selection``."""
        grid = select_cells(self.grids[preset], selection)
        cells = Paramspace(grid).instance_patterns if len(grid) else []
        return [template.format(preset=preset, cell=cell) for cell in cells]

    def cell_files(self, preset: str, name: str, **selection: Any) -> list[str]:
        """A run's file ``name`` (run.json, model.pt, ...: runs/) or an analysis file (analysis/) of
        every selected cell."""
        folder = "runs" if name in paths.RUN_FOLDER_FILES else "analysis"
        return self.cell_paths(preset, paths.path(paths.RESULTS, folder, "{cell}", name), **selection)

    def run_records(self, preset: str, **selection: Any) -> list[str]:
        return self.cell_files(preset, "run.json", **selection)

    def metric_records(self, preset: str, **selection: Any) -> list[str]:
        return self.cell_files(preset, "metrics.json", **selection)

    def attributed_datasets(self, preset: str) -> list[str]:
        """Datasets whose every run is attributed for summary/runs.csv (analysis.attribution_datasets)."""
        chosen = self.presets[preset]["analysis"].get("attribution_datasets")
        return sorted(set(self.grids[preset]["dataset"])) if chosen is None else list(chosen)

    # ---- resources ----------------------------------------------------------------------------
    def scaled_resource(self, rule: str, resource: str, preset: str) -> int:
        return RULE_RESOURCES[rule][resource][0 if self.full_scale(preset) else 1]

    def data_mb(self, rule: str, wildcards: Wildcards, where: str) -> int:
        """MB the job's dataset needs in RAM (``where`` host) or on the GPU (device), from its size in the
        preset (image_size, split sizes; :func:`largelr.workflow.cost.data_memory_mb`, issue 26 item 2)."""
        spec = self.presets[wildcards.preset]["datasets"][wildcards.dataset]
        return data_memory_mb(spec, where, trains=rule == "train_group")

    def rule_mem_mb(self, rule: str) -> Callable[[Wildcards, int], int]:
        """resources: mem_mb of ``rule`` for a job's preset (RULE_RESOURCES, at least what its dataset
        needs in RAM: :meth:`data_mb`), times the attempt."""

        def mem_mb(wildcards: Wildcards, attempt: int) -> int:
            floor = self.scaled_resource(rule, "mem_mb", wildcards.preset)
            return max(floor, self.data_mb(rule, wildcards, "host")) * attempt

        return mem_mb

    def rule_runtime(self, rule: str) -> Callable[[Wildcards, int], int]:
        """resources: runtime (minutes) of ``rule`` for a job's preset (RULE_RESOURCES), times the
        attempt, at most the preset's max_job_minutes."""

        def runtime(wildcards: Wildcards, attempt: int) -> int:
            limit = self.presets[wildcards.preset]["max_job_minutes"]
            return min(limit, self.scaled_resource(rule, "runtime", wildcards.preset) * attempt)

        return runtime

    def rule_gpu_mem_mb(self, rule: str) -> Callable[[Wildcards], int]:
        """resources: gpu_mem_mb of ``rule`` (device memory, MB) for a CUDA job, else 0. With a global
        gpu_mem_mb (profiles/default: the device's memory) the jobs that share the GPU fit on it. At least
        what the job's dataset needs on the device (:meth:`data_mb`)."""

        def gpu_mem_mb(wildcards: Wildcards) -> int:
            floor = self.scaled_resource(rule, "gpu_mem_mb", wildcards.preset)
            return max(floor, self.data_mb(rule, wildcards, "device")) * self.gpu(wildcards)

        return gpu_mem_mb

    def gpu(self, wildcards: Wildcards) -> int:
        """resources: gpu_jobs: 1 where the preset's device resolves to CUDA (`cuda`, or `auto` with
        CUDA available), else 0. Every CUDA job takes one of the GPU's job slots: the default
        profile's `resources: [gpu_jobs=4, ...]` lets 4 jobs share the device (README)."""
        name = self.preset_of(wildcards)["device"]
        return int(name == "cuda" or (name == "auto" and cuda_available()))

    def job_runtime(self, rule: str, batch: str | None = None) -> Callable[[Wildcards, int], int]:
        """resources: runtime of a job that analyses the runs of a training job (every run, or those of
        ``batch``: :meth:`analysed_runs`): RULE_RESOURCES' time per run, times the runs and the attempt,
        at most the preset's max_job_minutes."""

        def runtime(wildcards: Wildcards, attempt: int) -> int:
            per_run = self.scaled_resource(rule, "runtime", wildcards.preset)
            limit = self.presets[wildcards.preset]["max_job_minutes"]
            return min(limit, per_run * self.analysed_runs(batch, wildcards) * attempt)

        return runtime

    def analysed_runs(self, batch: str | None, wildcards: Wildcards) -> int:
        """The runs a job analyses: every run of its training job (``batch`` None; a batch's runs:
        :class:`largelr.workflow.inputs.WorkflowPlan`, which knows the targets' inputs)."""
        if batch is not None:
            raise ValueError(f"batch {batch!r}: the runs a batch analyses are the WorkflowPlan's to say")
        return len(self.group_rows(wildcards))

    # ---- training jobs ------------------------------------------------------------------------
    # A training group is one job ({part} = "", manifest group.json) unless its cells train one
    # after another and its estimated time (largelr.workflow.cost, x RUNTIME_SAFETY) exceeds the
    # preset's max_job_minutes: then consecutive cells form jobs ".part-1", ".part-2", ... within
    # the limit (group.part-K.json). Each cell trains alone either way, so a split changes no result.
    def whole_group(self, preset: str, dataset: str, model: str, recipe: str, intervention: str) -> pd.DataFrame:
        """The grid rows of one training group."""
        selection = dict(dataset=dataset, model=model, recipe=recipe, intervention=intervention)
        return select_cells(self.grids[preset], **selection)

    @functools.lru_cache(maxsize=None)
    def training_jobs(self, preset: str, dataset: str, model: str, recipe: str,
                      intervention: str) -> dict[str, list[int]]:
        """The jobs of a training group: {part ("" = the whole group): positions of its cells in
        the group's rows}."""
        rows = self.whole_group(preset, dataset, model, recipe, intervention).to_dict("records")
        whole = {"": list(range(len(rows)))}
        if not self.full_scale(preset):
            return whole
        settings = self.presets[preset]
        parts = group_parts(settings, rows, settings["max_job_minutes"] / RUNTIME_SAFETY)
        if len(parts) == 1:
            return whole
        return {f".part-{k}": cells for k, cells in enumerate(parts, start=1)}

    @staticmethod
    def group_key(wildcards: Wildcards) -> tuple[str, ...]:
        return tuple(getattr(wildcards, key) for key in GROUP_KEYS)

    def group_rows(self, wildcards: Wildcards) -> pd.DataFrame:
        """The grid rows of one training job (every cell of the group for part "")."""
        rows = self.whole_group(*self.group_key(wildcards))
        part = getattr(wildcards, "part", "")
        return rows.iloc[self.training_jobs(*self.group_key(wildcards))[part]] if part else rows

    def training_engine(self, wildcards: Wildcards) -> str:
        """train_group: training.engine of the job; the part of a split group trains as the whole
        group would (one after another, or as a smaller stack)."""
        engine = self.group_trainings(wildcards)[0]["engine"]
        rows = self.group_rows(wildcards).to_dict("records")
        alone = trains_one_after_another(self.presets[wildcards.preset], rows)
        return "sequential" if wildcards.part and alone else engine

    def train_job_runtime(self, wildcards: Wildcards, attempt: int) -> int:
        """train_group: runtime (minutes). Full scale: RUNTIME_SAFETY x the job's estimate on one GPU
        (largelr.workflow.cost), at least MIN_TRAIN_RUNTIME; reduced scale: RULE_RESOURCES. Times
        the attempt, at most max_job_minutes."""
        preset = self.presets[wildcards.preset]
        if not self.full_scale(wildcards.preset):
            return self.rule_runtime("train_group")(wildcards, attempt)
        estimate = estimate_group_minutes(preset, self.group_rows(wildcards).to_dict("records"))
        minutes = max(MIN_TRAIN_RUNTIME, math.ceil(RUNTIME_SAFETY * estimate))
        return min(preset["max_job_minutes"], minutes * attempt)

    def group_grid(self, wildcards: Wildcards) -> list[dict[str, Any]]:
        """The cells of one training job (every LR and seed of a (dataset, model, recipe, intervention))."""
        return [{**row, "lr": float(row["lr"]), "seed": int(row["seed"])}
                for row in self.group_rows(wildcards).to_dict("records")]

    def group_trainings(self, wildcards: Wildcards) -> list[dict[str, Any]]:
        """The ``training`` settings of every cell of a training job (cell order of group_grid)."""
        return [cell_training(self.preset_of(wildcards), cell) for cell in self.group_grid(wildcards)]

    def job_cells(self, wildcards: Wildcards) -> list[dict[str, str]]:
        """The cells of one training job (cell order of group_grid), as {wildcard: value} strings."""
        patterns = Paramspace(self.group_rows(wildcards)).instance_patterns
        return [dict(part.split("~", 1) for part in pattern.split("/")) for pattern in patterns]

    def job_part(self, wildcards: Wildcards) -> str:
        """The part ("" or .part-K) of the training job that trains one cell."""
        rows = self.whole_group(*self.group_key(wildcards)).to_dict("records")
        position = next(i for i, row in enumerate(rows)
                        if float(row["lr"]) == float(wildcards.lr) and int(row["seed"]) == int(wildcards.seed))
        jobs = self.training_jobs(*self.group_key(wildcards))
        return next(name for name, cells in jobs.items() if position in cells)

    def group_cell_dirs(self, wildcards: Wildcards) -> list[str]:
        """Where the group job leaves each cell's run files (cell order of group_grid)."""
        return [paths.GROUP_CELL_DIR.format(**{**wildcards, **cell}) for cell in self.job_cells(wildcards)]

    def group_manifest(self, wildcards: Wildcards) -> str:
        """link_run (one cell): the manifest of the training job (group or part) that trains the cell."""
        return paths.TRAINING_MANIFEST.format(**wildcards, part=self.job_part(wildcards))

    def job_runs(self, wildcards: Wildcards) -> dict[str, Any]:
        """evaluate (one training job): the dataset and the run.json and model.pt of each of its cells."""
        folders = [paths.RUN_DIR.format(**{**wildcards, **cell}) for cell in self.job_cells(wildcards)]
        return {
            "dataset": paths.DATASET_FILE.format(**wildcards),
            "runs": [paths.path(folder, "run.json") for folder in folders],
            "models": [paths.path(folder, "model.pt") for folder in folders],
        }

    def job_evaluation_dirs(self, wildcards: Wildcards) -> list[str]:
        """evaluate: where each cell's metrics.json goes (cell order of job_runs)."""
        return [paths.EVALUATION_CELL_DIR.format(**{**wildcards, **cell}) for cell in self.job_cells(wildcards)]

    def evaluation_manifest(self, wildcards: Wildcards) -> str:
        """link_metrics (one cell): the manifest of the evaluate job of the cell's training job."""
        return paths.EVALUATION_MANIFEST.format(**wildcards, part=self.job_part(wildcards))
