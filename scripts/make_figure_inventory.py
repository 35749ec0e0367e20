"""Snakemake entry point of rule figure_inventory: which paper figures this preset builds."""

from pathlib import Path

from largelr.reporting.inventory import figure_inventory
from largelr.jobs import start_job
from largelr.reporting.tables import write_table

start_job(snakemake)
table = figure_inventory(snakemake.wildcards.preset, snakemake.params.figures)
write_table(table, Path(snakemake.output.csv).with_suffix(""), formats=("csv", "md"),
            caption=f"Figures of preset '{snakemake.wildcards.preset}'")
