"""Snakemake entry point of rule figure_attribution_gallery (Figs 1, 8, 29–34)."""

from largelr.figures.names import scale_note
from largelr.figures.attribution_gallery import plot_attribution_gallery, read_gallery
from largelr.jobs import start_job

start_job(snakemake)
spec, preset = snakemake.params.spec, snakemake.params.preset
labels = list(snakemake.params.labels)
paths = list(snakemake.input.galleries)
if len(labels) != len(paths) or len(set(labels)) != len(labels):
    raise ValueError(f"need one distinct panel label per gallery, got {labels} for {len(paths)} galleries")
galleries = {label: read_gallery(path) for label, path in zip(labels, paths)}
note = scale_note(preset)
plot_attribution_gallery(galleries, snakemake.output.pdf, snakemake.output.png,
                         title=spec.get("title", snakemake.wildcards.figure), note=note)
