"""Schema validation and types: ``config.yaml``'s strings read by the schema's types, then checked
against ``workflow/schemas/*.schema.yaml`` with the schema's defaults filled in; every preset is
checked before any job starts."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from largelr.config.errors import ConfigError


def load_schema(schema_dir: str | Path, name: str) -> dict[str, Any]:
    with open(Path(schema_dir) / name, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def coerce_to_schema(value: Any, schema: dict[str, Any], root: dict[str, Any] | None = None) -> Any:
    """``value`` with every string that stands where the schema wants an integer, number or
    boolean read as one (nested objects and arrays included); strings that do not parse stay,
    for the validation to name them. Snakemake parses a nested ``--config`` value with YAML's
    BaseLoader, which leaves every scalar a string. ``root``: the schema whose ``$defs`` a
    ``$ref`` names (default: ``schema``)."""
    root = schema if root is None else root
    schema = _dereferenced(schema, root)
    if isinstance(value, dict):
        return {key: coerce_to_schema(item, _property_schema(schema, key), root) for key, item in value.items()}
    if isinstance(value, list):
        items = schema.get("items")
        return [coerce_to_schema(item, items, root) for item in value] if isinstance(items, dict) else list(value)
    if isinstance(value, str):
        return _read_scalar(value, _schema_types(schema, root))
    return value


def _dereferenced(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with a local ``$ref`` (``#/$defs/lrs``) replaced by its target, sibling keys kept."""
    reference = schema.get("$ref")
    if not isinstance(reference, str) or not reference.startswith("#/"):
        return schema
    target: Any = root
    for part in reference[2:].split("/"):
        target = target[part]
    siblings = {key: value for key, value in schema.items() if key != "$ref"}
    return {**_dereferenced(target, root), **siblings}


def _property_schema(schema: dict[str, Any], key: str) -> dict[str, Any]:
    if key in schema.get("properties", {}):
        return schema["properties"][key]
    additional = schema.get("additionalProperties")
    return additional if isinstance(additional, dict) else {}


def _schema_types(schema: dict[str, Any], root: dict[str, Any]) -> set[str]:
    """The JSON types a schema (or any branch of its ``oneOf`` / ``anyOf``) accepts."""
    schema = _dereferenced(schema, root)
    declared = schema.get("type", [])
    types = {declared} if isinstance(declared, str) else set(declared)
    for branch in schema.get("oneOf", []) + schema.get("anyOf", []):
        types |= _schema_types(branch, root)
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
