"""Where every file of the workflow lies: the path layout as templates (README "What you get").

Snakemake's wildcards stay ``{fields}``; ``str.format`` fills them. ``workflow/rules/*.smk``,
:mod:`largelr.monitor`, ``benchmarks/paper_cost.py`` and the tests read these templates, so the
layout is written once. A run (one grid cell of §4.2: dataset, model, recipe, LR, intervention,
seed) lives in ``runs/<cell>/``; its training group (every LR x seed of one dataset, model, recipe,
intervention) trains in one job, or in parts ``.part-K`` of a long group (:mod:`largelr.workflow.plan`).
"""

from __future__ import annotations

from largelr.columns import GRID_COLUMNS


def path(*parts: str) -> str:
    """One path from its parts, joined by '/' (wildcards stay {fields} for Snakemake)."""
    return "/".join(parts)


def cell_pattern(columns: list[str] = GRID_COLUMNS) -> str:
    """The folder of one cell, as Snakemake's ``Paramspace(grid).wildcard_pattern`` names it."""
    return path(*(f"{column}~{{{column}}}" for column in columns))


# one run: dataset~{dataset}/model~{model}/recipe~{recipe}/lr~{lr}/intervention~{intervention}/seed~{seed}
CELL = cell_pattern()
RESULTS = path("results", "{preset}")
DATASET_FILE = path(RESULTS, "data", "{dataset}.npz")
# the MNIST / CIFAR files found under data_root (rule download_source)
SOURCE_FILE = path(RESULTS, "data", "sources", "{source}.json")
RUN_DIR = path(RESULTS, "runs", CELL)
ANALYSIS_DIR = path(RESULTS, "analysis", CELL)
# the files of a run folder (runs/); every other per-cell file is an analysis file (analysis/)
RUN_FOLDER_FILES = ("run.json", "model.pt", "history.csv", "snapshots.pt")
# analyses of a group of runs: every LR and seed of one (dataset, model, recipe)
GROUP_DIR = path(RESULTS, "groups", "dataset~{dataset}", "model~{model}", "recipe~{recipe}")
# one training job per training group: every LR and seed of one (dataset, model, recipe, intervention)
TRAINING_GROUP = path("dataset~{dataset}", "model~{model}", "recipe~{recipe}", "intervention~{intervention}")
TRAINING_DIR = path(RESULTS, "training", TRAINING_GROUP)
# one training job: the whole group ({part} empty) or one part of a split group (.part-K)
TRAINING_JOB = f"{TRAINING_GROUP}{{part}}"
# the manifest a training job writes last (the job is done when it exists)
TRAINING_MANIFEST = path(TRAINING_DIR, "group{part}.json")
# a training job's progress file: one JSON line per model and log row, appended as it trains
# (largelr.progress_file; read by largelr status and largelr tensorboard), next to its manifest
TRAINING_PROGRESS = path(TRAINING_DIR, "group{part}.progress.jsonl")
# where the group job leaves a cell's run files (the link_run rule links them into RUN_DIR)
GROUP_CELL_DIR = path(TRAINING_DIR, "lr~{lr}", "seed~{seed}")
# the evaluate rule: one job per training job (one torch start-up for all its runs); it leaves a
# cell's metrics here and link_metrics links them into ANALYSIS_DIR
EVALUATION_DIR = path(RESULTS, "evaluation", TRAINING_GROUP)
EVALUATION_MANIFEST = path(EVALUATION_DIR, "group{part}.json")
EVALUATION_CELL_DIR = path(EVALUATION_DIR, "lr~{lr}", "seed~{seed}")
# the per-run analyses, one job per training job and batch (issue 25 item 3, largelr.workflow.analysis_jobs):
# batch B's job writes its manifest and each cell's files below batched/B/<group>/ (batch_path), and
# link_attribution, link_pruning, ... link them into ANALYSIS_DIR
SUMMARY_CSV = path(RESULTS, "summary", "runs.csv")
LR_FILTER_CSV = path(RESULTS, "summary", "lr_filter", "{dataset}.csv")
FIGURES = path(RESULTS, "figures")
FIGURE = path(FIGURES, "{figure}")
# the training curves of every training group of one dataset (rule training_curves): .pdf, .png, .csv
TRAINING_CURVES = path(FIGURES, "curves", "{dataset}")
TABLES = path(RESULTS, "tables")
LOGS = path(RESULTS, "logs")
BENCHMARKS = path(RESULTS, "benchmarks")


def batch_path(batch: str, *parts: str) -> str:
    """A file of a batched analysis job (``batch``: attribution, attribution_{method}, pruning, ...):
    ``batched/<batch>/<group>/<parts>``; the manifest is ``group{part}.json``, a cell's files are in
    ``lr~{lr}/seed~{seed}``."""
    return path(RESULTS, "batched", batch, TRAINING_GROUP, *parts)


def log_file(*parts: str) -> str:
    """A job's log: ``logs/<parts>.log``."""
    return path(LOGS, *parts) + ".log"


def benchmark_file(*parts: str) -> str:
    """A job's benchmark (Snakemake's ``benchmark:``): ``benchmarks/<parts>.tsv``."""
    return path(BENCHMARKS, *parts) + ".tsv"


# the log of one training job (rule train_group): logs/train/<group><part>.log
TRAINING_LOG = log_file("train", TRAINING_JOB)


def in_results(template: str, **fields: str) -> str:
    """``template`` below a preset's results folder (``results/{preset}/``), its ``fields`` filled in."""
    relative = template.removeprefix(RESULTS + "/")
    return relative.format_map(_Keep(fields))


class _Keep(dict):
    """format_map fields: a missing field stays ``{field}``."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fields_of(folder: str) -> dict[str, str]:
    """``dataset~D/model~M/...`` -> {"dataset": "D", "model": "M", ...} (a cell's or a group's folder)."""
    return dict(part.split("~", 1) for part in folder.split("/"))
