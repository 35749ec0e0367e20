# Every path and input function of the workflow lives here (STYLE: one place for paths).
import os
import sys
from pathlib import Path

from snakemake.utils import Paramspace

# The package lives in src/; jobs (also conda and cluster jobs) find it through PYTHONPATH.
SRC = str(Path(workflow.basedir) / "src")
sys.path.insert(0, SRC)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p)

from largelr.config import (
    cell_training,
    figure_datasets,
    figure_kinds,
    resolve_config,
    training_grid,
)
from largelr.columns import ATTRIBUTION_COLUMNS
from largelr.figures.names import DISPLAY_NAMES
from largelr.reporting.inventory import paper_caption
from largelr.io import link_files as link_run_files

# ---- configuration: validated before any job starts, every preset -----------------------
PRESETS = resolve_config(config, Path(workflow.basedir) / "workflow" / "schemas")

GRIDS = {name: training_grid(preset) for name, preset in PRESETS.items()}
FIGURE_KINDS = figure_kinds(PRESETS)
PARAMSPACES = {name: Paramspace(grid) for name, grid in GRIDS.items()}

# ---- paths ------------------------------------------------------------------------------
CELL = next(iter(PARAMSPACES.values())).wildcard_pattern  # dataset~{dataset}/model~{model}/...
RESULTS = "results/{preset}"
DATASET_FILE = RESULTS + "/data/{dataset}.npz"
RUN_DIR = RESULTS + "/runs/" + CELL
ANALYSIS_DIR = RESULTS + "/analysis/" + CELL
# analyses of a group of runs: every LR and seed of one (dataset, model, optimizer)
GROUP_DIR = RESULTS + "/groups/dataset~{dataset}/model~{model}/optimizer~{optimizer}"
# one training job per training group: every LR and seed of one (dataset, model, optimizer, hp)
TRAINING_GROUP = "dataset~{dataset}/model~{model}/optimizer~{optimizer}/hp~{hp}"
TRAINING_DIR = RESULTS + "/training/" + TRAINING_GROUP
# where the group job leaves a cell's run files (the train rule links them into RUN_DIR)
GROUP_CELL_DIR = TRAINING_DIR + "/lr~{lr}/seed~{seed}"
SUMMARY_CSV = RESULTS + "/summary/runs.csv"
LR_FILTER_CSV = RESULTS + "/summary/lr_filter/{dataset}.csv"
FIGURE = RESULTS + "/figures/{figure}"
TABLE = RESULTS + "/tables/{table}"
LOGS = RESULTS + "/logs"
BENCHMARKS = RESULTS + "/benchmarks"


def _names(key):
    return sorted({name for preset in PRESETS.values() for name in preset[key]})


wildcard_constraints:
    preset="|".join(PRESETS),
    dataset="|".join(_names("datasets")),
    model="|".join(_names("models")),
    optimizer="|".join(_names("optimizers")),
    lr=r"[0-9.eE+-]+",
    hp=r"none|[a-z_0-9]+=[0-9.eE+-]+",
    seed=r"\d+",


# ---- input functions and params ---------------------------------------------------------
def training_of(wildcards):
    return cell_training(preset_of(wildcards), cell_of(wildcards))


def _group_rows(wildcards):
    grid = GRIDS[wildcards.preset]
    return grid[(grid["dataset"] == wildcards.dataset) & (grid["model"] == wildcards.model)
                & (grid["optimizer"] == wildcards.optimizer) & (grid["hp"] == wildcards.hp)]


def group_grid(wildcards):
    """The cells of one training group (every LR and seed of a (dataset, model, optimizer, hp))."""
    return [{**row, "lr": float(row["lr"]), "seed": int(row["seed"])}
            for row in _group_rows(wildcards).to_dict("records")]


def group_trainings(wildcards):
    """The ``training`` settings of every cell of a training group (cell order of group_grid)."""
    return [cell_training(preset_of(wildcards), cell) for cell in group_grid(wildcards)]


