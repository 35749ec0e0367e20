"""Snakemake entry point of rule background_attribution: DeepLabV3 background share (Fig 10) of the
runs of one training job, in one process."""

from largelr.analyses.background import background_runs
from largelr.io import atomic_write_json
from largelr.jobs import start_job

log = start_job(snakemake)
params = snakemake.params
records = background_runs(
    dataset_path=snakemake.input.dataset,
    maps_paths=snakemake.input.maps,
    output_dirs=params.output_dirs,
    segmenter=params.segmenter,
    log=log,
)
atomic_write_json(snakemake.output.manifest, {"cells": records})
