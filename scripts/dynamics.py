"""Snakemake entry point of rule dynamics: attribution and model statistics through training (Figs 3, 13, 28)."""

from pathlib import Path

from largelr.analyses.dynamics import dynamics_run
from largelr.jobs import start_job

log = start_job(snakemake)
table = dynamics_run(
    dataset_path=snakemake.input.dataset,
    run_dir=Path(snakemake.input.run).parent,
    csv_path=snakemake.output.csv,
    maps_path=snakemake.output.maps,
    analysis=snakemake.params.analysis,
    device=snakemake.params.device,
)
log.info("dynamics: %d snapshots", len(table))
