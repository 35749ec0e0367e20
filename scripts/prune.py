"""Snakemake entry point of rule prune: pruning curves of the runs of one training job, in one process."""

from largelr.analyses.batch import run_batched_rule
from largelr.analyses.pruning import prune_runs
from largelr.jobs import start_job

log = start_job(snakemake)
run_batched_rule(snakemake, prune_runs, log)
