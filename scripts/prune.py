"""Snakemake entry point of rule prune: pruning curves of one trained run."""

from pathlib import Path

from largelr.jobs import start_job
from largelr.analyses.pruning_run import prune_run

log = start_job(snakemake)  # noqa: F821 (snakemake is injected by the script directive)
result = prune_run(
    dataset_path=snakemake.input.dataset,  # noqa: F821
    run_dir=Path(snakemake.input.run).parent,  # noqa: F821
    output_path=snakemake.output[0],  # noqa: F821
    analysis=snakemake.params.analysis,  # noqa: F821
    device=snakemake.params.device,  # noqa: F821
)
log.info("pruning: base accuracy %s, parameters %s", result.get("base_accuracy"), result.get("parameters"))
