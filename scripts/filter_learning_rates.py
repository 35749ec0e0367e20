"""Snakemake entry point of rule filter_learning_rates: which LRs of one dataset enter figures."""

from largelr.jobs import start_job
from largelr.reporting.lr_filter import filter_learning_rates
from largelr.reporting.summary import summarize_runs, write_csv

log = start_job(snakemake)
runs = summarize_runs(snakemake.input.runs, snakemake.input.metrics)
decisions = filter_learning_rates(runs, max_drop=snakemake.params.max_drop)
write_csv(decisions, snakemake.output[0])
for row in decisions[~decisions["kept"]].itertuples():
    log.info("dropped %s/%s/%s/%s lr=%g: %s", row.dataset, row.model, row.recipe, row.intervention, row.lr, row.reason)
