# Wiring: the workflow's wildcards to the package's planning (largelr.workflow: the path layout in
# paths, training jobs and resources in plan, downstream inputs in inputs). The rule files hold rules
# only; this file names what they call.
import os
import re
import sys
from pathlib import Path

# The package lives in src/; jobs (also conda and cluster jobs) find it through PYTHONPATH,
# which is set here (extended, not required: hence no `envvars:` directive).
SRC = str(Path(workflow.basedir) / "src")
sys.path.insert(0, SRC)
os.environ.update(
    PYTHONPATH=os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p)
)

from largelr.config import figure_kinds, recipe_name, resolve_config, run_preset
from largelr.datasets.download import GENERATOR_SOURCES, SOURCES
from largelr.portable import presets_environment
from largelr.reporting.inventory import paper_caption
from largelr.workflow.analysis_jobs import LINK_FILES
from largelr.workflow.inputs import WorkflowPlan
from largelr.workflow.paths import (
    ANALYSIS_DIR,
    CELL,
    DATASET_FILE,
    EVALUATION_CELL_DIR,
    EVALUATION_DIR,
    FIGURES,
    GROUP_CELL_DIR,
    GROUP_DIR,
    LR_FILTER_CSV,
    RUN_DIR,
    SOURCE_FILE,
    SUMMARY_CSV,
    TABLES,
    TRAINING_CURVES,
    TRAINING_DIR,
    TRAINING_JOB,
    TRAINING_PROGRESS,
    batch_path,
    benchmark_file,
    log_file,
    path,
)

# ---- configuration: validated before any job starts, every preset -----------------------
PRESETS = resolve_config(config, Path(workflow.basedir) / "workflow" / "schemas")
# the preset the default target builds: config["preset"], or its smoke (paper-smoke) with `smoke: true`
PRESET = run_preset(config)

# the presets whose jobs pin their CPU kernels (portable_numbers), for every job's start_job
os.environ.update(presets_environment(PRESETS))

FIGURE_KINDS = figure_kinds(PRESETS)
PLAN = WorkflowPlan(PRESETS, FIGURE_KINDS)
FIGURE_NAMES = "|".join(sorted(FIGURE_KINDS)) or "(?!)"


wildcard_constraints:
    preset="|".join(PRESETS),
    dataset="|".join(PLAN.names("datasets")),
    model="|".join(PLAN.names("models")),
    recipe="|".join(map(re.escape, PLAN.recipe_labels())),
    lr=r"[0-9.eE+-]+",
    intervention=r"none|[a-z_0-9]+=[0-9.eE+-]+",
    seed=r"\d+",
    source="|".join(SOURCES),


def table_outputs(table, caption, **extensions):
    """The files of one table as a named multiext (csv=".csv", ...); the first one goes into the
    HTML report (Tables), captioned by ``caption`` (a path relative to the rule file).
    """
    files = multiext(path(TABLES, table), **extensions)
    files[0] = report(
        files[0], caption=caption, category="Tables", labels={"table": table}
    )
    return files


# ---- params: one named function per preset setting a rule passes to its script ----------
preset_of = PLAN.preset_of


def setting(*keys):
    """params: the preset's setting at ``keys`` (a key "{wildcard}" takes the wildcard's value)."""

    def value(wildcards):
        found = preset_of(wildcards)
        for key in keys:
            found = found[key.format(**wildcards)]
        return found

    return value


dataset_spec = setting("datasets", "{dataset}")
data_root = setting("data_root")
download = setting("download")
model_spec = setting("models", "{model}")
device = setting("device")
analysis_settings = setting("analysis")
segmenter = setting("analysis", "segmenter")
max_acc_drop = setting("analysis", "max_acc_drop")
gallery_samples = setting("analysis", "gallery_samples")
preset_scale = setting("scale")  # figure: full or reduced, for the figure's footer


def dataset_sources(wildcards):
    """generate_dataset: the source listings (download_source) of the MNIST / CIFAR files it reads."""
    generator = dataset_spec(wildcards)["generator"]
    return [
        SOURCE_FILE.format(preset=wildcards.preset, source=source)
        for source in GENERATOR_SOURCES.get(generator, ())
    ]


def recipe_spec(wildcards):
    return preset_of(wildcards)["recipes"][recipe_name(wildcards.recipe)]


def analysis_with_method(wildcards):
    """attribute_with_method: the preset's analysis settings with the rule's attribution method."""
    return {**analysis_settings(wildcards), "attribution_method": wildcards.method}


def all_presets(wildcards):
    """Every resolved preset (the figure inventory names the presets that build each panel)."""
    return PRESETS


def figure_caption(wildcards):
    return paper_caption(wildcards.figure)


def model_archs(wildcards):
    """Config model name → architecture key used by the paper's tables (fcn, cnn, resnet18, ...)."""
    models = preset_of(wildcards)["models"]
    return {name: spec.get("name", spec["arch"]) for name, spec in models.items()}


def cell_in_group(wildcards):
    return GROUP_CELL_DIR.format(**wildcards)


def cell_evaluation(wildcards):
    return path(EVALUATION_CELL_DIR, "metrics.json").format(**wildcards)


# ---- resources, training jobs, inputs: largelr.workflow.plan / .inputs -------------------
rule_mem_mb = PLAN.rule_mem_mb
rule_runtime = PLAN.rule_runtime
rule_gpu_mem_mb = PLAN.rule_gpu_mem_mb
gpu = PLAN.gpu
job_runtime = PLAN.job_runtime
train_job_runtime = PLAN.train_job_runtime
training_jobs = PLAN.training_jobs
training_engine = PLAN.training_engine
group_grid = PLAN.group_grid
group_trainings = PLAN.group_trainings
group_cell_dirs = PLAN.group_cell_dirs
group_manifest = PLAN.group_manifest
job_runs = PLAN.job_runs
job_evaluation_dirs = PLAN.job_evaluation_dirs
evaluation_manifest = PLAN.evaluation_manifest
summary_inputs = PLAN.summary_inputs
dataset_runs = PLAN.dataset_runs
group_inputs = PLAN.group_inputs
figure_spec = PLAN.figure_spec
figure_kind_name = PLAN.figure_kind_name
figure_inputs = PLAN.figure_inputs
figure_kind_params = PLAN.figure_kind_params
figure_kind_caption = PLAN.figure_kind_caption
lr_filter_files = PLAN.lr_filter_files
curve_inputs = PLAN.curve_inputs
final_outputs = PLAN.final_outputs
# per-run analyses batched per training job (issue 25 item 3; LINK_FILES: the link_* rules' shell)
batch_inputs = PLAN.batch_inputs
batch_output_dirs = PLAN.batch_output_dirs
batch_manifest = PLAN.batch_manifest
batch_cell_dir = PLAN.batch_cell_dir
