# Every path, input function, param function and resource of the workflow lives here
# (STYLE: one place for paths); the rule files hold rules only.
import functools
import math
import os
import re
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

from snakemake.utils import Paramspace

# The package lives in src/; jobs (also conda and cluster jobs) find it through PYTHONPATH,
# which is set here (extended, not required: hence no `envvars:` directive).
SRC = str(Path(workflow.basedir) / "src")
sys.path.insert(0, SRC)
os.environ.update(
    PYTHONPATH=os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p)
)

from largelr.analysis_jobs import flat_files, requested_cells
from largelr.config import (
    cell_training,
    figure_datasets,
    figure_kinds,
    recipe_name,
    resolve_config,
    training_grid,
)
from largelr.datasets.download import GENERATOR_SOURCES, SOURCES
from largelr.training.cost import (
    data_memory_mb,
    estimate_group_minutes,
    group_parts,
    trains_one_after_another,
)
from largelr.figures.kind import InputPaths
from largelr.figures.kinds import figure_kind
from largelr.grid_selection import select_cells
from largelr.reporting.inventory import paper_caption

# ---- configuration: validated before any job starts, every preset -----------------------
PRESETS = resolve_config(config, Path(workflow.basedir) / "workflow" / "schemas")

GRIDS = {name: training_grid(preset) for name, preset in PRESETS.items()}
FIGURE_KINDS = figure_kinds(PRESETS)
PARAMSPACES = {name: Paramspace(grid) for name, grid in GRIDS.items()}


# ---- paths: every path of the workflow is built here, with path() ------------------------
def path(*parts):
    """One path from its parts, joined by '/' (wildcards stay {fields} for Snakemake)."""
    return "/".join(parts)


# one run: dataset~{dataset}/model~{model}/recipe~{recipe}/lr~{lr}/intervention~{intervention}/seed~{seed}
CELL = next(iter(PARAMSPACES.values())).wildcard_pattern
RESULTS = path("results", "{preset}")
DATASET_FILE = path(RESULTS, "data", "{dataset}.npz")
# the MNIST / CIFAR files found under data_root (rule download_source)
SOURCE_FILE = path(RESULTS, "data", "sources", "{source}.json")
RUN_DIR = path(RESULTS, "runs", CELL)
ANALYSIS_DIR = path(RESULTS, "analysis", CELL)
# analyses of a group of runs: every LR and seed of one (dataset, model, recipe)
GROUP_DIR = path(
    RESULTS, "groups", "dataset~{dataset}", "model~{model}", "recipe~{recipe}"
)
# one training job per training group: every LR and seed of one (dataset, model, recipe, intervention)
TRAINING_GROUP = path(
    "dataset~{dataset}",
    "model~{model}",
    "recipe~{recipe}",
    "intervention~{intervention}",
)
TRAINING_DIR = path(RESULTS, "training", TRAINING_GROUP)
# one training job: the whole group ({part} empty) or one part of a split group (.part-K)
TRAINING_JOB = f"{TRAINING_GROUP}{{part}}"
# where the group job leaves a cell's run files (the link_run rule links them into RUN_DIR)
GROUP_CELL_DIR = path(TRAINING_DIR, "lr~{lr}", "seed~{seed}")
# the evaluate rule: one job per training job (one torch start-up for all its runs); it leaves a
# cell's metrics here and link_metrics links them into ANALYSIS_DIR
EVALUATION_DIR = path(RESULTS, "evaluation", TRAINING_GROUP)
EVALUATION_CELL_DIR = path(EVALUATION_DIR, "lr~{lr}", "seed~{seed}")
SUMMARY_CSV = path(RESULTS, "summary", "runs.csv")
LR_FILTER_CSV = path(RESULTS, "summary", "lr_filter", "{dataset}.csv")
FIGURES = path(RESULTS, "figures")
FIGURE = path(FIGURES, "{figure}")
TABLES = path(RESULTS, "tables")
LOGS = path(RESULTS, "logs")
BENCHMARKS = path(RESULTS, "benchmarks")


def log_file(*parts):
    return path(LOGS, *parts) + ".log"


def benchmark_file(*parts):
    return path(BENCHMARKS, *parts) + ".tsv"


