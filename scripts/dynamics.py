"""Snakemake entry point of rule dynamics: attribution and model statistics through training (Figs 3, 13,
28) of the runs of one training job, in one process."""

from largelr.analyses.batch import run_batched_rule
from largelr.analyses.dynamics import dynamics_runs
from largelr.jobs import start_job

log = start_job(snakemake)
run_batched_rule(snakemake, dynamics_runs, log)
