"""Snakemake entry point of rule download_source: one MNIST / CIFAR source under data_root (local rule)."""

from largelr.datasets.download import source_files
from largelr.io import atomic_write_json
from largelr.jobs import start_job

log = start_job(snakemake)
found = source_files(snakemake.wildcards.source, snakemake.params.data_root, snakemake.params.download)
log.info("%s: %d files under %s", found["source"], len(found["files"]), found["data_root"])
atomic_write_json(snakemake.output[0], found)
