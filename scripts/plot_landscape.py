"""Snakemake entry point of rule figure_landscape (Fig 9: loss / accuracy / spurious-utilisation landscapes)."""

from largelr.figures.names import scale_note
from largelr.figures.landscape import plot_landscapes
from largelr.jobs import start_job

start_job(snakemake)
spec, preset = snakemake.params.spec, snakemake.params.preset
note = scale_note(preset)
plot_landscapes(snakemake.input.runs, snakemake.input.landscapes, snakemake.output.pdf,
                snakemake.output.png, title=spec.get("title", snakemake.wildcards.figure), note=note)
