"""Snakemake entry point of rule train_group: every LR x seed of one training group in one job."""

from largelr.io import atomic_write_json
from largelr.jobs import start_job
from largelr.training.recipes import train_settings
from largelr.training.runs import train_group

start_job(snakemake)
params = snakemake.params
records = train_group(
    dataset_path=snakemake.input.dataset,
    run_dirs=params.cell_dirs,
    cells=params.cells,
    model_spec=params.model,
    settings=[train_settings(cell, params.recipe, training)
              for cell, training in zip(params.cells, params.trainings)],
    device=params.device,
    engine=params.engine,  # training.engine; "sequential" for a part of a split group (common.smk)
    checkpoint_dir=params.checkpoint_dir,
    matmul_precision=params.trainings[0]["matmul_precision"],  # filled by preset.schema.yaml
    progress=params.progress,  # paths.TRAINING_PROGRESS: one JSON line per model and log row (largelr status)
)
atomic_write_json(snakemake.output.manifest, {
    "cells": [{"cell": r["cell"], "status": r["status"], "iterations": r["iterations"], "engine": r["engine"]}
              for r in records],
})
