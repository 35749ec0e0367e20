"""Snakemake entry point of rule figure_dataset_examples: BA/BC example images (Fig 2)."""

from largelr.datasets import load_dataset
from largelr.figures.dataset_examples import plot_dataset_examples
from largelr.jobs import start_job

start_job(snakemake)
datasets = {name: load_dataset(path) for name, path in snakemake.input.items()}
plot_dataset_examples(datasets, snakemake.output.pdf, snakemake.output.png)
