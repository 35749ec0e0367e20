"""Preset merging: a preset of ``config.yaml`` is a delta, merged by :func:`deep_merge`.

The resolved preset P, before validation (:func:`resolve_preset`), is, in order:

1. ``defaults`` (the settings every preset shares), or the resolved preset named by P's
   ``base`` (which starts from ``defaults`` itself), with ``presets.P`` merged in;
2. the top-level override blocks (same keys as a preset, e.g. ``--config 'training={max_iters: 50}'``),
   unless ``with_overrides`` is false (:func:`largelr.config.resolve_config` applies them to the chosen
   preset only, issue 25);
3. every dataset without a ``generator`` given its own name as one (``colored_mnist: {}``);
4. every figure named in ``figure_catalogue`` built from its catalogue entry (kind, metrics,
   title, ...) with the preset's entry merged in; a ``title_note`` of the preset's entry is
   appended to the catalogue's title in parentheses (``Fig 29: attributions (Colored MNIST, FCN)``).
"""

from __future__ import annotations

import copy
from typing import Any

from largelr.config.errors import ConfigError
from largelr.config.grid import label_tagged_figures

NON_PRESET_KEYS = {"preset", "presets", "defaults", "figure_catalogue", "smoke"}


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


def resolve_preset(config: dict[str, Any], name: str, with_overrides: bool = True) -> dict[str, Any]:
    """Preset ``name``: its delta over ``defaults`` (or its ``base``), the top-level overrides applied
    (``with_overrides``), generators and catalogue figures filled in (the module docstring's steps 1-4)."""
    preset = deep_merge(_delta_merged(config, name, ()), overrides(config) if with_overrides else {})
    for dataset, spec in preset.get("datasets", {}).items():
        if isinstance(spec, dict):
            spec.setdefault("generator", dataset)
    if isinstance(preset.get("figures"), dict):
        catalogue = config.get("figure_catalogue") or {}
        preset["figures"] = {
            figure: catalogue_figure(catalogue, figure, spec, f"presets.{name}.figures.{figure}")
            for figure, spec in preset["figures"].items()
        }
        label_tagged_figures(preset, name)
    return preset


def _delta_merged(config: dict[str, Any], name: str, children: tuple[str, ...]) -> dict[str, Any]:
    """``presets.<name>`` merged over ``defaults`` or over its ``base`` preset (recursively)."""
    presets = config["presets"]
    if name not in presets:
        where = f"presets.{children[-1]}.base" if children else "config key 'preset'"
        raise ConfigError(f"{where}: unknown preset {name!r}; defined: {sorted(presets)}")
    if name in children:
        raise ConfigError(f"presets.{name}.base: a cycle of bases ({' -> '.join(children + (name,))})")
    delta = presets[name] or {}
    base_name = delta.get("base")
    base = config.get("defaults") or {} if base_name is None else _delta_merged(config, base_name, children + (name,))
    return deep_merge(base, {key: value for key, value in delta.items() if key != "base"})


def catalogue_figure(catalogue: dict[str, Any], figure: str, spec: Any, where: str) -> Any:
    """Figure ``figure`` of a preset: ``catalogue[figure]`` with the preset's ``spec`` merged in and
    its ``title_note`` appended to the catalogue's title; ``spec`` alone for a figure not catalogued."""
    if not isinstance(spec, dict) or figure not in catalogue:
        if isinstance(spec, dict) and "title_note" in spec:
            raise ConfigError(f"{where}.title_note: {figure!r} is not in figure_catalogue, so it has no title to note")
        return spec
    entry = deep_merge(catalogue[figure], {key: value for key, value in spec.items() if key != "title_note"})
    if "title_note" in spec:
        if "title" in spec or "title" not in catalogue[figure]:
            raise ConfigError(f"{where}: give `title` or `title_note` (appended to figure_catalogue.{figure}.title)")
        entry["title"] = f"{catalogue[figure]['title']} ({spec['title_note']})"
    return entry