def group_cell_dirs(wildcards):
    """Where the group job leaves each cell's run files (cell order of group_grid)."""
    patterns = Paramspace(_group_rows(wildcards)).instance_patterns
    cells = [dict(part.split("~", 1) for part in pattern.split("/")) for pattern in patterns]
    return [GROUP_CELL_DIR.format(**{**wildcards, **cell}) for cell in cells]


def group_manifest(wildcards):
    """train (one cell): the manifest of the group job that trains the cell."""
    return TRAINING_DIR.format(**wildcards) + "/group.json"


def cell_in_group(wildcards):
    return GROUP_CELL_DIR.format(**wildcards)


def figures_of_kind(kind):
    """Wildcard pattern matching the figure names of one kind (keeps figure rules unambiguous)."""
    return "|".join(sorted(f for f, k in FIGURE_KINDS.items() if k == kind)) or "(?!)"


def preset_of(wildcards):
    return PRESETS[wildcards.preset]


def cell_of(wildcards):
    """The grid row of a run, typed as in the grid."""
    return {
        "dataset": wildcards.dataset,
        "model": wildcards.model,
        "optimizer": wildcards.optimizer,
        "lr": float(wildcards.lr),
        "hp": wildcards.hp,
        "seed": int(wildcards.seed),
    }


def cell_paths(preset, template, **selection):
    """``template`` (with a {cell} field) for every grid cell of ``preset`` matching ``selection``."""
    grid = GRIDS[preset]
    for key, value in selection.items():
        grid = grid[grid[key].isin(value) if isinstance(value, (list, tuple, set)) else grid[key] == value]
    cells = Paramspace(grid).instance_patterns if len(grid) else []
    return [template.format(preset=preset, cell=cell) for cell in cells]


def run_records(preset, **selection):
    return cell_paths(preset, RESULTS + "/runs/{cell}/run.json", **selection)


def metric_records(preset, **selection):
    return cell_paths(preset, RESULTS + "/analysis/{cell}/metrics.json", **selection)


def figure_spec(wildcards):
    return PRESETS[wildcards.preset]["figures"][wildcards.figure]


def example_datasets(wildcards):
    datasets = figure_datasets(figure_spec(wildcards))
    return {name: DATASET_FILE.format(preset=wildcards.preset, dataset=name) for name in datasets}


def attributed_datasets(preset):
    """Datasets whose every run is attributed for summary/runs.csv (analysis.attribution_datasets)."""
    chosen = PRESETS[preset]["analysis"].get("attribution_datasets")
    return sorted(set(GRIDS[preset]["dataset"])) if chosen is None else list(chosen)


# Metrics that live in an optional per-run analysis file rather than metrics.json.
METRIC_FILE = {
    **{name: "attributions" for name in ATTRIBUTION_COLUMNS},
    "param_qk_compressibility": "pruning",
    "param_pq_index": "pruning",
    "background_attribution": "background",
}
RUN_FILE_NAMES = {"attributions": "attribution.json", "pruning": "pruning.json", "background": "background.json"}


def figure_selection(spec, hp="none"):
    """Grid selection of a figure's runs: its optimizer, its model if given, plain cells by default."""
    selection = {"optimizer": spec["optimizer"], **({"model": spec["model"]} if "model" in spec else {})}
    return {**selection, "hp": hp} if hp is not None else selection


def per_run_inputs(preset, datasets, selection, kinds=()):
    """run.json and metrics.json (and the named optional analysis files) of the selected runs."""
    inputs = {
        "runs": [p for d in datasets for p in run_records(preset, dataset=d, **selection)],
        "metrics": [p for d in datasets for p in metric_records(preset, dataset=d, **selection)],
    }
    for kind in kinds:
        inputs[kind] = [p for d in datasets for p in cell_paths(
            preset, RESULTS + "/analysis/{cell}/" + RUN_FILE_NAMES[kind], dataset=d, **selection)]
    return inputs


