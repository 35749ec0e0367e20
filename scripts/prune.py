"""Snakemake entry point of rule prune: pruning curves of one trained run."""

from pathlib import Path

from largelr.jobs import start_job
from largelr.analyses.pruning import prune_run

log = start_job(snakemake)
result = prune_run(
    dataset_path=snakemake.input.dataset,
    run_dir=Path(snakemake.input.run).parent,
    output_path=snakemake.output[0],
    analysis=snakemake.params.analysis,
    device=snakemake.params.device,
)
log.info("pruning: base accuracy %s, parameters %s", result.get("base_accuracy"), result.get("parameters"))
