"""Snakemake entry point of rule summarize: summary/runs.csv of a preset."""

from largelr.jobs import start_job
from largelr.summary import summarize_runs, write_csv

log = start_job(snakemake)  # noqa: F821 (snakemake is injected by the script directive)
frame = summarize_runs(snakemake.input.runs, snakemake.input.metrics, snakemake.input.attributions)  # noqa: F821
write_csv(frame, snakemake.output[0])  # noqa: F821
log.info("%d runs; status counts: %s", len(frame), frame["status"].value_counts().to_dict())
