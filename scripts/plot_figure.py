"""Snakemake entry point of rule figure: draws one figure through its kind (largelr.figures.kinds)."""

from largelr.figures.kind import FigureJob
from largelr.figures.kinds import figure_kind
from largelr.jobs import start_job

log = start_job(snakemake)
params, output = snakemake.params, snakemake.output
job = FigureJob(figure=snakemake.wildcards.figure, spec=params.spec, preset=params.preset,
                inputs=dict(snakemake.input.items()), pdf=output.pdf, png=output.png, csv=output.csv,
                params=params.kind_params, scale=params.scale, log=log)
figure_kind(params.kind).draw(job)
