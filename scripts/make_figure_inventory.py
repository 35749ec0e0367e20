"""Snakemake entry point of rule figure_inventory: which paper figures (and panels) this preset builds."""

from pathlib import Path

from largelr.reporting.inventory import figure_inventory, panel_inventory
from largelr.jobs import start_job
from largelr.reporting.tables import write_table

start_job(snakemake)
preset = snakemake.wildcards.preset
table = figure_inventory(preset, snakemake.params.presets)  # every resolved preset: who builds what
panels = panel_inventory(preset, snakemake.params.presets)
write_table(table, Path(snakemake.output.csv).with_suffix(""), formats=("csv", "md"),
            caption=f"Figures of preset '{preset}' (built = every panel drawn)",
            legend="Panels (a figure counts as built only when each of its panels is):\n\n"
                   + panels.to_markdown(index=False))
