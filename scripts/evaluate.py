"""Snakemake entry point of rule evaluate: every per-run metric of one trained run."""

from pathlib import Path

from largelr.analyses.evaluation import evaluate_run
from largelr.jobs import start_job

log = start_job(snakemake)
metrics = evaluate_run(
    dataset_path=snakemake.input.dataset,
    run_dir=Path(snakemake.input.run).parent,
    output_path=snakemake.output.metrics,
    analysis=snakemake.params.analysis,
    device=snakemake.params.device,
)
log.info("metrics: %s", {k: v for k, v in metrics.items() if not isinstance(v, list)})
