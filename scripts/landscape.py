"""Snakemake entry point of rule landscape: loss / accuracy / spurious-utilisation landscapes (Fig 9) of
the runs of one training job, in one process."""

from largelr.analyses.batch import run_batched_rule
from largelr.analyses.landscape import landscape_runs
from largelr.jobs import start_job

log = start_job(snakemake)
run_batched_rule(snakemake, landscape_runs, log)