def table_outputs(table, caption, **extensions):
    """The files of one table as a named multiext (csv=".csv", ...); the first one goes into the
    HTML report (Tables), captioned by ``caption`` (a path relative to the rule file).
    """
    files = multiext(path(TABLES, table), **extensions)
    files[0] = report(
        files[0], caption=caption, category="Tables", labels={"table": table}
    )
    return files


def _names(key):
    return sorted({name for preset in PRESETS.values() for name in preset[key]})


def recipe_labels():
    """Every recipe name, and every grid recipe label (RECIPE+TAG of a tagged experiment)."""
    labels = {label for grid in GRIDS.values() for label in grid["recipe"]}
    return sorted(set(_names("recipes")) | labels)


wildcard_constraints:
    preset="|".join(PRESETS),
    dataset="|".join(_names("datasets")),
    model="|".join(_names("models")),
    recipe="|".join(map(re.escape, recipe_labels())),
    lr=r"[0-9.eE+-]+",
    intervention=r"none|[a-z_0-9]+=[0-9.eE+-]+",
    seed=r"\d+",
    source="|".join(SOURCES),


# ---- the preset, the cell, the grid -----------------------------------------------------
def preset_of(wildcards):
    return PRESETS[wildcards.preset]


def cell_of(wildcards):
    """The grid row of a run, typed as in the grid."""
    return {
        "dataset": wildcards.dataset,
        "model": wildcards.model,
        "recipe": wildcards.recipe,
        "lr": float(wildcards.lr),
        "intervention": wildcards.intervention,
        "seed": int(wildcards.seed),
    }


def cell_paths(preset, template, **selection):
    """``template`` (with a {cell} field) for every grid cell of ``preset`` matching ``selection``."""
    grid = select_cells(GRIDS[preset], selection)
    cells = Paramspace(grid).instance_patterns if len(grid) else []
    return [template.format(preset=preset, cell=cell) for cell in cells]


def cell_files(preset, name, **selection):
    """A run's file ``name`` (run.json, model.pt, ...: runs/) or an analysis file (analysis/) of
    every selected cell."""
    folder = "runs" if name in RUN_FOLDER_FILES else "analysis"
    return cell_paths(preset, path(RESULTS, folder, "{cell}", name), **selection)


RUN_FOLDER_FILES = ("run.json", "model.pt", "history.csv", "snapshots.pt")


def run_records(preset, **selection):
    return cell_files(preset, "run.json", **selection)


def metric_records(preset, **selection):
    return cell_files(preset, "metrics.json", **selection)


def attributed_datasets(preset):
    """Datasets whose every run is attributed for summary/runs.csv (analysis.attribution_datasets)."""
    chosen = PRESETS[preset]["analysis"].get("attribution_datasets")
    return sorted(set(GRIDS[preset]["dataset"])) if chosen is None else list(chosen)


# ---- params: one named function per preset setting a rule passes to its script ----------
def dataset_spec(wildcards):
    return preset_of(wildcards)["datasets"][wildcards.dataset]


def data_root(wildcards):
    return preset_of(wildcards)["data_root"]


def download(wildcards):
    return preset_of(wildcards)["download"]


def dataset_sources(wildcards):
    """generate_dataset: the source listings (download_source) of the MNIST / CIFAR files it reads."""
    generator = dataset_spec(wildcards)["generator"]
    return [
        SOURCE_FILE.format(preset=wildcards.preset, source=source)
        for source in GENERATOR_SOURCES.get(generator, ())
    ]


def model_spec(wildcards):
    return preset_of(wildcards)["models"][wildcards.model]


def recipe_spec(wildcards):
    return preset_of(wildcards)["recipes"][recipe_name(wildcards.recipe)]


def device(wildcards):
    return preset_of(wildcards)["device"]


def analysis_settings(wildcards):
    return preset_of(wildcards)["analysis"]


def analysis_with_method(wildcards):
    """attribute_with_method: the preset's analysis settings with the rule's attribution method."""
    return {**analysis_settings(wildcards), "attribution_method": wildcards.method}


def segmenter(wildcards):
    return analysis_settings(wildcards)["segmenter"]


