"""Snakemake entry point of rule figure_pruning_curves (Figs 20, 21)."""

from largelr.figures.names import scale_note
from largelr.figures.pruning_curves import plot_pruning_curves, pruning_table
from largelr.jobs import start_job

start_job(snakemake)
spec, preset = snakemake.params.spec, snakemake.params.preset
table = pruning_table(snakemake.input.runs, snakemake.input.pruning, spec["method"])
note = scale_note(preset)
plot_pruning_curves(table, spec["method"], snakemake.output.pdf, snakemake.output.png,
                    title=spec.get("title", snakemake.wildcards.figure), note=note)
