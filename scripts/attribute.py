"""Snakemake entry point of rules attribute and attribute_with_method: input attributions of the
runs of one training job, in one process."""

from largelr.analyses.attribution import attribute_runs
from largelr.analyses.batch import run_batched_rule
from largelr.jobs import start_job

log = start_job(snakemake)
run_batched_rule(snakemake, attribute_runs, log, method=snakemake.wildcards.get("method"))