def max_acc_drop(wildcards):
    return analysis_settings(wildcards)["max_acc_drop"]


def gallery_samples(wildcards):
    return analysis_settings(wildcards)["gallery_samples"]


def preset_figures(wildcards):
    return preset_of(wildcards)["figures"]


def all_presets(wildcards):
    """Every resolved preset (the figure inventory names the presets that build each panel)."""
    return PRESETS


def figure_spec(wildcards):
    return preset_figures(wildcards)[wildcards.figure]


def figure_caption(wildcards):
    return paper_caption(wildcards.figure)


def model_archs(wildcards):
    """Config model name → architecture key used by the paper's tables (fcn, cnn, resnet18, ...)."""
    models = preset_of(wildcards)["models"]
    return {name: spec.get("name", spec["arch"]) for name, spec in models.items()}


# ---- resources of the rules that run a torch model (snakemake-workflows convention) -----
# mem_mb, runtime (minutes) and gpu_mem_mb (device memory) of one job: at full scale (presets with
# `scale: full`, the paper preset: full data and ResNet/WRN models on one GPU of a cluster node)
# and at reduced scale (ci, demo, gpu). A profile's set-resources still overrides them
# (profiles/slurm). A retry (attempt k) asks k times the runtime and memory (runtime at most the
# preset's max_job_minutes).
# rule: {resource: (full scale, reduced scale)}. train_group trains every LR x seed of a group
# (at full scale its runtime comes from largelr.training.cost, see train_job_runtime); mem_mb and
# gpu_mem_mb are at least what the job's dataset needs (data_mb: the uint8 splits on the training
# device, 27.5 GB for CelebA at 224 px, plus headroom); dynamics runs one attribution pass per
# snapshot; landscape points x points full passes over the training subset;
# background_attribution DeepLabV3-ResNet50 on the attributed samples.
RULE_RESOURCES = {
    "generate_dataset": {"mem_mb": (32000, 4000), "runtime": (120, 30)},
    "train_group": {
        "mem_mb": (32000, 8000),
        "runtime": (720, 240),
        "gpu_mem_mb": (24000, 2000),
    },
    "evaluate": {
        "mem_mb": (32000, 4000),
        "runtime": (120, 30),
        "gpu_mem_mb": (16000, 2000),
    },
    "attribute": {
        "mem_mb": (16000, 4000),
        "runtime": (60, 30),
        "gpu_mem_mb": (8000, 2000),
    },
    "attribute_with_method": {
        "mem_mb": (16000, 4000),
        "runtime": (60, 30),
        "gpu_mem_mb": (8000, 2000),
    },
    "prune": {
        "mem_mb": (16000, 4000),
        "runtime": (120, 30),
        "gpu_mem_mb": (16000, 2000),
    },
    "dynamics": {
        "mem_mb": (32000, 4000),
        "runtime": (240, 60),
        "gpu_mem_mb": (16000, 2000),
    },
    "landscape": {
        "mem_mb": (32000, 4000),
        "runtime": (240, 60),
        "gpu_mem_mb": (16000, 2000),
    },
    "background_attribution": {"mem_mb": (16000, 4000), "runtime": (60, 30)},
}
# a full-scale training job asks RUNTIME_SAFETY x its estimate, at least MIN_TRAIN_RUNTIME minutes
RUNTIME_SAFETY = 1.5
MIN_TRAIN_RUNTIME = 30


def full_scale(preset):
    return PRESETS[preset]["scale"] == "full"


def preset_scale(wildcards):
    """figure: the preset's scale (full or reduced), for the figure's footer."""
    return PRESETS[wildcards.preset]["scale"]


def scaled_resource(rule, resource, preset):
    return RULE_RESOURCES[rule][resource][0 if full_scale(preset) else 1]


def data_mb(rule, wildcards, where):
    """MB the job's dataset needs in RAM (host) or on the GPU (device), from its size in the preset
    (image_size, split sizes; largelr.training.cost.data_memory_mb)."""
    spec = PRESETS[wildcards.preset]["datasets"][wildcards.dataset]
    return data_memory_mb(spec, where, trains=rule == "train_group")


