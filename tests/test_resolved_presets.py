"""Every shipped preset resolves to its committed snapshot (issue 20: "the resolved preset must be unchanged").

``config.yaml`` may be rearranged (shared defaults, a figure catalogue, presets stating only their
differences), but what the workflow reads from it may not change: for each preset this test compares

- ``resolved``: the preset as :func:`largelr.config.resolve_config` returns it (validated, the schema's
  defaults filled in), the dict ``workflow/rules/common.smk`` builds every job from;
- ``preset``: the preset as :func:`largelr.config.resolve_preset` returns it (merged, not validated),
  which tests and benchmarks read;
- ``grid``: the rows of :func:`largelr.config.training_grid` (one training cell each, in order)

with ``tests/data/resolved_presets/<preset>.json``. Both sides are compared after one
normalisation, :func:`normalise`: a figure's single ``dataset: x`` reads as ``datasets: [x]`` (the
two spellings the figure readers treat alike, :func:`largelr.figure_spec.figure_datasets`).

Regenerate the snapshots with ``python tests/test_resolved_presets.py --write`` only for a change
that is meant to change what a preset builds, and justify the regeneration in the commit message.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAPSHOTS = REPO / "tests" / "data" / "resolved_presets"
SCHEMAS = REPO / "workflow" / "schemas"


def resolved_presets(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per preset of ``config``: its resolved dict, its merged (unvalidated) dict and its grid rows."""
    from largelr.config import resolve_config, resolve_preset, training_grid

    resolved = resolve_config(copy.deepcopy(config), SCHEMAS)
    return {
        name: {
            "resolved": preset,
            "preset": resolve_preset(copy.deepcopy(config), name),
            "grid": [list(row) for row in training_grid(preset).itertuples(index=False, name=None)],
        }
        for name, preset in resolved.items()
    }


def normalise(snapshot: dict[str, Any]) -> dict[str, Any]:
    """``snapshot`` with every figure's ``dataset: x`` written ``datasets: [x]``."""
    snapshot = copy.deepcopy(snapshot)
    for key in ("resolved", "preset"):
        for spec in snapshot[key].get("figures", {}).values():
            if "dataset" in spec:
                spec["datasets"] = [spec.pop("dataset")]
    return json.loads(json.dumps(snapshot))  # tuples as lists, as read back from the file


def to_json(snapshot: dict[str, Any]) -> str:
    """Sorted keys, two-space indents, each list of scalars on one line (a grid row per line)."""
    text = json.dumps(snapshot, indent=2, sort_keys=True)
    return re.sub(r"\[([^\[\]{}]*)\]", lambda m: "[" + re.sub(r"\s*\n\s*", " ", m.group(1)).strip() + "]", text)


def shipped_config() -> dict[str, Any]:
    return yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def current() -> dict[str, dict[str, Any]]:
    return resolved_presets(shipped_config())


def test_every_preset_has_a_snapshot(current):
    assert sorted(current) == sorted(path.stem for path in SNAPSHOTS.glob("*.json"))


@pytest.mark.parametrize("name", sorted(path.stem for path in SNAPSHOTS.glob("*.json")))
def test_resolved_preset_equals_its_snapshot(current, name):
    expected = normalise(json.loads((SNAPSHOTS / f"{name}.json").read_text(encoding="utf-8")))
    actual = normalise(current[name])
    assert actual["grid"] == expected["grid"]
    assert actual["preset"] == expected["preset"]
    assert actual["resolved"] == expected["resolved"]


def write_snapshots() -> None:
    """Write one snapshot per preset from the current code and config (see the module docstring)."""
    SNAPSHOTS.mkdir(parents=True, exist_ok=True)
    for path in SNAPSHOTS.glob("*.json"):
        path.unlink()
    for name, snapshot in resolved_presets(shipped_config()).items():
        (SNAPSHOTS / f"{name}.json").write_text(to_json(snapshot) + "\n", encoding="utf-8")
        print(f"wrote {SNAPSHOTS / name}.json ({len(snapshot['grid'])} cells)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="regenerate tests/data/resolved_presets/*.json")
    if parser.parse_args().write:
        sys.path.insert(0, str(REPO / "src"))
        write_snapshots()
    else:
        parser.print_help()
