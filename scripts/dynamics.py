"""Snakemake entry point of rule dynamics: attribution and model statistics through training (Figs 3, 13,
28) of the runs of one training job, in one process."""

from pathlib import Path

from largelr.analyses.dynamics import dynamics_runs
from largelr.io import atomic_write_json
from largelr.jobs import start_job

log = start_job(snakemake)
params = snakemake.params
records = dynamics_runs(
    dataset_path=snakemake.input.dataset,
    run_dirs=[Path(run).parent for run in snakemake.input.runs],
    output_dirs=params.output_dirs,
    analysis=params.analysis,
    device=params.device,
    log=log,
)
atomic_write_json(snakemake.output.manifest, {"cells": records})