def rule_mem_mb(rule):
    """resources: mem_mb of ``rule`` for a job's preset (RULE_RESOURCES, at least what its dataset
    needs in RAM), times the attempt."""

    def mem_mb(wildcards, attempt):
        floor = scaled_resource(rule, "mem_mb", wildcards.preset)
        return max(floor, data_mb(rule, wildcards, "host")) * attempt

    return mem_mb


def rule_runtime(rule):
    """resources: runtime (minutes) of ``rule`` for a job's preset (RULE_RESOURCES), times the
    attempt, at most the preset's max_job_minutes."""

    def runtime(wildcards, attempt):
        limit = PRESETS[wildcards.preset]["max_job_minutes"]
        return min(limit, scaled_resource(rule, "runtime", wildcards.preset) * attempt)

    return runtime


def rule_gpu_mem_mb(rule):
    """resources: gpu_mem_mb of ``rule`` (device memory, MB) for a CUDA job, else 0. With a global
    gpu_mem_mb (profiles/default: the device's memory) the jobs that share the GPU fit on it.
    """

    def gpu_mem_mb(wildcards):
        floor = scaled_resource(rule, "gpu_mem_mb", wildcards.preset)
        return max(floor, data_mb(rule, wildcards, "device")) * gpu(wildcards)

    return gpu_mem_mb


@functools.cache
def cuda_available():
    """torch.cuda.is_available(), the test of `device: auto`. Importing torch takes seconds, so a
    machine without a GPU driver's tool (nvidia-smi, or rocm-smi for ROCm builds of torch) on
    PATH, or with CUDA_VISIBLE_DEVICES empty, answers False without importing it."""
    if os.environ.get("CUDA_VISIBLE_DEVICES") in ("", "-1"):
        return False
    if not (shutil.which("nvidia-smi") or shutil.which("rocm-smi")):
        return False
    import torch

    return torch.cuda.is_available()


def gpu(wildcards):
    """resources: gpu_jobs: 1 where the preset's device resolves to CUDA (`cuda`, or `auto` with
    CUDA available), else 0. Every CUDA job takes one of the GPU's job slots: the default
    profile's `resources: [gpu_jobs=4, ...]` lets 4 jobs share the device (README)."""
    name = preset_of(wildcards)["device"]
    return int(name == "cuda" or (name == "auto" and cuda_available()))


# ---- training -----------------------------------------------------------------------------
# A training group is one job ({part} = "", manifest group.json) unless its cells train one
# after another and its estimated time (largelr.training.cost, x RUNTIME_SAFETY) exceeds the
# preset's max_job_minutes: then consecutive cells form jobs ".part-1", ".part-2", ... within
# the limit (group.part-K.json). Each cell trains alone either way, so a split changes no result.
def _whole_group(preset, dataset, model, recipe, intervention):
    return select_cells(
        GRIDS[preset],
        dataset=dataset,
        model=model,
        recipe=recipe,
        intervention=intervention,
    )


@functools.cache
def training_jobs(preset, dataset, model, recipe, intervention):
    """The jobs of a training group: {part ("" = the whole group): positions of its cells in
    the group's rows}."""
    rows = _whole_group(preset, dataset, model, recipe, intervention).to_dict("records")
    whole = {"": list(range(len(rows)))}
    settings = PRESETS[preset]
    limit = settings["max_job_minutes"] / RUNTIME_SAFETY
    if not full_scale(preset):
        return whole
    parts = group_parts(settings, rows, limit)
    if len(parts) == 1:
        return whole
    return {f".part-{k}": cells for k, cells in enumerate(parts, start=1)}


def _group_key(wildcards):
    keys = ("preset", "dataset", "model", "recipe", "intervention")
    return tuple(getattr(wildcards, key) for key in keys)


def _group_rows(wildcards):
    """The grid rows of one training job (every cell of the group for part "")."""
    rows = _whole_group(*_group_key(wildcards))
    part = getattr(wildcards, "part", "")
    return rows.iloc[training_jobs(*_group_key(wildcards))[part]] if part else rows


def training_engine(wildcards):
    """train_group: training.engine of the job; the part of a split group trains as the whole
    group would (one after another, or as a smaller stack)."""
    engine = group_trainings(wildcards)[0]["engine"]
    rows = _group_rows(wildcards).to_dict("records")
    alone = trains_one_after_another(PRESETS[wildcards.preset], rows)
    return "sequential" if wildcards.part and alone else engine


