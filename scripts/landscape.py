"""Snakemake entry point of rule landscape: loss / accuracy / spurious-utilisation landscape of one run (Fig 9)."""

from pathlib import Path

from largelr.jobs import start_job
from largelr.analyses.landscape import landscape_run

log = start_job(snakemake)
result = landscape_run(
    dataset_path=snakemake.input.dataset,
    run_dir=Path(snakemake.input.run).parent,
    npz_path=snakemake.output[0],
    analysis=snakemake.params.analysis,
    device=snakemake.params.device,
)
log.info("landscape: %s", result)