def figure_inputs(wildcards):
    """lr_sweep figures: the plain (no-intervention) runs of the figure's datasets (and model)."""
    spec, preset = figure_spec(wildcards), wildcards.preset
    datasets = figure_datasets(spec)
    kinds = sorted({METRIC_FILE[m] for m in spec.get("metrics", []) if m in METRIC_FILE})
    return {
        **per_run_inputs(preset, datasets, figure_selection(spec), kinds),
        "lr_filters": lr_filter_inputs(preset, datasets),
    }


def lr_filter_inputs(preset, datasets):
    return [LR_FILTER_CSV.format(preset=preset, dataset=d) for d in datasets]


def intervention_figure_inputs(wildcards):
    """interventions figures: the plain and the intervention runs of the figure's datasets."""
    spec, datasets = figure_spec(wildcards), figure_datasets(figure_spec(wildcards))
    return {**per_run_inputs(wildcards.preset, datasets, figure_selection(spec, hp=None)),
            "lr_filters": lr_filter_inputs(wildcards.preset, datasets)}


def bc_ratio_figure_inputs(wildcards):
    spec, datasets = figure_spec(wildcards), figure_datasets(figure_spec(wildcards))
    return {**per_run_inputs(wildcards.preset, datasets, figure_selection(spec)),
            "lr_filters": lr_filter_inputs(wildcards.preset, datasets)}


def figure_groups(wildcards):
    """(dataset, model) pairs of a figure, in the order of its datasets: its model or every model."""
    spec, grid = figure_spec(wildcards), GRIDS[wildcards.preset]
    pairs = []
    for dataset in figure_datasets(spec):
        rows = grid[(grid["dataset"] == dataset) & (grid["optimizer"] == spec["optimizer"]) & (grid["hp"] == "none")]
        models = [spec["model"]] if "model" in spec else sorted(rows["model"].unique())
        pairs += [(dataset, model) for model in models if (rows["model"] == model).any()]
    return pairs


def gallery_figure_inputs(wildcards):
    spec = figure_spec(wildcards)
    return {"galleries": [GROUP_DIR.format(preset=wildcards.preset, dataset=d, model=m, optimizer=spec["optimizer"])
                          + "/gallery.npz" for d, m in figure_groups(wildcards)]}


def gallery_labels(wildcards):
    return [f"{DISPLAY_NAMES.get(d, d)} · {m}" for d, m in figure_groups(wildcards)]


def group_inputs(wildcards):
    """select_hard_samples: every plain run of one (dataset, model, optimizer) and its attribution maps."""
    preset, selection = wildcards.preset, {"dataset": wildcards.dataset, "model": wildcards.model,
                                           "optimizer": wildcards.optimizer, "hp": "none"}
    return {
        "dataset": DATASET_FILE.format(preset=preset, dataset=wildcards.dataset),
        "runs": run_records(preset, **selection),
        "maps": cell_paths(preset, RESULTS + "/analysis/{cell}/attribution_maps.npz", **selection),
        "lr_filter": LR_FILTER_CSV.format(preset=preset, dataset=wildcards.dataset),
    }


def chosen_cells(wildcards):
    """landscape / attribution_methods figures: the spec's LRs (default: the grid's smallest and
    largest) and seeds (default: the first) of each (dataset, model) of the figure."""
    spec, preset, grid = figure_spec(wildcards), wildcards.preset, GRIDS[wildcards.preset]
    selections = []
    for dataset, model in figure_groups(wildcards):
        rows = grid[(grid["dataset"] == dataset) & (grid["model"] == model) & (grid["hp"] == "none")
                    & (grid["optimizer"] == spec["optimizer"])]
        lrs = spec.get("lrs") or [rows["lr"].min(), rows["lr"].max()]
        seeds = spec.get("seeds") or [int(rows["seed"].min())]
        selections.append({"dataset": dataset, "model": model, "optimizer": spec["optimizer"], "hp": "none",
                           "lr": [float(lr) for lr in lrs], "seed": seeds})
    return selections


