"""Snakemake entry point of rule figure_lr_drop: final accuracy vs the iteration of an LR drop (Fig 28 top right)."""

from largelr.figures.lr_drop import plot_lr_drop
from largelr.figures.names import scale_note
from largelr.jobs import start_job
from largelr.reporting.summary import summarize_runs

start_job(snakemake)
spec, preset, inputs = snakemake.params.spec, snakemake.params.preset, snakemake.input
runs = summarize_runs(inputs.runs, inputs.metrics)  # the lr_drop_at cells and the plain cells at their LRs
plot_lr_drop(runs, snakemake.output.pdf, snakemake.output.png, snakemake.output.points,
             title=spec.get("title", snakemake.wildcards.figure), note=scale_note(preset))
