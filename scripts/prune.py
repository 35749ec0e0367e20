"""Snakemake entry point of rule prune: pruning curves of the runs of one training job, in one process."""

from pathlib import Path

from largelr.analyses.pruning import prune_runs
from largelr.io import atomic_write_json
from largelr.jobs import start_job

log = start_job(snakemake)
params = snakemake.params
records = prune_runs(
    dataset_path=snakemake.input.dataset,
    run_dirs=[Path(run).parent for run in snakemake.input.runs],
    output_dirs=params.output_dirs,
    analysis=params.analysis,
    device=params.device,
    log=log,
)
atomic_write_json(snakemake.output.manifest, {"cells": records})
