"""Snakemake entry point of rule train: one (dataset, model, optimizer, lr, hp, seed) cell."""

from pathlib import Path

from largelr.jobs import start_job
from largelr.recipes import train_settings
from largelr.runs import train_cell

start_job(snakemake)  # noqa: F821 (snakemake is injected by the script directive)
params = snakemake.params  # noqa: F821
train_cell(
    dataset_path=snakemake.input.dataset,  # noqa: F821
    run_dir=Path(snakemake.output.run).parent,  # noqa: F821
    cell=params.cell,
    model_spec=params.model,
    settings=train_settings(params.cell, params.optimizer, params.training),
    device=params.device,
)
