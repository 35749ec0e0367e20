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
from largelr.figures.spec import figure_datasets  # noqa: F401  (re-exported: config users read figures)

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
        check_figure_metrics(preset, name, figure, spec)


# Figure metrics that are shares of Σ|IG| inside the core / spurious region masks (suppl. E.1).
REGION_SHARE_METRICS = ("core_attribution", "spurious_attribution")


def check_figure_metrics(preset: dict[str, Any], name: str, figure: str, spec: dict[str, Any]) -> None:
    """A figure's metrics must be defined for its datasets and computed by the preset's analysis:
    core / spurious attribution % only where the masks separate core from spurious pixels, the
    ``accuracy`` reading of prunability (``pruned_accuracy``) only if ``analysis.prune_normalisations``
    lists it."""
    from largelr.datasets.registry import masks_separate_core_and_spurious

    metrics = spec.get("metrics", [])
    for metric in (m for m in metrics if m in REGION_SHARE_METRICS):
        for dataset in figure_datasets(spec):
            if not masks_separate_core_and_spurious(preset["datasets"][dataset]["generator"]):
                raise ValueError(f"presets.{name}.figures.{figure}.metrics: {metric} is undefined on dataset "
                                 f"{dataset!r}: its region masks do not separate core from spurious pixels")
    normalisations = preset.get("analysis", {}).get("prune_normalisations", ["retention", "accuracy"])
    if any(m.startswith("pruned_accuracy") for m in metrics) and "accuracy" not in normalisations:
        raise ValueError(f"presets.{name}.figures.{figure}.metrics: pruned_accuracy needs 'accuracy' in "
                         f"presets.{name}.analysis.prune_normalisations")


def figure_kinds(presets: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Figure name → kind over all presets; a name must mean the same kind of figure everywhere."""
    kinds: dict[str, str] = {}
    for name, preset in presets.items():
        for figure, spec in preset.get("figures", {}).items():
            kind = spec.get("kind", "lr_sweep")
            if kinds.setdefault(figure, kind) != kind:
                raise ValueError(f"presets.{name}.figures.{figure}: kind {kind!r} differs from {kinds[figure]!r} "
                                 "elsewhere")
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


class ConfigError(ValueError):
    """An invalid configuration; the message names the offending key."""


def load_schema(schema_dir: str | Path, name: str) -> dict[str, Any]:
    with open(Path(schema_dir) / name, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def resolve_config(config: dict[str, Any], schema_dir: str | Path) -> dict[str, dict[str, Any]]:
    """Validate the whole config and return every preset resolved, defaults filled in.

    The one config resolution of the project, for the workflow (``common.smk``) and the tests:
    ``schema_dir`` is the folder of ``config.schema.yaml`` / ``preset.schema.yaml`` (the
    workflow passes ``workflow/schemas`` below its ``workflow.basedir``).

    1. ``config`` against ``config.schema.yaml``;
    2. per preset: the top-level overrides merged in (:func:`resolve_preset`), strings read by
       the schema's types (:func:`coerce_to_schema`: ``--config 'training={max_iters: 300}'``
       reaches Snakemake's ``config`` as ``{'max_iters': '300'}``), then validated against
       ``preset.schema.yaml`` with its defaults filled in, the references checked
       (:func:`check_references`) and each dataset's ``params`` checked against its generator;
    3. ``config["preset"]`` must name one of the presets.

    Raises :class:`ConfigError` naming the offending key.
    """
    # the generator registry knows which params each dataset generator takes; imported here so
    # that the plumbing modules stay importable without the dataset layer at module level
    from largelr.datasets.registry import check_params

    config_schema = load_schema(schema_dir, "config.schema.yaml")
    config = coerce_to_schema(config, config_schema)
    _validate(config, config_schema, "config")
    resolved = {}
    for name in config["presets"]:
        preset_schema = load_schema(schema_dir, "preset.schema.yaml")
        preset = coerce_to_schema(resolve_preset(config, name), preset_schema)
        _validate(preset, preset_schema, f"presets.{name} (after overrides)", fill_defaults=True)
        check_references(preset, name)
        for dataset, spec in preset["datasets"].items():
            check_params(dataset, spec)
        resolved[name] = preset
    if config["preset"] not in resolved:
        raise ConfigError(f"config key 'preset': unknown preset {config['preset']!r}; defined: {sorted(resolved)}")
    return resolved


def coerce_to_schema(value: Any, schema: dict[str, Any]) -> Any:
    """``value`` with every string that stands where the schema wants an integer, number or
    boolean read as one (nested objects and arrays included); strings that do not parse stay,
    for the validation to name them. Snakemake parses a nested ``--config`` value with YAML's
    BaseLoader, which leaves every scalar a string."""
    if isinstance(value, dict):
        return {key: coerce_to_schema(item, _property_schema(schema, key)) for key, item in value.items()}
    if isinstance(value, list):
        items = schema.get("items")
        return [coerce_to_schema(item, items) for item in value] if isinstance(items, dict) else list(value)
    if isinstance(value, str):
        return _read_scalar(value, _schema_types(schema))
    return value


def _property_schema(schema: dict[str, Any], key: str) -> dict[str, Any]:
    if key in schema.get("properties", {}):
        return schema["properties"][key]
    additional = schema.get("additionalProperties")
    return additional if isinstance(additional, dict) else {}


def _schema_types(schema: dict[str, Any]) -> set[str]:
    """The JSON types a schema (or any branch of its ``oneOf`` / ``anyOf``) accepts."""
    declared = schema.get("type", [])
    types = {declared} if isinstance(declared, str) else set(declared)
    for branch in schema.get("oneOf", []) + schema.get("anyOf", []):
        types |= _schema_types(branch)
    return types


def _read_scalar(text: str, types: set[str]) -> Any:
    if "string" in types:
        return text
    if types & {"integer", "number"}:
        try:
            return int(text)
        except ValueError:
            pass
    if "number" in types:
        try:
            return float(text)
        except ValueError:
            pass
    if "boolean" in types and text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def _validate(instance: dict[str, Any], schema: dict[str, Any], where: str, fill_defaults: bool = False) -> None:
    """jsonschema validation (as ``snakemake.utils.validate``: optionally filling defaults in place)."""
    validator_class = jsonschema.validators.validator_for(schema)
    if fill_defaults:
        validator_class = _with_defaults(validator_class)
    error = jsonschema.exceptions.best_match(validator_class(schema).iter_errors(instance))
    if error is not None:
        key = ".".join(map(str, error.absolute_path))
        raise ConfigError(f"invalid {where}{': key ' + key if key else ''}: {error.message}") from error


def _with_defaults(validator_class: Any) -> Any:
    """A validator class that fills each missing property that has a ``default`` (a copy of it)."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})