def train_job_runtime(wildcards, attempt):
    """train_group: runtime (minutes). Full scale: RUNTIME_SAFETY x the job's estimate on one GPU
    (largelr.training.cost), at least MIN_TRAIN_RUNTIME; reduced scale: RULE_RESOURCES. Times
    the attempt, at most max_job_minutes."""
    preset = PRESETS[wildcards.preset]
    if not full_scale(wildcards.preset):
        return rule_runtime("train_group")(wildcards, attempt)
    estimate = estimate_group_minutes(preset, _group_rows(wildcards).to_dict("records"))
    minutes = max(MIN_TRAIN_RUNTIME, math.ceil(RUNTIME_SAFETY * estimate))
    return min(preset["max_job_minutes"], minutes * attempt)


def group_grid(wildcards):
    """The cells of one training group (every LR and seed of a (dataset, model, recipe, intervention))."""
    return [
        {**row, "lr": float(row["lr"]), "seed": int(row["seed"])}
        for row in _group_rows(wildcards).to_dict("records")
    ]


def group_trainings(wildcards):
    """The ``training`` settings of every cell of a training group (cell order of group_grid)."""
    return [cell_training(preset_of(wildcards), cell) for cell in group_grid(wildcards)]


def _job_cells(wildcards):
    """The cells of one training job (cell order of group_grid), as {wildcard: value} strings."""
    patterns = Paramspace(_group_rows(wildcards)).instance_patterns
    return [
        dict(part.split("~", 1) for part in pattern.split("/")) for pattern in patterns
    ]


def group_cell_dirs(wildcards):
    """Where the group job leaves each cell's run files (cell order of group_grid)."""
    return [
        GROUP_CELL_DIR.format(**{**wildcards, **cell}) for cell in _job_cells(wildcards)
    ]


def _job_part(wildcards):
    """The part ("" or .part-K) of the training job that trains one cell."""
    rows = _whole_group(*_group_key(wildcards)).to_dict("records")
    position = next(
        i
        for i, row in enumerate(rows)
        if float(row["lr"]) == float(wildcards.lr)
        and int(row["seed"]) == int(wildcards.seed)
    )
    jobs = training_jobs(*_group_key(wildcards))
    return next(name for name, cells in jobs.items() if position in cells)


def group_manifest(wildcards):
    """link_run (one cell): the manifest of the training job (group or part) that trains the cell."""
    return path(TRAINING_DIR, "group{part}.json").format(
        **wildcards, part=_job_part(wildcards)
    )


def cell_in_group(wildcards):
    return GROUP_CELL_DIR.format(**wildcards)


def job_runs(wildcards):
    """evaluate (one training job): the dataset and the run.json and model.pt of each of its cells."""
    folders = [
        RUN_DIR.format(**{**wildcards, **cell}) for cell in _job_cells(wildcards)
    ]
    return {
        "dataset": DATASET_FILE.format(**wildcards),
        "runs": [path(folder, "run.json") for folder in folders],
        "models": [path(folder, "model.pt") for folder in folders],
    }


def job_evaluation_dirs(wildcards):
    """evaluate: where each cell's metrics.json goes (cell order of job_runs)."""
    return [
        EVALUATION_CELL_DIR.format(**{**wildcards, **cell})
        for cell in _job_cells(wildcards)
    ]


def evaluation_manifest(wildcards):
    """link_metrics (one cell): the manifest of the evaluate job of the cell's training job."""
    return path(EVALUATION_DIR, "group{part}.json").format(
        **wildcards, part=_job_part(wildcards)
    )


def cell_evaluation(wildcards):
    return path(EVALUATION_CELL_DIR, "metrics.json").format(**wildcards)


def job_runtime(rule, batch=None):
    """resources: runtime of a job that analyses the runs of a training job (every run, or those of
    ``batch``): RULE_RESOURCES' time per run, times the runs and the attempt, at most the preset's
    max_job_minutes."""

    def runtime(wildcards, attempt):
        per_run = scaled_resource(rule, "runtime", wildcards.preset)
        limit = PRESETS[wildcards.preset]["max_job_minutes"]
        runs = len(_batch_cells(batch, wildcards) if batch else _group_rows(wildcards))
        return min(limit, per_run * runs * attempt)

    return runtime


