"""Presets, overrides and the training grid: the one config resolution of the project.

The package by job: :mod:`.presets` (merging), :mod:`.schema` (validation and types),
:mod:`.references` (names a preset must define), :mod:`.grid` (the training grid); one error type,
:class:`ConfigError`. Every public name is importable from ``largelr.config``.

``config.yaml`` holds ``preset`` (the default one to run), ``presets`` (``ci``, ``demo``,
``paper``, ...) and optionally top-level override blocks with the same keys as a preset.
The resolved configuration of preset P is ``deep_merge(presets[P], overrides)``, so
``--config preset=ci 'training={max_iters: 50}'`` changes one key of the ci preset.

The grid is a table with one row per training cell (dataset, model, recipe, lr, intervention, seed),
expanded from the preset's ``experiments`` list (``intervention`` is ``name=value`` of an intervention
of :mod:`largelr.training.recipes`, or ``none``); Snakemake's ``Paramspace`` turns it into one
readable folder per cell: ``dataset~parity/model~fcn/recipe~sgd/lr~0.1/intervention~none/seed~0``.
An experiment's ``tag`` keeps its cells apart from the same recipe's others: its grid ``recipe`` is
``RECIPE+TAG`` (:func:`recipe_label`; :func:`recipe_name` gives the recipe back).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from largelr.config.errors import ConfigError
from largelr.config.grid import cell_training, label_tagged_figures, recipe_label, recipe_name, training_grid
from largelr.config.presets import NON_PRESET_KEYS, deep_merge, overrides, resolve_preset
from largelr.config.references import (
    REGION_SHARE_METRICS,
    check_figure_metrics,
    check_references,
    check_unique_cells,
    figure_kinds,
)
from largelr.config.smoke import is_smoke, smoke_name, smoke_preset
from largelr.config.schema import _validate, coerce_to_schema, load_schema
from largelr.figure_spec import figure_datasets

__all__ = [
    "NON_PRESET_KEYS", "REGION_SHARE_METRICS", "ConfigError", "cell_training", "check_figure_metrics",
    "check_references", "check_unique_cells", "coerce_to_schema", "deep_merge", "figure_datasets",
    "figure_kinds", "load_preset_schema", "load_schema", "overrides", "resolve_config", "resolve_preset",
    "label_tagged_figures", "recipe_label", "recipe_name", "training_grid", "is_smoke", "run_preset",
    "smoke_name", "smoke_preset",
]


def load_preset_schema(schema_dir: str | Path) -> dict[str, Any]:
    """``preset.schema.yaml`` with the enums that a registry of the code defines filled in from it.

    One place to add a dataset generator, a metric or a figure kind (issue 20): the schema names
    none of them, the registries do (:data:`largelr.datasets.registry.GENERATORS`,
    :data:`largelr.metric_registry.METRICS`, :data:`largelr.figures.kinds.KINDS`), and a config
    naming an unknown one still fails at parse time, naming the key.
    """
    # imported here: the plumbing modules stay importable without the dataset layer (torch, PIL)
    from largelr.datasets.registry import GENERATORS
    from largelr.figures.kinds import KINDS
    from largelr.metric_registry import LR_SWEEP_METRICS

    schema = load_schema(schema_dir, "preset.schema.yaml")
    dataset = schema["properties"]["datasets"]["additionalProperties"]["properties"]
    dataset["generator"]["enum"] = sorted(GENERATORS)
    figure = schema["properties"]["figures"]["additionalProperties"]["properties"]
    figure["kind"]["enum"] = sorted(KINDS)
    figure["metrics"]["items"]["enum"] = list(LR_SWEEP_METRICS)
    return schema


def resolve_config(config: dict[str, Any], schema_dir: str | Path) -> dict[str, dict[str, Any]]:
    """Validate the whole config and return every preset resolved, defaults filled in.

    The one config resolution of the project, for the workflow (``common.smk``) and the tests:
    ``schema_dir`` is the folder of ``config.schema.yaml`` / ``preset.schema.yaml`` (the
    workflow passes ``workflow/schemas`` below its ``workflow.basedir``).

    1. ``config`` against ``config.schema.yaml``;
    2. per preset: the top-level overrides merged in (:func:`resolve_preset`; into the chosen preset
       ``config["preset"]`` only, the others validated as written, issue 25), strings read by
       the schema's types (:func:`coerce_to_schema`: ``--config 'training={max_iters: 300}'``
       reaches Snakemake's ``config`` as ``{'max_iters': '300'}``), then validated against
       ``preset.schema.yaml`` with its defaults filled in, the references checked
       (:func:`check_references`) and each dataset's ``params`` checked against its generator;
    3. ``config["preset"]`` must name one of the presets;
    4. with ``smoke: true``, the chosen preset's smoke added as ``P-smoke``
       (:func:`largelr.config.smoke.smoke_preset`), validated the same way.

    Raises :class:`ConfigError` naming the offending key.
    """
    config_schema = load_schema(schema_dir, "config.schema.yaml")
    config = coerce_to_schema(config, config_schema)
    _validate(config, config_schema, "config")
    preset_schema = load_preset_schema(schema_dir)  # read once: validation copies its defaults, never edits it
    resolved = {}
    for name in config["presets"]:
        chosen = name == config["preset"]
        preset = coerce_to_schema(resolve_preset(config, name, with_overrides=chosen), preset_schema)
        resolved[name] = _checked(preset, preset_schema, name, "(after overrides)" if chosen else "(as written)")
    if config["preset"] not in resolved:
        raise ConfigError(f"config key 'preset': unknown preset {config['preset']!r}; defined: {sorted(resolved)}")
    if smoke_requested(config):
        name = smoke_name(config["preset"])
        resolved[name] = _checked(smoke_preset(resolved[config["preset"]]), preset_schema, name, "(smoke: true)")
    return resolved


def run_preset(config: dict[str, Any]) -> str:
    """The preset ``rule all`` builds: ``config["preset"]``, or its smoke (``paper-smoke``) with ``smoke: true``."""
    return smoke_name(config["preset"]) if smoke_requested(config) else config["preset"]


def smoke_requested(config: dict[str, Any]) -> bool:
    """Whether ``config`` asks for the smoke: ``smoke: true``, or ``--config smoke=true`` (a string there,
    so ``smoke=false`` is False)."""
    smoke = config.get("smoke")
    return smoke.lower() == "true" if isinstance(smoke, str) else bool(smoke)


def _checked(preset: dict[str, Any], schema: dict[str, Any], name: str, note: str) -> dict[str, Any]:
    """``preset`` validated (defaults filled in), its references and dataset params checked."""
    # the generator registry knows which params each dataset generator takes; imported here so
    # that the plumbing modules stay importable without the dataset layer at module level
    from largelr.datasets.registry import check_params

    _validate(preset, schema, f"presets.{name}{' ' + note if note else ''}", fill_defaults=True)
    check_references(preset, name)
    for dataset, spec in preset["datasets"].items():
        try:
            check_params(dataset, spec)
        except ValueError as error:  # the generator's message names the key: one error type
            raise ConfigError(f"presets.{name}.{error}") from error
    return preset
