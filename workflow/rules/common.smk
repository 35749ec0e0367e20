# Every path and input function of the workflow lives here (STYLE: one place for paths).
import os
import sys
from pathlib import Path

from snakemake.utils import Paramspace, validate

# The package lives in src/; jobs (also conda and cluster jobs) find it through PYTHONPATH.
SRC = str(Path(workflow.basedir) / "src")
sys.path.insert(0, SRC)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p)

from largelr.config import (
    cell_training,
    check_references,
    figure_datasets,
    figure_kinds,
    resolve_preset,
    training_grid,
)
from largelr.datasets.registry import check_params

# ---- configuration: validated before any job starts, every preset -----------------------
validate(config, schema="../schemas/config.schema.yaml")
PRESETS = {}
for _name in config["presets"]:
    _preset = resolve_preset(config, _name)
    try:
        validate(_preset, schema="../schemas/preset.schema.yaml")  # also fills defaults
    except Exception as error:
        raise ValueError(f"invalid preset 'presets.{_name}' (after overrides):\n{error}") from None
    check_references(_preset, _name)
    for _dataset, _spec in _preset["datasets"].items():
        check_params(_dataset, _spec)
    PRESETS[_name] = _preset
if config["preset"] not in PRESETS:
    raise ValueError(f"config key 'preset': unknown preset {config['preset']!r}; defined: {sorted(PRESETS)}")

GRIDS = {name: training_grid(preset) for name, preset in PRESETS.items()}
FIGURE_KINDS = figure_kinds(PRESETS)
PARAMSPACES = {name: Paramspace(grid) for name, grid in GRIDS.items()}

# ---- paths ------------------------------------------------------------------------------
CELL = next(iter(PARAMSPACES.values())).wildcard_pattern  # dataset~{dataset}/model~{model}/...
RESULTS = "results/{preset}"
DATASET_FILE = RESULTS + "/data/{dataset}.npz"
RUN_DIR = RESULTS + "/runs/" + CELL
ANALYSIS_DIR = RESULTS + "/analysis/" + CELL
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
        grid = grid[grid[key] == value]
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


def figure_inputs(wildcards):
    """Run records of the plain (no-intervention) cells of the figure's datasets (and model)."""
    spec, preset = figure_spec(wildcards), wildcards.preset
    selection = {"hp": "none", "optimizer": spec["optimizer"], **({"model": spec["model"]} if "model" in spec else {})}
    datasets = figure_datasets(spec)
    return {
        "runs": [path for d in datasets for path in run_records(preset, dataset=d, **selection)],
        "metrics": [path for d in datasets for path in metric_records(preset, dataset=d, **selection)],
        "lr_filters": [LR_FILTER_CSV.format(preset=preset, dataset=d) for d in datasets],
    }


def lr_filter_files(wildcards):
    datasets = sorted(set(GRIDS[wildcards.preset]["dataset"]))
    return [LR_FILTER_CSV.format(preset=wildcards.preset, dataset=d) for d in datasets]


def model_archs(wildcards):
    """Config model name → architecture key used by the paper's tables (fcn, cnn, resnet18, ...)."""
    models = preset_of(wildcards)["models"]
    return {name: spec.get("name", spec["arch"]) for name, spec in models.items()}


def pruning_figure_inputs(wildcards):
    spec, preset = figure_spec(wildcards), wildcards.preset
    selection = {"hp": "none", "optimizer": spec["optimizer"], **({"model": spec["model"]} if "model" in spec else {})}
    datasets = figure_datasets(spec)
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
    for figure in PRESETS[preset]["figures"]:
        outputs += [FIGURE.format(preset=preset, figure=figure) + ext for ext in (".pdf", ".png")]
    return outputs
