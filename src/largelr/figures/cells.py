"""Which grid cells a figure draws, where that is more than "the plain cells of its datasets"
(pandas only: the workflow imports it while building the DAG; ``workflow/rules/common.smk``).

Each function returns *selections*: dicts of grid column → value or list of values, the form
:func:`largelr.grid_selection.select_cells` takes (``cell_files`` in ``common.smk`` expands each
into one path per matching cell).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from largelr.figure_spec import figure_datasets
from largelr.grid_selection import select_cells

LR_DROP = "lr_drop_at"


def _model_of(spec: dict[str, Any]) -> dict[str, str]:
    """A figure's model condition: its ``model`` if it names one, else none (every model)."""
    return {"model": spec["model"]} if "model" in spec else {}


def lr_drop_selections(spec: dict[str, Any], grid: pd.DataFrame) -> list[dict[str, Any]]:
    """Fig 28 top right (suppl. D.4; figure kind ``lr_drop``): the ``lr_drop_at`` cells of each
    (dataset, model) of the figure, and the plain cells at their base LRs and seeds (never
    dropped: the figure's references; a selection that matches no cell adds nothing)."""
    rows = select_cells(grid, dataset=figure_datasets(spec), recipe=spec["recipe"],
                        intervention=lambda label: label.str.startswith(f"{LR_DROP}="), **_model_of(spec))
    selections = []
    for (dataset, model), group in rows.groupby(["dataset", "model"], sort=False):
        cell = {"dataset": dataset, "model": model, "recipe": spec["recipe"], "lr": sorted(set(group["lr"])),
                "seed": sorted(set(group["seed"]))}
        selections += [{**cell, "intervention": sorted(set(group["intervention"]))}, {**cell, "intervention": "none"}]
    return selections


def figure_groups(spec: dict[str, Any], grid: pd.DataFrame) -> list[tuple[str, str]]:
    """(dataset, model) pairs of a figure, in the order of its datasets: its model or every model."""
    pairs = []
    for dataset in figure_datasets(spec):
        rows = select_cells(grid, dataset=dataset, recipe=spec["recipe"], intervention="none")
        models = [spec["model"]] if "model" in spec else sorted(rows["model"].unique())
        pairs += [(dataset, model) for model in models if (rows["model"] == model).any()]
    return pairs


def chosen_selections(spec: dict[str, Any], grid: pd.DataFrame) -> list[dict[str, Any]]:
    """landscape / attribution_methods / dynamics figures: the spec's LRs (default: the grid's
    smallest and largest) and seeds (default: the first) of each (dataset, model) of the figure,
    and the intervention cells the spec names (``interventions``, landscape figures).
    """
    selections = []
    for dataset, model in figure_groups(spec, grid):
        rows = select_cells(grid, dataset=dataset, model=model, intervention="none", recipe=spec["recipe"])
        lrs = spec.get("lrs") or [rows["lr"].min(), rows["lr"].max()]
        seeds = spec.get("seeds") or [int(rows["seed"].min())]
        selections.append({"dataset": dataset, "model": model, "recipe": spec["recipe"], "intervention": "none",
                           "lr": [float(lr) for lr in lrs], "seed": seeds})
        # Fig 9's "models with different LRs and FL": the spec's intervention cells (interventions)
        selections += intervention_selections(spec, grid, dataset, model, spec.get("seeds"))
    return selections


def intervention_selections(spec: dict[str, Any], grid: pd.DataFrame, dataset: str, model: str,
                            seeds: list[int] | None = None) -> list[dict[str, Any]]:
    """Fig 9 ("landscapes for models with different LRs and FL"): the cells of the spec's ``interventions``
    (grid labels such as ``focal_gamma=2``) of one (dataset, model), at every LR they are trained
    at, for ``seeds`` (default: the first seed of those cells). A label the grid lacks for this
    (dataset, model) is an error naming it."""
    selections = []
    for intervention in spec.get("interventions", []):
        rows = select_cells(grid, dataset=dataset, model=model, recipe=spec["recipe"], intervention=intervention)
        if rows.empty:
            raise ValueError(f"figure spec {spec.get('title', '')!r}: interventions entry {intervention!r} has no "
                             f"cells of ({dataset}, {model}, {spec['recipe']})")
        selections.append({"dataset": dataset, "model": model, "recipe": spec["recipe"], "intervention": intervention,
                           "lr": sorted(set(rows["lr"])), "seed": seeds or [int(rows["seed"].min())]})
    return selections


__all__ = ["chosen_selections", "figure_groups", "intervention_selections", "lr_drop_selections"]
