"""Snakemake entry point of rule attribute: input attributions of one trained run."""

from pathlib import Path

from largelr.analyses.attribution_run import attribute_run
from largelr.jobs import start_job

log = start_job(snakemake)  # noqa: F821 (snakemake is injected by the script directive)
result = attribute_run(
    dataset_path=snakemake.input.dataset,  # noqa: F821
    run_dir=Path(snakemake.input.run).parent,  # noqa: F821
    json_path=snakemake.output.stats,  # noqa: F821
    maps_path=snakemake.output.maps,  # noqa: F821
    analysis=snakemake.params.analysis,  # noqa: F821
    device=snakemake.params.device,  # noqa: F821
)
log.info("attribution: %s", result)
