"""Snakemake entry point of rule figure_bc_ratio: test accuracy vs max BC loss ratio (Figs 12, 27)."""

import pandas as pd

from largelr.figures.names import scale_note
from largelr.figures.bc_ratio import plot_bc_ratio
from largelr.jobs import start_job
from largelr.reporting.lr_filter import kept_runs
from largelr.reporting.summary import summarize_runs

start_job(snakemake)
spec, preset, inputs = snakemake.params.spec, snakemake.params.preset, snakemake.input
runs = summarize_runs(inputs.runs, inputs.metrics)  # the figure's runs only (see common.smk)
runs = kept_runs(runs, pd.concat([pd.read_csv(path) for path in inputs.lr_filters]))  # §4.2 LR filter
note = scale_note(preset)
plot_bc_ratio(runs, snakemake.output.pdf, snakemake.output.png, snakemake.output.stats,
              title=spec.get("title", snakemake.wildcards.figure), note=note)
