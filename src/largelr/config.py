"""Presets, overrides and the training grid (SPEC §1, §8).

``config.yaml`` holds ``preset`` (the default one to run), ``presets`` (``ci``, ``demo``,
``paper``, ...) and optionally top-level override blocks with the same keys as a preset.
The resolved configuration of preset P is ``deep_merge(presets[P], overrides)``, so
``--config preset=ci 'training={max_iters: 50}'`` changes one key of the ci preset.

The grid is a table with one row per training cell (dataset, model, optimizer, lr, hp, seed),
expanded from the preset's ``experiments`` list (``hp`` is an intervention of
:mod:`largelr.training.recipes`, or ``none``); Snakemake's ``Paramspace`` turns it into one readable
folder per cell: ``dataset~parity/model~fcn/optimizer~sgd/lr~0.1/hp~none/seed~0``.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import pandas as pd
import yaml

from largelr.columns import GRID_COLUMNS, NO_INTERVENTION, format_hp

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "workflow" / "schemas"
NON_PRESET_KEYS = {"preset", "presets"}


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``override`` merged in recursively (dicts merge, everything else replaces)."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def overrides(config: dict[str, Any]) -> dict[str, Any]:
    """The top-level keys of ``config`` that override every preset."""
    return {k: v for k, v in config.items() if k not in NON_PRESET_KEYS}


def resolve_preset(config: dict[str, Any], name: str) -> dict[str, Any]:
    """Preset ``name`` with the top-level overrides applied."""
    if name not in config["presets"]:
        raise ValueError(f"config key 'preset': unknown preset {name!r}; defined: {sorted(config['presets'])}")
    return deep_merge(config["presets"][name], overrides(config))


def check_references(preset: dict[str, Any], name: str) -> None:
    """Every experiment and figure must name datasets/models/optimizers that the preset defines."""
    check_unique_cells(preset, name)
    for i, experiment in enumerate(preset["experiments"]):
        for key, table in (("dataset", "datasets"), ("model", "models"), ("optimizer", "optimizers")):
            if experiment[key] not in preset[table]:
                raise ValueError(
                    f"presets.{name}.experiments[{i}].{key}: {experiment[key]!r} is not defined under "
                    f"presets.{name}.{table} (defined: {sorted(preset[table])})"
                )
    for dataset in preset.get("analysis", {}).get("attribution_datasets", []):
        if dataset not in preset["datasets"]:
            raise ValueError(f"presets.{name}.analysis.attribution_datasets: {dataset!r} is not defined under "
                             f"presets.{name}.datasets")
    for figure, spec in preset.get("figures", {}).items():
        if not figure_datasets(spec):
            raise ValueError(f"presets.{name}.figures.{figure}: give `datasets` (or `dataset`)")
        if spec.get("kind") == "pruning_curves" and "method" not in spec:
            raise ValueError(f"presets.{name}.figures.{figure}.method: a pruning_curves figure needs a method")
        for dataset in figure_datasets(spec):
            if dataset not in preset["datasets"]:
                raise ValueError(f"presets.{name}.figures.{figure}: dataset {dataset!r} is not defined under "
                                 f"presets.{name}.datasets")


def figure_datasets(spec: dict[str, Any]) -> list[str]:
    """The datasets a figure draws: its ``datasets`` list or its single ``dataset``."""
    return list(spec.get("datasets", [])) or ([spec["dataset"]] if "dataset" in spec else [])


def figure_kinds(presets: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Figure name → kind over all presets; a name must mean the same kind of figure everywhere."""
    kinds: dict[str, str] = {}
    for name, preset in presets.items():
        for figure, spec in preset.get("figures", {}).items():
            kind = spec.get("kind", "lr_sweep")
            if kinds.setdefault(figure, kind) != kind:
                raise ValueError(f"presets.{name}.figures.{figure}: kind {kind!r} differs from {kinds[figure]!r} elsewhere")
    return kinds


def training_grid(preset: dict[str, Any]) -> pd.DataFrame:
    """One row per training cell, columns :data:`GRID_COLUMNS`; seeds come from ``seeds``."""
    rows = [
        {"dataset": e["dataset"], "model": e["model"], "optimizer": e["optimizer"], "lr": float(lr), "hp": hp,
         "seed": int(seed)}
        for e in preset["experiments"]
        for lr in e["lrs"]
        for hp in _intervention_labels(e)
        for seed in e.get("seeds", preset["seeds"])
    ]
    grid = pd.DataFrame(rows, columns=GRID_COLUMNS).drop_duplicates(ignore_index=True)
    return grid


def cell_training(preset: dict[str, Any], cell: dict[str, Any]) -> dict[str, Any]:
    """``training`` settings of one cell: the preset's, updated by its experiment's ``training`` block."""
    for experiment in preset["experiments"]:
        if all(experiment[key] == cell[key] for key in ("dataset", "model", "optimizer")):
            if float(cell["lr"]) in map(float, experiment["lrs"]) and cell["hp"] in _intervention_labels(experiment):
                return {**preset["training"], **experiment.get("training", {})}
    raise KeyError(f"cell {cell} is not in any experiment of the preset")


def check_unique_cells(preset: dict[str, Any], name: str) -> None:
    """A cell listed by two experiments must get the same training settings from both."""
    seen: dict[tuple, dict] = {}
    for i, experiment in enumerate(preset["experiments"]):
        overrides = experiment.get("training", {})
        for lr in experiment["lrs"]:
            for hp in _intervention_labels(experiment):
                key = (experiment["dataset"], experiment["model"], experiment["optimizer"], float(lr), hp)
                if seen.setdefault(key, overrides) != overrides:
                    raise ValueError(f"presets.{name}.experiments[{i}].training: cell {key} is also listed by "
                                     f"another experiment with different training settings")


def _intervention_labels(experiment: dict[str, Any]) -> list[str]:
    """``["none"]``, or one ``name=value`` label per value of the experiment's ``vary`` block."""
    if not experiment.get("vary"):
        return [NO_INTERVENTION]
    return [format_hp(name, value) for name, values in experiment["vary"].items() for value in values]


def load_schema(name: str) -> dict[str, Any]:
    with open(SCHEMA_DIR / name, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def validate_config(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Validate the whole config and return every resolved preset (used outside Snakemake).

    Raises ``jsonschema.ValidationError`` / ``ValueError`` naming the offending key.
    """
    jsonschema.validate(config, load_schema("config.schema.yaml"))
    resolved = {}
    for name in config["presets"]:
        preset = resolve_preset(config, name)
        jsonschema.validate(preset, load_schema("preset.schema.yaml"))
        check_references(preset, name)
        resolved[name] = preset
    return resolved