# ---- per-run analyses, one job per training job and batch (largelr.analysis_jobs) ---------
def batch_path(batch, *parts):
    """A file of a batched analysis job (batch: attribution, attribution_{method}, pruning, ...)."""
    return path(RESULTS, "batched", batch, TRAINING_GROUP, *parts)


@functools.cache
def requested_analyses(preset):
    """{batch: cell patterns}: the runs whose per-run analysis files the preset's targets read."""
    files = flat_files(summary_inputs(SimpleNamespace(preset=preset)))
    for figure in PRESETS[preset]["figures"]:
        files += flat_files(
            figure_inputs(SimpleNamespace(preset=preset, figure=figure))
        )
    groups = {m.groups() for f in files for m in [GROUP_FILE.search(f)] if m}
    for dataset, model, recipe in sorted(groups):
        names = SimpleNamespace(
            preset=preset, dataset=dataset, model=model, recipe=recipe
        )
        files += flat_files(group_inputs(names))
    return requested_cells(files, path(RESULTS, "analysis").format(preset=preset))


GROUP_FILE = re.compile(r"/groups/dataset~([^/]+)/model~([^/]+)/recipe~([^/]+)/")


def _batch_cells(batch, wildcards):
    """The cells of one training job that ``batch`` analyses (cell order of group_grid)."""
    requested = requested_analyses(wildcards.preset).get(batch.format(**wildcards), ())
    patterns = Paramspace(_group_rows(wildcards)).instance_patterns
    return [cell for cell, p in zip(_job_cells(wildcards), patterns) if p in requested]


def batch_inputs(batch, name="model.pt"):
    """A batched analysis job: the dataset and the run.json and ``name`` (in runs/, or in analysis/
    for attribution_maps.npz) of each of its cells."""

    def inputs(wildcards):
        cells = [{**wildcards, **cell} for cell in _batch_cells(batch, wildcards)]
        folder = ANALYSIS_DIR if name == "attribution_maps.npz" else RUN_DIR
        return {
            "dataset": DATASET_FILE.format(**wildcards),
            "runs": [path(RUN_DIR, "run.json").format(**cell) for cell in cells],
            INPUT_KEYS[name]: [path(folder, name).format(**cell) for cell in cells],
        }

    return inputs


INPUT_KEYS = {
    "model.pt": "models",
    "snapshots.pt": "snapshots",
    "attribution_maps.npz": "maps",
}


def batch_output_dirs(batch):
    """A batched analysis job: the folder of each cell's files (cell order of batch_inputs)."""

    def folders(wildcards):
        cell_dir = batch_path(batch, "lr~{lr}", "seed~{seed}")
        return [
            cell_dir.format(**{**wildcards, **cell})
            for cell in _batch_cells(batch, wildcards)
        ]

    return folders


def batch_manifest(batch):
    """link_* (one cell): the manifest of the batched job of the cell's training job (its part)."""

    def manifest(wildcards):
        part = _job_part(wildcards)
        return batch_path(batch, "group{part}.json").format(**wildcards, part=part)

    return manifest


def batch_cell_dir(batch):
    """link_*: where the batched job left one cell's files."""
    return lambda wildcards: batch_path(batch, "lr~{lr}", "seed~{seed}").format(
        **wildcards
    )


# link_*: each output of a cell, hard-linked (or copied across file systems) from its batch folder
LINK_FILES = (
    'for out in {output:q}; do src={params.source:q}/$(basename "$out");'
    ' ln -f "$src" "$out" 2>/dev/null || cp -p "$src" "$out"; done;'
    " echo 'linked {params.source}' > {log:q}"
)


# ---- analyses -----------------------------------------------------------------------------
def summary_inputs(wildcards):
    """summarize: every run's run.json and metrics.json, and the attributions of the attributed datasets."""
    preset, attributed = wildcards.preset, attributed_datasets(wildcards.preset)
    return {
        "runs": run_records(preset),
        "metrics": metric_records(preset),
        "attribution_runs": run_records(preset, dataset=attributed),
        "attributions": cell_files(preset, "attribution.json", dataset=attributed),
    }


