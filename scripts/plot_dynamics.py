"""Snakemake entry point of rule figure_dynamics: Fig 3 right, Fig 13, Fig 28 bottom."""

from largelr.figures.names import scale_note
from largelr.figures.dynamics import (
    dynamics_table,
    map_rows,
    plot_attribution_dynamics,
    plot_dynamics_maps,
    plot_single_neuron,
)
from largelr.jobs import start_job

start_job(snakemake)
spec, preset = snakemake.params.spec, snakemake.params.preset
inputs, output = snakemake.input, snakemake.output
table = dynamics_table(inputs.runs, inputs.dynamics)
note = scale_note(preset)
title = spec.get("title", snakemake.wildcards.figure)
panel = spec["panel"]  # preset.schema.yaml's default: attribution
if panel == "attribution":
    plot_attribution_dynamics(table, output.pdf, output.png, title=title, note=note)
elif panel == "mechanism":
    plot_dynamics_maps(map_rows(inputs.runs, inputs.maps), output.pdf, output.png, title=title, note=note,
                       table=table, **({"sample": int(spec["sample"])} if "sample" in spec else {}))
elif panel == "single_neuron":
    plot_single_neuron(table, output.pdf, output.png, title=title, note=note)
else:
    raise ValueError(f"figures.*.panel: unknown dynamics panel {panel!r}; expected attribution, mechanism "
                     "or single_neuron")
