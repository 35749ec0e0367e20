"""Snakemake entry point of rule dynamics: attribution and model statistics through training (Figs 3, 13, 28)."""

from pathlib import Path

from largelr.analyses.dynamics import dynamics_run
from largelr.jobs import start_job

log = start_job(snakemake)  # noqa: F821 (snakemake is injected by the script directive)
table = dynamics_run(
    dataset_path=snakemake.input.dataset,  # noqa: F821
    run_dir=Path(snakemake.input.run).parent,  # noqa: F821
    csv_path=snakemake.output.csv,  # noqa: F821
    maps_path=snakemake.output.maps,  # noqa: F821
    analysis=snakemake.params.analysis,  # noqa: F821
    device=snakemake.params.device,  # noqa: F821
)
log.info("dynamics: %d snapshots", len(table))