def dataset_runs(wildcards):
    """filter_learning_rates: the run.json and metrics.json of every run on one dataset."""
    preset, dataset = wildcards.preset, wildcards.dataset
    return {
        "runs": run_records(preset, dataset=dataset),
        "metrics": metric_records(preset, dataset=dataset),
    }


def group_inputs(wildcards):
    """select_hard_samples: every plain run of one (dataset, model, recipe) and its attribution maps."""
    preset, selection = wildcards.preset, {
        "dataset": wildcards.dataset,
        "model": wildcards.model,
        "recipe": wildcards.recipe,
        "intervention": "none",
    }
    return {
        "dataset": DATASET_FILE.format(preset=preset, dataset=wildcards.dataset),
        "runs": run_records(preset, **selection),
        "maps": cell_files(preset, "attribution_maps.npz", **selection),
        "lr_filter": LR_FILTER_CSV.format(preset=preset, dataset=wildcards.dataset),
    }


# ---- figures and tables -------------------------------------------------------------------
# One rule, `figure`, draws every figure through its kind (largelr.figures.kinds): the kind
# names the files of the cells it draws, given where this workflow keeps them (input_paths).
FIGURE_NAMES = "|".join(sorted(FIGURE_KINDS)) or "(?!)"


@functools.cache
def input_paths(preset):
    """Where the files a figure of ``preset`` reads lie (largelr.figures.kind.InputPaths)."""

    def cells(name, selections):
        return [
            p for selection in selections for p in cell_files(preset, name, **selection)
        ]

    def group(name, dataset, model, recipe):
        files = dict(dataset=dataset, model=model, recipe=recipe)
        return path(GROUP_DIR, name).format(preset=preset, **files)

    return InputPaths(
        cells=cells,
        dataset=lambda dataset: DATASET_FILE.format(preset=preset, dataset=dataset),
        lr_filter=lambda dataset: LR_FILTER_CSV.format(preset=preset, dataset=dataset),
        group=group,
    )


def figure_kind_name(wildcards):
    return FIGURE_KINDS[wildcards.figure]


def figure_inputs(wildcards):
    """figure: the input files of one figure, named by its kind (``FigureKind.inputs``)."""
    kind = figure_kind(figure_kind_name(wildcards))
    grid = GRIDS[wildcards.preset]
    return kind.inputs(figure_spec(wildcards), grid, input_paths(wildcards.preset))


def figure_kind_params(wildcards):
    """figure: what the kind's drawing needs of the grid (``FigureKind.params``)."""
    kind = figure_kind(figure_kind_name(wildcards))
    return kind.params(figure_spec(wildcards), GRIDS[wildcards.preset])


def figure_kind_caption(wildcards):
    """figure: the report caption of the figure's kind, for this figure."""
    caption = figure_kind(figure_kind_name(wildcards)).caption
    return caption.format(figure=wildcards.figure)


def lr_filter_files(wildcards):
    datasets = sorted(set(GRIDS[wildcards.preset]["dataset"]))
    return [LR_FILTER_CSV.format(preset=wildcards.preset, dataset=d) for d in datasets]


def has_interventions(preset):
    return (GRIDS[preset]["intervention"] != "none").any()


def final_outputs(preset):
    """Everything the default target builds for ``preset``: the summary table and every figure."""
    files = [SUMMARY_CSV] + [
        LR_FILTER_CSV.replace("{dataset}", d)
        for d in sorted(set(GRIDS[preset]["dataset"]))
    ]
    tables = {"table1": (".csv", ".md", ".tex"), "claims": (".csv", ".md")}
    if has_interventions(preset):
        tables["table2"] = (".csv", ".md", ".tex")
    files += [
        path(TABLES, table) + ext
        for table, extensions in tables.items()
        for ext in extensions
    ]
    files += [path(FIGURES, "inventory") + ext for ext in (".csv", ".md")]
    files += [
        path(FIGURES, figure) + ext
        for figure in PRESETS[preset]["figures"]
        for ext in (".pdf", ".png")
    ]
    return [file.replace("{preset}", preset) for file in files]
