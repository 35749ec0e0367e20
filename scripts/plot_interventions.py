"""Snakemake entry point of rule figure_interventions: LR vs other interventions (Figs 6, 19)."""

import pandas as pd

from largelr.figures.names import scale_note
from largelr.figures.interventions import plot_interventions
from largelr.jobs import start_job
from largelr.reporting.lr_filter import kept_runs
from largelr.reporting.summary import summarize_runs

start_job(snakemake)
spec, preset, inputs = snakemake.params.spec, snakemake.params.preset, snakemake.input
runs = summarize_runs(inputs.runs, inputs.metrics)  # the figure's runs only (see common.smk)
runs = kept_runs(runs, pd.concat([pd.read_csv(path) for path in inputs.lr_filters]))  # §4.2 LR filter
note = scale_note(preset)
plot_interventions(runs, snakemake.output.pdf, snakemake.output.png, snakemake.output.ranges,
                   title=spec.get("title", snakemake.wildcards.figure), note=note,
                   metrics=spec.get("metrics") or ("test_acc", "prunability", "csi"))
