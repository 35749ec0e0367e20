"""Preset merging: a preset of ``config.yaml`` with the top-level override blocks merged in."""

from __future__ import annotations

import copy
from typing import Any

from largelr.config.errors import ConfigError

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
        raise ConfigError(f"config key 'preset': unknown preset {name!r}; defined: {sorted(config['presets'])}")
    return deep_merge(config["presets"][name], overrides(config))
