"""Config presets, overrides, grid expansion and validation errors that name the key."""

from __future__ import annotations

import subprocess
import sys

import jsonschema
import pytest

from largelr.config import deep_merge, resolve_preset, training_grid, validate_config


@pytest.fixture
def config(shipped_config):
    return shipped_config


def test_shipped_config_validates_and_fills_defaults(config):
    presets = validate_config(config)
    assert {"ci", "demo", "paper"} <= set(presets)
    assert config["preset"] == "demo"


def test_paper_preset_carries_table1_lr_range_and_at_least_three_seeds(config):
    paper = resolve_preset(config, "paper")
    grid = training_grid(paper)
    for dataset in ("parity", "moon_star"):
        lrs = grid[grid["dataset"] == dataset]["lr"]
        assert (lrs.min(), lrs.max()) == (0.01, 0.75)  # Table 1: parity and moon-star FCN
    assert len(paper["seeds"]) >= 3


def test_grid_has_one_row_per_cell_and_experiment_seeds_override(config):
    preset = {
        "seeds": [0, 1],
        "experiments": [
            {"dataset": "d", "model": "m", "optimizer": "o", "lrs": [0.1, 0.2]},
            {"dataset": "d", "model": "m", "optimizer": "o", "lrs": [9.0], "seeds": [5], "vary": {"l2": [1e-4, 1e-3]}},
        ],
    }
    grid = training_grid(preset)
    assert list(grid.columns) == ["dataset", "model", "optimizer", "lr", "hp", "seed"]
    assert sorted(zip(grid["lr"], grid["hp"], grid["seed"])) == [
        (0.1, "none", 0), (0.1, "none", 1), (0.2, "none", 0), (0.2, "none", 1),
        (9.0, "l2=0.0001", 5), (9.0, "l2=0.001", 5),
    ]


def test_top_level_override_is_deep_merged_into_every_preset(config):
    overridden = dict(config, training={"max_iters": 7})
    ci = resolve_preset(overridden, "ci")
    assert ci["training"]["max_iters"] == 7
    assert ci["training"]["eval_interval"] == config["presets"]["ci"]["training"]["eval_interval"]
    assert deep_merge({"a": {"b": 1, "c": 2}}, {"a": {"b": 3}}) == {"a": {"b": 3, "c": 2}}


def test_unknown_key_inside_a_preset_is_rejected_naming_it(config):
    bad = deep_merge(config, {"presets": {"ci": {"training": {"max_iter": 5}}}})
    with pytest.raises(jsonschema.ValidationError, match="max_iter"):
        validate_config(bad)


def test_experiment_referencing_an_undefined_model_names_the_key(config):
    bad = deep_merge(config, {})
    bad["presets"]["ci"]["experiments"][0]["model"] = "no_such_model"
    with pytest.raises(ValueError, match=r"presets\.ci\.experiments\[0\]\.model"):
        validate_config(bad)


@pytest.mark.parametrize(
    "override, expected",
    [
        ("bogus=1", "'bogus' was unexpected"),
        ("training={max_iters: many}", "is not of type 'integer'"),
        ("preset=nope", "unknown preset 'nope'"),
        ("datasets={parity: {generator: parity, params: {core_bitz: 3}}}", "core_bitz"),
    ],
)
def test_snakemake_fails_before_any_job_naming_the_bad_key(repo, tmp_path, override, expected):
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(repo / "Snakefile"), "--directory", str(tmp_path),
         "-n", "--config", override],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode != 0
    assert expected in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()
