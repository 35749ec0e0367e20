"""Snakemake entry point of rule landscape: loss / accuracy / spurious-utilisation landscape of one run (Fig 9)."""

from pathlib import Path

from largelr.jobs import start_job
from largelr.analyses.landscape_run import landscape_run

log = start_job(snakemake)  # noqa: F821 (snakemake is injected by the script directive)
result = landscape_run(
    dataset_path=snakemake.input.dataset,  # noqa: F821
    run_dir=Path(snakemake.input.run).parent,  # noqa: F821
    npz_path=snakemake.output[0],  # noqa: F821
    analysis=snakemake.params.analysis,  # noqa: F821
    device=snakemake.params.device,  # noqa: F821
)
log.info("landscape: %s", result)