def chosen_paths(wildcards, name):
    return [p for s in chosen_cells(wildcards)
            for p in cell_paths(wildcards.preset, RESULTS + "/{folder}/{{cell}}/{name}".format(
                folder="runs" if name == "run.json" else "analysis", name=name), **s)]


def landscape_figure_inputs(wildcards):
    return {"runs": chosen_paths(wildcards, "run.json"), "landscapes": chosen_paths(wildcards, "landscape.npz")}


def attribution_methods_figure_inputs(wildcards):
    (dataset, _), *_ = figure_groups(wildcards)
    return {
        "runs": chosen_paths(wildcards, "run.json"),
        "ig": chosen_paths(wildcards, "attribution_maps_integrated_gradients.npz"),
        "deeplift": chosen_paths(wildcards, "attribution_maps_deeplift.npz"),
        "dataset": DATASET_FILE.format(preset=wildcards.preset, dataset=dataset),
    }


def dynamics_figure_inputs(wildcards):
    """dynamics figures: every seed of the low and high LR (the spec's `lrs`, default the grid's
    smallest and largest) of each (dataset, model) of the figure."""
    cells = [{**selection, "seed": sorted(set(GRIDS[wildcards.preset]["seed"]))}
             for selection in chosen_cells(wildcards)]
    paths = lambda name: [p for s in cells for p in cell_paths(  # noqa: E731
        wildcards.preset, RESULTS + ("/runs/{cell}/" if name == "run.json" else "/analysis/{cell}/") + name, **s)]
    return {"runs": paths("run.json"), "dynamics": paths("dynamics.csv"), "maps": paths("dynamics_maps.npz")}


def lr_filter_files(wildcards):
    datasets = sorted(set(GRIDS[wildcards.preset]["dataset"]))
    return [LR_FILTER_CSV.format(preset=wildcards.preset, dataset=d) for d in datasets]


def model_archs(wildcards):
    """Config model name → architecture key used by the paper's tables (fcn, cnn, resnet18, ...)."""
    models = preset_of(wildcards)["models"]
    return {name: spec.get("name", spec["arch"]) for name, spec in models.items()}


def pruning_figure_inputs(wildcards):
    spec, preset = figure_spec(wildcards), wildcards.preset
    selection, datasets = figure_selection(spec), figure_datasets(spec)
    return {
        "runs": [p for d in datasets for p in run_records(preset, dataset=d, **selection)],
        "pruning": [p for d in datasets for p in cell_paths(preset, RESULTS + "/analysis/{cell}/pruning.json",
                                                            dataset=d, **selection)],
    }


def final_outputs(preset):
    """Everything `rule all` builds for ``preset``: the summary table and every figure."""
    outputs = [SUMMARY_CSV.format(preset=preset)]
    outputs += [LR_FILTER_CSV.format(preset=preset, dataset=d) for d in sorted(set(GRIDS[preset]["dataset"]))]
    outputs += [TABLE.format(preset=preset, table="table1") + ext for ext in (".csv", ".md", ".tex")]
    outputs += [TABLE.format(preset=preset, table="claims") + ext for ext in (".csv", ".md")]
    if (GRIDS[preset]["hp"] != "none").any():
        outputs += [TABLE.format(preset=preset, table="table2") + ext for ext in (".csv", ".md", ".tex")]
    outputs += [RESULTS.format(preset=preset) + "/figures/inventory" + ext for ext in (".csv", ".md")]
    for figure in PRESETS[preset]["figures"]:
        outputs += [FIGURE.format(preset=preset, figure=figure) + ext for ext in (".pdf", ".png")]
    return outputs
