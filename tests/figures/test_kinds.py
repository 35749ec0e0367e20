"""The figure-kind registry (largelr.figures.kinds): one module per kind, the schema's kind enum,
the plotting environment, and the inputs each kind names for the shipped presets (issue 20 item 1)."""

from __future__ import annotations

import importlib.util
import pkgutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

import largelr.figures.kinds as kinds_package
from largelr.config import resolve_config, training_grid
from largelr.figures.kind import FigureJob, InputPaths, drawn_files, plain_selection
from largelr.figures.kinds import KINDS, figure_kind

REPO = Path(__file__).resolve().parents[2]


def _schema_kind_enum(node) -> list[str] | None:
    """The ``enum`` of ``figures.<name>.kind`` in the preset schema, wherever the schema nests it."""
    if isinstance(node, dict):
        figures = node.get("figures")
        if isinstance(figures, dict):
            kind = (figures.get("additionalProperties") or {}).get("properties", {}).get("kind", {})
            if "enum" in kind:
                return list(kind["enum"])
        for value in node.values():
            found = _schema_kind_enum(value)
            if found is not None:
                return found
    elif isinstance(node, list):
        for value in node:
            found = _schema_kind_enum(value)
            if found is not None:
                return found
    return None


def test_the_schema_enum_names_exactly_the_registered_kinds():
    from largelr.config import load_preset_schema

    # the YAML lists no kinds (the registry is the one place to add one); the loaded schema has them
    assert _schema_kind_enum(yaml.safe_load((REPO / "workflow/schemas/preset.schema.yaml").read_text())) is None
    enum = _schema_kind_enum(load_preset_schema(REPO / "workflow/schemas"))
    assert enum is not None, "load_preset_schema: no figures.*.kind enum found"
    assert sorted(enum) == sorted(KINDS)


def test_every_kind_module_defines_its_kind_under_its_own_name():
    modules = {info.name for info in pkgutil.iter_modules(kinds_package.__path__)}
    assert modules == set(KINDS)
    for name, kind in KINDS.items():
        assert kind.name == name and callable(kind.inputs) and callable(kind.draw)
        assert kind.caption.strip() and "{{" not in kind.caption  # plain rst, {figure} only
        kind.caption.format(figure="figXX")
    with pytest.raises(KeyError, match="unknown figure kind 'pie'"):
        figure_kind("pie")


def _test_envs():
    spec = importlib.util.spec_from_file_location("_test_envs", REPO / "tests/test_envs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", sorted(KINDS))
def test_plot_env_provides_every_import_of_each_kind_and_no_torch(name):
    """scripts/plot_figure.py reaches the kinds through discovery, which test_envs.py cannot follow."""
    envs = _test_envs()
    provided = envs.env_packages(REPO / "envs/plot.yaml")
    module = REPO / "src/largelr/figures/kinds" / f"{name}.py"
    imports = envs.third_party_imports(module, REPO / "src")
    assert "torch" not in imports
    for top in sorted(imports):
        package = envs.PACKAGE_OF.get(top, top).lower()
        assert envs.EQUIVALENT.get(package, {package}) & provided, f"{name}: plot.yaml lacks {package!r}"


def _fake_paths() -> InputPaths:
    def cells(name, selections):
        return [f"{name}:" + ",".join(f"{k}={v}" for k, v in sorted(selection.items())) for selection in selections]

    return InputPaths(cells=cells, dataset=lambda d: f"data/{d}.npz", lr_filter=lambda d: f"lr_filter/{d}.csv",
                      group=lambda name, d, m, o: f"groups/{d}/{m}/{o}/{name}")


@pytest.mark.parametrize("preset", ["ci", "demo", "paper"])
def test_each_figure_of_the_shipped_presets_names_files(shipped_config, preset):
    resolved = resolve_config({**shipped_config, "preset": preset}, REPO / "workflow/schemas")[preset]
    grid = training_grid(resolved)
    for figure, spec in resolved["figures"].items():
        kind = figure_kind(spec["kind"])
        files = kind.inputs(spec, grid, _fake_paths())
        assert files, figure
        for value in files.values():
            assert isinstance(value, str) or all(isinstance(path, str) for path in value)
        assert isinstance(kind.params(spec, grid), dict)


def test_plain_selection_and_the_drawn_files_table():
    assert plain_selection({"recipe": "sgd"}) == {"recipe": "sgd", "intervention": "none"}
    assert plain_selection({"recipe": "adam", "model": "cnn"}, intervention=None) == {"recipe": "adam", "model": "cnn"}
    job = FigureJob("fig09", {}, "ci", {"runs": ["a/run.json", "b/run.json"], "dataset": "d.npz"}, "f.pdf", "f.png",
                    "f.csv")
    table = drawn_files(job)
    assert list(table.itertuples(index=False, name=None)) == [("runs", "a/run.json"), ("runs", "b/run.json"),
                                                               ("dataset", "d.npz")]
    assert job.title == "fig09" and "reduced scale" in job.note


def test_the_gallery_labels_one_panel_per_dataset_and_model():
    grid = pd.DataFrame([("parity", m, "sgd", 0.1, "none", 0) for m in ("fcn", "cnn")],
                        columns=["dataset", "model", "recipe", "lr", "intervention", "seed"])
    spec = {"dataset": "parity", "recipe": "sgd"}
    kind = figure_kind("attribution_gallery")
    assert kind.params(spec, grid) == {"labels": ["Parity · cnn", "Parity · fcn"]}
    assert kind.inputs(spec, grid, _fake_paths()) == {
        "galleries": ["groups/parity/cnn/sgd/gallery.npz", "groups/parity/fcn/sgd/gallery.npz"]}


def test_a_full_scale_preset_draws_no_scale_note():
    job = FigureJob("fig03", {}, "paper", {}, "f.pdf", "f.png", "f.csv", scale="full")
    assert job.note == ""
    assert "preset 'gpu'" in FigureJob("fig03", {}, "gpu", {}, "f.pdf", "f.png", "f.csv").note  # reduced by default
