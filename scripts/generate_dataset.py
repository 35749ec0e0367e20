"""Snakemake entry point of rule generate_dataset: build one dataset file."""

from largelr.datasets import save_dataset
from largelr.datasets.registry import build_dataset
from largelr.jobs import start_job

log = start_job(snakemake)
# the source files are in place (rule download_source, on the submitting host): never download here
dataset = build_dataset(snakemake.params.spec, data_root=snakemake.params.data_root, download=False)
log.info("%s: %d train / %d test samples, input shape %s, train BC ratio %.4f",
         dataset.name, len(dataset.train), len(dataset.test), dataset.input_shape,
         dataset.train.bias_conflicting_ratio())
save_dataset(dataset, snakemake.output[0])
