"""Snakemake entry point of rule background_attribution: DeepLabV3 background share (Fig 10)."""

from largelr.analyses.background import background_run
from largelr.jobs import start_job

log = start_job(snakemake)  # noqa: F821 (snakemake is injected by the script directive)
result = background_run(
    dataset_path=snakemake.input.dataset,  # noqa: F821
    maps_path=snakemake.input.maps,  # noqa: F821
    json_path=snakemake.output[0],  # noqa: F821
    segmenter=snakemake.params.segmenter,  # noqa: F821
)
log.info("background attribution: %s", result)
