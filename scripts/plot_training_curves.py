"""Snakemake entry point of rule training_curves: every training group of one dataset through training."""

from largelr.figures.names import DISPLAY_NAMES, scale_note
from largelr.figures.training_curves import plot_training_curves, read_histories
from largelr.jobs import start_job

start_job(snakemake)
dataset, output = snakemake.wildcards.dataset, snakemake.output
plot_training_curves(read_histories(snakemake.input.histories, snakemake.input.runs), output.pdf, output.png,
                     output.csv, title=f"Training curves: {DISPLAY_NAMES.get(dataset, dataset)}",
                     note=scale_note(snakemake.params.preset, snakemake.params.scale))
