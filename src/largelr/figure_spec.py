"""Reading a figure's entry in a preset (``figures.<name>`` of ``config.yaml``): plumbing that config,
reporting and figures share (below them all, so none imports upwards).

Dependency-free on purpose: plotting scripts run in ``envs/plot.yaml``, which has neither torch
nor the dataset layer that ``largelr.config``'s validation reaches.
"""

from __future__ import annotations

from typing import Any


def figure_datasets(spec: dict[str, Any]) -> list[str]:
    """The datasets a figure draws: its ``datasets`` list (the one key ``config.yaml`` and the preset
    schema admit), or the single ``dataset`` of a spec built in code."""
    return list(spec.get("datasets", [])) or ([spec["dataset"]] if "dataset" in spec else [])
