"""Snakemake entry point of rule evaluate: every per-run metric of one trained run."""

from pathlib import Path

from largelr.analyses.evaluation import evaluate_run
from largelr.jobs import start_job

log = start_job(snakemake)  # noqa: F821 (snakemake is injected by the script directive)
metrics = evaluate_run(
    dataset_path=snakemake.input.dataset,  # noqa: F821
    run_dir=Path(snakemake.input.run).parent,  # noqa: F821
    output_path=snakemake.output.metrics,  # noqa: F821
    analysis=snakemake.params.analysis,  # noqa: F821
    device=snakemake.params.device,  # noqa: F821
)
log.info("metrics: %s", {k: v for k, v in metrics.items() if not isinstance(v, list)})
