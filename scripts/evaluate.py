"""Snakemake entry point of rule evaluate: every per-run metric of each run of one training job."""

from pathlib import Path

from largelr.analyses.evaluation import evaluate_runs
from largelr.io import atomic_write_json
from largelr.jobs import start_job

log = start_job(snakemake)
params = snakemake.params
records = evaluate_runs(
    dataset_path=snakemake.input.dataset,
    run_dirs=[Path(run).parent for run in snakemake.input.runs],
    output_paths=[Path(folder) / "metrics.json" for folder in params.metrics_dirs],
    analysis=params.analysis,
    device=params.device,
    log=log,
)
atomic_write_json(snakemake.output.manifest, {"cells": records})
