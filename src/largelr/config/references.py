"""References: what experiments and figures name must be defined by their preset, and a figure's
metrics must be computed for its datasets."""

from __future__ import annotations

from typing import Any

from largelr.config.errors import ConfigError
from largelr.config.grid import _intervention_labels, experiment_recipe
from largelr.figure_spec import figure_datasets


def check_references(preset: dict[str, Any], name: str) -> None:
    """Every experiment and figure must name datasets/models/recipes that the preset defines."""
    check_unique_cells(preset, name)
    for i, experiment in enumerate(preset["experiments"]):
        for key, table in (("dataset", "datasets"), ("model", "models"), ("recipe", "recipes")):
            if experiment[key] not in preset[table]:
                raise ConfigError(
                    f"presets.{name}.experiments[{i}].{key}: {experiment[key]!r} is not defined under "
                    f"presets.{name}.{table} (defined: {sorted(preset[table])})"
                )
    for dataset in preset.get("analysis", {}).get("attribution_datasets", []):
        if dataset not in preset["datasets"]:
            raise ConfigError(f"presets.{name}.analysis.attribution_datasets: {dataset!r} is not defined under "
                             f"presets.{name}.datasets")
    for figure, spec in preset.get("figures", {}).items():
        if not figure_datasets(spec):
            raise ConfigError(f"presets.{name}.figures.{figure}: give `datasets`")
        if spec.get("kind") == "pruning_curves" and "method" not in spec:
            raise ConfigError(f"presets.{name}.figures.{figure}.method: a pruning_curves figure needs a method")
        for dataset in figure_datasets(spec):
            if dataset not in preset["datasets"]:
                raise ConfigError(f"presets.{name}.figures.{figure}: dataset {dataset!r} is not defined under "
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
                raise ConfigError(f"presets.{name}.figures.{figure}.metrics: {metric} is undefined on dataset "
                                 f"{dataset!r}: its region masks do not separate core from spurious pixels")
    normalisations = preset.get("analysis", {}).get("prune_normalisations", ["retention", "accuracy"])
    if any(m.startswith("pruned_accuracy") for m in metrics) and "accuracy" not in normalisations:
        raise ConfigError(f"presets.{name}.figures.{figure}.metrics: pruned_accuracy needs 'accuracy' in "
                         f"presets.{name}.analysis.prune_normalisations")


def figure_kinds(presets: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Figure name → kind over all presets; a name must mean the same kind of figure everywhere."""
    kinds: dict[str, str] = {}
    for name, preset in presets.items():
        for figure, spec in preset.get("figures", {}).items():
            kind = spec.get("kind", "lr_sweep")
            if kinds.setdefault(figure, kind) != kind:
                raise ConfigError(f"presets.{name}.figures.{figure}: kind {kind!r} differs from {kinds[figure]!r} "
                                 "elsewhere")
    return kinds


def check_unique_cells(preset: dict[str, Any], name: str) -> None:
    """A cell listed by two experiments must get the same training settings from both."""
    seen: dict[tuple, dict] = {}
    for i, experiment in enumerate(preset["experiments"]):
        overrides = experiment.get("training", {})
        for lr in experiment["lrs"]:
            for intervention in _intervention_labels(experiment):
                key = (experiment["dataset"], experiment["model"], experiment_recipe(experiment), float(lr),
                       intervention)
                if seen.setdefault(key, overrides) != overrides:
                    raise ConfigError(f"presets.{name}.experiments[{i}].training: cell {key} is also listed by "
                                     f"another experiment with different training settings")
