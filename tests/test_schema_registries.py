"""Each enum of the preset schema equals the registry in the code that it names (issue 20 item 1).

Dataset generators, metrics and figure kinds are filled in from their registries when the schema is
loaded (largelr.config.load_preset_schema); the other enums stay in the YAML and are compared here.

The schema (``workflow/schemas/preset.schema.yaml``) rejects a config mistake at parse time, the
registries (dataset generators, model archs, optimizer kinds, ...) are what the code accepts: adding a
thing to one and not the other fails here, naming both. Metrics and figure kinds have tests of their
own (tests/test_metric_registry.py, tests/figures/test_kinds.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return yaml.safe_load((REPO / "workflow/schemas/preset.schema.yaml").read_text())


def _at(schema: dict[str, Any], *path: str) -> dict[str, Any]:
    """The sub-schema at ``path``: property names, with ``*`` for an object's additionalProperties and
    ``[]`` for an array's items; ``$ref``s into ``$defs`` are followed."""
    node = schema
    for key in path:
        while "$ref" in node:
            node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
        node = node["additionalProperties"] if key == "*" else node["items"] if key == "[]" else node["properties"][key]
    while "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _enum(node: dict[str, Any]) -> set[str]:
    return set(node.get("enum") or node.get("items", {}).get("enum") or node["propertyNames"]["enum"])


def test_dataset_generators_are_the_generator_registry(schema):
    from largelr.config import load_preset_schema
    from largelr.datasets.registry import GENERATORS

    assert "enum" not in _at(schema, "datasets", "*", "generator")  # filled in from the registry on load
    loaded = load_preset_schema(REPO / "workflow/schemas")
    assert _enum(_at(loaded, "datasets", "*", "generator")) == set(GENERATORS)


def test_model_archs_optimizer_schedule_and_loss_kinds_are_the_trainings(schema):
    from largelr.training.models import KNOWN_ARCHS
    from largelr.training.objectives import LOSS_KINDS
    from largelr.training.optim import OPTIMIZER_KINDS, SCHEDULE_KINDS

    assert _enum(_at(schema, "models", "*", "arch")) == set(KNOWN_ARCHS)
    assert _enum(_at(schema, "recipes", "*", "kind")) == set(OPTIMIZER_KINDS)
    assert _enum(_at(schema, "recipes", "*", "schedule", "kind")) == set(SCHEDULE_KINDS)
    assert _enum(_at(schema, "recipes", "*", "loss", "kind")) == set(LOSS_KINDS)


def test_interventions_are_the_recipes(schema):
    from largelr.training.recipes import INTERVENTIONS

    assert _enum(_at(schema, "experiments", "[]", "vary")) == set(INTERVENTIONS)


def test_pruning_rankings_normalisations_and_attribution_methods_are_the_analyses(schema):
    from largelr.analyses.attribution import METHODS
    from largelr.analyses.pruning import PRUNE_RANKINGS
    from largelr.columns import PRUNE_NORMALISATIONS

    assert _enum(_at(schema, "analysis", "prune_rankings")) == set(PRUNE_RANKINGS)
    assert _enum(_at(schema, "analysis", "prune_normalisations")) == set(PRUNE_NORMALISATIONS)
    assert _enum(_at(schema, "analysis", "attribution_method")) <= set(METHODS)
