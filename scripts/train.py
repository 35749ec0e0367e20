"""Snakemake entry point of rule train: one (dataset, model, optimizer, lr, seed) cell."""

from pathlib import Path

from largelr.jobs import start_job
from largelr.runs import train_cell
from largelr.training import TrainSettings

start_job(snakemake)  # noqa: F821 (snakemake is injected by the script directive)
params = snakemake.params  # noqa: F821
settings = TrainSettings(
    lr=params.cell["lr"],
    seed=params.cell["seed"],
    momentum=params.optimizer.get("momentum", 0.0),
    **params.training,
)
train_cell(
    dataset_path=snakemake.input.dataset,  # noqa: F821
    run_dir=Path(snakemake.output.run).parent,  # noqa: F821
    cell=params.cell,
    model_spec=params.model,
    settings=settings,
    device=params.device,
)
