"""Snakemake entry point of rule figure_dataset_examples: BA/BC example images (Fig 2)."""

from largelr.datasets import load_dataset
from largelr.figures.dataset_examples import plot_dataset_examples
from largelr.jobs import start_job

start_job(snakemake)  # noqa: F821 (snakemake is injected by the script directive)
datasets = {name: load_dataset(path) for name, path in snakemake.input.items()}  # noqa: F821
plot_dataset_examples(datasets, snakemake.output.pdf, snakemake.output.png)  # noqa: F821
