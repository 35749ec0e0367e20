"""Snakemake entry point of rule summarize: summary/runs.csv of a preset."""

from largelr.jobs import start_job
from largelr.reporting.summary import add_analysis_file_columns, summarize_runs, write_csv

log = start_job(snakemake)
inputs = snakemake.input
frame = summarize_runs(inputs.runs, inputs.metrics)
# attribution statistics of the runs of `analysis.attribution_datasets` (default: every run)
frame = add_analysis_file_columns(frame, inputs.attribution_runs, inputs.attributions, "attributions")
write_csv(frame, snakemake.output[0])
log.info("%d runs; status counts: %s", len(frame), frame["status"].value_counts().to_dict())
