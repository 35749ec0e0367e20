"""Snakemake entry point of rule background_attribution: DeepLabV3 background share (Fig 10)."""

from largelr.analyses.background import background_run
from largelr.jobs import start_job

log = start_job(snakemake)
result = background_run(
    dataset_path=snakemake.input.dataset,
    maps_path=snakemake.input.maps,
    json_path=snakemake.output[0],
    segmenter=snakemake.params.segmenter,
)
log.info("background attribution: %s", result)
