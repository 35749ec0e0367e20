"""The training grid: one row per training cell (dataset, model, recipe, lr, intervention, seed),
expanded from a preset's ``experiments``."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from largelr.columns import GRID_COLUMNS
from largelr.intervention_labels import NO_INTERVENTION, format_intervention
from largelr.config.errors import ConfigError


# An experiment's `tag` joins its recipe's name in the grid's recipe column and the path
# (recipe~sgd+table2): the same recipe, cells of their own.
TAG_SEPARATOR = "+"
TAG_PATTERN = "[a-z0-9_]+"  # as preset.schema.yaml's experiments.*.tag


def recipe_label(recipe: str, tag: str | None = None) -> str:
    """The grid's ``recipe`` value of an experiment or figure: the recipe, ``+tag`` if tagged."""
    return f"{recipe}{TAG_SEPARATOR}{tag}" if tag else recipe


def recipe_name(label: str) -> str:
    """The recipe (a key of the preset's ``recipes``) of a grid ``recipe`` value."""
    return label.split(TAG_SEPARATOR, 1)[0]


def experiment_recipe(experiment: dict[str, Any]) -> str:
    """The grid ``recipe`` label of an experiment's cells."""
    return recipe_label(experiment["recipe"], experiment.get("tag"))


def label_tagged_figures(preset: dict[str, Any], name: str) -> None:
    """A figure's ``tag`` folds into its ``recipe`` (default ``sgd``): the grid's label of the runs
    it draws, so that every figure reads ``spec["recipe"]`` alone."""
    for figure, spec in preset.get("figures", {}).items():
        if isinstance(spec, dict) and "tag" in spec:
            tag = spec.pop("tag")
            if not isinstance(tag, str) or not re.fullmatch(TAG_PATTERN, tag):
                raise ConfigError(f"presets.{name}.figures.{figure}.tag: {tag!r} does not match {TAG_PATTERN}")
            spec["recipe"] = recipe_label(spec.get("recipe", "sgd"), tag)


def training_grid(preset: dict[str, Any]) -> pd.DataFrame:
    """One row per training cell, columns :data:`GRID_COLUMNS`; seeds come from ``seeds``."""
    rows = [
        {"dataset": e["dataset"], "model": e["model"], "recipe": experiment_recipe(e), "lr": float(lr),
         "intervention": intervention, "seed": int(seed)}
        for e in preset["experiments"]
        for lr in e["lrs"]
        for intervention in _intervention_labels(e)
        for seed in e.get("seeds", preset["seeds"])
    ]
    grid = pd.DataFrame(rows, columns=GRID_COLUMNS).drop_duplicates(ignore_index=True)
    return grid


def cell_training(preset: dict[str, Any], cell: dict[str, Any]) -> dict[str, Any]:
    """``training`` settings of one cell: the preset's, updated by its experiment's ``training`` block."""
    for experiment in preset["experiments"]:
        same = experiment["dataset"] == cell["dataset"] and experiment["model"] == cell["model"]
        if same and experiment_recipe(experiment) == cell["recipe"]:
            labels = _intervention_labels(experiment)
            if float(cell["lr"]) in map(float, experiment["lrs"]) and cell["intervention"] in labels:
                return {**preset["training"], **experiment.get("training", {})}
    raise KeyError(f"cell {cell} is not in any experiment of the preset")


def _intervention_labels(experiment: dict[str, Any]) -> list[str]:
    """``["none"]``, or one ``name=value`` label per value of the experiment's ``vary`` block."""
    if not experiment.get("vary"):
        return [NO_INTERVENTION]
    return [format_intervention(name, value) for name, values in experiment["vary"].items() for value in values]
