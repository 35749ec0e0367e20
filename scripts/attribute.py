"""Snakemake entry point of rule attribute: input attributions of one trained run."""

from pathlib import Path

from largelr.analyses.attribution import attribute_run
from largelr.jobs import start_job

log = start_job(snakemake)
result = attribute_run(
    dataset_path=snakemake.input.dataset,
    run_dir=Path(snakemake.input.run).parent,
    json_path=snakemake.output.stats,
    maps_path=snakemake.output.maps,
    analysis=snakemake.params.analysis,
    device=snakemake.params.device,
)
log.info("attribution: %s", result)
