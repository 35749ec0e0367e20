"""Snakemake entry point of rule figure_inventory: which paper figures this preset builds."""

from pathlib import Path

from largelr.reporting.inventory import figure_inventory
from largelr.jobs import start_job
from largelr.reporting.tables import write_table

start_job(snakemake)  # noqa: F821 (snakemake is injected by the script directive)
table = figure_inventory(snakemake.wildcards.preset, snakemake.params.figures)  # noqa: F821
write_table(table, Path(snakemake.output.csv).with_suffix(""), formats=("csv", "md"),  # noqa: F821
            caption=f"Figures of preset '{snakemake.wildcards.preset}'")  # noqa: F821
