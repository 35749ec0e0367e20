"""Kind ``dynamics``: statistics through training from weight snapshots (Figs 3 right, 13, 28 bottom; §6)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from largelr.figures.cells import chosen_selections
from largelr.figures.kind import FigureJob, FigureKind, InputPaths, write_table

PANELS = ("attribution", "mechanism", "single_neuron")


def inputs(spec: Mapping[str, Any], grid: pd.DataFrame, paths: InputPaths) -> dict[str, list[str]]:
    """run.json, dynamics.csv and dynamics_maps.npz of the chosen LRs (cells.chosen_selections),
    every seed of the grid."""
    seeds = sorted(set(grid["seed"]))
    cells = [{**cell, "seed": seeds} for cell in chosen_selections(spec, grid)]
    return {"runs": paths.cells("run.json", cells), "dynamics": paths.cells("dynamics.csv", cells),
            "maps": paths.cells("dynamics_maps.npz", cells)}


def draw(job: FigureJob) -> None:
    """The spec's ``panel`` view; ``{figure}.csv``: the statistics of every run and snapshot."""
    from largelr.figures import dynamics

    inputs, spec, panel = job.inputs, job.spec, job.spec["panel"]  # preset.schema.yaml's default: attribution
    if panel not in PANELS:
        raise ValueError(f"figures.*.panel: unknown dynamics panel {panel!r}; expected {', '.join(PANELS)}")
    table = dynamics.dynamics_table(inputs["runs"], inputs["dynamics"])
    if panel == "attribution":
        dynamics.plot_attribution_dynamics(table, job.pdf, job.png, title=job.title, note=job.note)
    elif panel == "mechanism":
        dynamics.plot_dynamics_maps(dynamics.map_rows(inputs["runs"], inputs["maps"]), job.pdf, job.png,
                                    title=job.title, note=job.note, table=table,
                                    **({"sample": int(spec["sample"])} if "sample" in spec else {}))
    else:
        dynamics.plot_single_neuron(table, job.pdf, job.png, title=job.title, note=job.note)
    write_table(table, job.csv)


KIND = FigureKind(
    "dynamics", inputs, draw,
    caption="""Computed from weight snapshots kept during training (``training.snapshot_interval``): the
share of \\|attribution\\| on the core / spurious / noise regions, accuracy and, where shown, the
maximum BC-loss ratio and one neuron's spurious feature utilisation, through training, for
low vs high LR (mean ± 1 s.d. over seeds); the statistics of every run and snapshot are in
``{figure}.csv``.""",
)
