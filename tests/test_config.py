"""Config presets, overrides, grid expansion and validation errors that name the key."""

from __future__ import annotations

import dataclasses
import inspect

import pytest
import yaml
from snakemake.cli import parse_config

from helpers import run_snakemake
from largelr.config import ConfigError, deep_merge, resolve_config, resolve_preset, training_grid


@pytest.fixture
def config(shipped_config):
    return shipped_config


@pytest.fixture
def schemas(repo):
    return repo / "workflow" / "schemas"


def test_shipped_config_validates_and_fills_defaults(config, schemas):
    presets = resolve_config(config, schemas)
    assert {"ci", "demo", "paper"} <= set(presets)
    assert config["preset"] == "demo"
    assert presets["ci"]["analysis"]["landscape"]["seed"] == 0  # a default of preset.schema.yaml


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
            {"dataset": "d", "model": "m", "recipe": "o", "lrs": [0.1, 0.2]},
            {"dataset": "d", "model": "m", "recipe": "o", "lrs": [9.0], "seeds": [5], "vary": {"l2": [1e-4, 1e-3]}},
        ],
    }
    grid = training_grid(preset)
    assert list(grid.columns) == ["dataset", "model", "recipe", "lr", "intervention", "seed"]
    assert sorted(zip(grid["lr"], grid["intervention"], grid["seed"])) == [
        (0.1, "none", 0), (0.1, "none", 1), (0.2, "none", 0), (0.2, "none", 1),
        (9.0, "l2=0.0001", 5), (9.0, "l2=0.001", 5),
    ]


def test_a_tag_keeps_an_experiments_cells_apart_from_the_same_recipes_others(config, schemas):
    """Issue 20: `tag:` in place of a renamed copy of a recipe (paper's Table 2 sweep: sgd+table2)."""
    from largelr.config import cell_training, recipe_name

    preset = {"seeds": [0], "training": {"max_iters": 5}, "experiments": [
        {"dataset": "d", "model": "m", "recipe": "sgd", "lrs": [0.1]},
        {"dataset": "d", "model": "m", "recipe": "sgd", "tag": "table2", "lrs": [0.1], "training": {"max_iters": 9}},
    ]}
    grid = training_grid(preset)
    assert list(grid["recipe"]) == ["sgd", "sgd+table2"] and set(grid["lr"]) == {0.1}  # two cells, one LR
    assert [recipe_name(label) for label in grid["recipe"]] == ["sgd", "sgd"]  # both train recipe sgd
    assert [cell_training(preset, row)["max_iters"] for row in grid.to_dict("records")] == [5, 9]
    paper = resolve_config(config, schemas)["paper"]
    assert "sgd_table2" not in paper["recipes"] and paper["figures"]["fig06"]["recipe"] == "sgd+table2"
    bad = deep_merge(config, {})
    bad["presets"]["paper"]["figures"]["fig06"]["tag"] = "Table 2"
    with pytest.raises(ConfigError, match=r"presets\.paper\.figures\.fig06\.tag"):
        resolve_config(bad, schemas)
    for where, value in (("experiments", "Table-2"), ("recipes", None)):
        bad = deep_merge(config, {})
        if value:  # a tag must be a plain name, and a recipe's name cannot hold the separator
            bad["presets"]["ci"]["experiments"][0]["tag"] = value
        else:
            bad["presets"]["ci"]["recipes"]["sgd+x"] = {"kind": "sgd"}
        with pytest.raises(ConfigError, match=rf"presets\.ci .*{where}"):
            resolve_config(bad, schemas)


def test_top_level_override_is_deep_merged_into_every_preset(config):
    overridden = dict(config, training={"max_iters": 7})
    ci = resolve_preset(overridden, "ci")
    assert ci["training"]["max_iters"] == 7
    assert ci["training"]["eval_interval"] == resolve_preset(config, "ci")["training"]["eval_interval"]
    assert deep_merge({"a": {"b": 1, "c": 2}}, {"a": {"b": 3}}) == {"a": {"b": 3, "c": 2}}


def test_unknown_key_inside_a_preset_is_rejected_naming_it(config, schemas):
    bad = deep_merge(config, {"presets": {"ci": {"training": {"max_iter": 5}}}})
    with pytest.raises(ConfigError, match=r"presets\.ci .*key training: .*'max_iter' was unexpected"):
        resolve_config(bad, schemas)


def test_experiment_referencing_an_undefined_model_names_the_key(config, schemas):
    bad = deep_merge(config, {})
    bad["presets"]["ci"]["experiments"][0]["model"] = "no_such_model"
    with pytest.raises(ConfigError, match=r"presets\.ci\.experiments\[0\]\.model"):
        resolve_config(bad, schemas)


def test_unknown_dataset_param_and_unknown_preset_are_rejected(config, schemas):
    bad = deep_merge(config, {"datasets": {"parity": {"generator": "parity", "params": {"core_bitz": 3}}}})
    with pytest.raises(ConfigError, match=r"presets\.ci\.datasets\.parity\.params: .*core_bitz"):  # the generator lacks it
        resolve_config(bad, schemas)
    with pytest.raises(ConfigError, match="unknown preset 'nope'"):
        resolve_config(dict(config, preset="nope"), schemas)


def _with_cli_config(config, *entries):
    """``config`` updated by ``--config entries`` as Snakemake does it (strings inside nested values)."""
    return deep_merge(config, parse_config(list(entries)))


def test_readme_override_with_nested_values_is_read_by_the_schema_types(config, schemas):
    # README: snakemake --cores all --config preset=ci 'training={max_iters: 300}'
    overridden = _with_cli_config(config, "preset=ci", "training={max_iters: 300, divergence_loss: 1e3}",
                                  "seeds=[3, 4]", "download=true")
    assert overridden["training"]["max_iters"] == "300"  # what Snakemake hands over
    ci = resolve_config(overridden, schemas)["ci"]
    assert ci["training"]["max_iters"] == 300 and isinstance(ci["training"]["max_iters"], int)
    assert ci["training"]["divergence_loss"] == 1000.0
    assert ci["seeds"] == [3, 4] and ci["download"] is True
    assert ci["training"]["eval_interval"] == resolve_preset(config, "ci")["training"]["eval_interval"]


def test_nested_override_that_does_not_parse_is_still_rejected(config, schemas):
    overridden = _with_cli_config(config, "training={max_iters: many}")
    with pytest.raises(ConfigError, match="key training.max_iters: 'many' is not of type 'integer'"):
        resolve_config(overridden, schemas)


@pytest.mark.parametrize(
    "override, expected",
    [
        ("bogus=1", "'bogus' was unexpected"),
        ("training={max_iters: many}", "is not of type 'integer'"),
        ("preset=nope", "unknown preset 'nope'"),
        ("datasets={parity: {generator: parity, params: {core_bitz: 3}}}", "core_bitz"),
    ],
)
def test_snakemake_fails_before_any_job_naming_the_bad_key(tmp_path, override, expected):
    result = run_snakemake(tmp_path, "-n", "--config", override, timeout=120)
    assert result.returncode != 0
    assert expected in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


# ---- one default per key: the code's defaults are the schema's ----------------------------------

def _schema_defaults(schemas, *path):
    """``{key: default}`` of the properties at ``path`` in preset.schema.yaml."""
    node = yaml.safe_load((schemas / "preset.schema.yaml").read_text())
    for key in path:
        node = node["properties"][key]
    return {key: spec["default"] for key, spec in node["properties"].items() if "default" in spec}


def test_training_defaults_of_the_code_are_the_schemas(schemas):
    from largelr.training.protocol import TrainSettings
    from largelr.training.runs import train_group

    schema = _schema_defaults(schemas, "training")
    fields = {f.name: f.default for f in dataclasses.fields(TrainSettings)}
    shared = set(schema) & set(fields)
    job_keys = {"engine", "matmul_precision"}  # settings of the training job, not of one run
    assert shared == set(schema) - job_keys  # every other training key is a TrainSettings field
    assert {key: fields[key] for key in shared} == {key: schema[key] for key in shared}
    for key in job_keys:
        assert inspect.signature(train_group).parameters[key].default == schema[key]


def test_analysis_defaults_of_the_code_are_the_schemas(schemas):
    from largelr.analyses.landscape import LANDSCAPE_DEFAULTS
    from largelr.columns import DEFAULT_PRUNE_RANKINGS

    assert LANDSCAPE_DEFAULTS == _schema_defaults(schemas, "analysis", "landscape")
    assert list(DEFAULT_PRUNE_RANKINGS) == _schema_defaults(schemas, "analysis")["prune_rankings"]


def test_a_figure_asking_for_core_attribution_on_colored_mnist_fails_naming_the_dataset(config, schemas):
    figures = config["presets"]["demo"]["figures"]
    figures["fig26"] = {**figures["fig26"], "datasets": ["double_mnist", "colored_mnist"]}
    with pytest.raises(ConfigError, match=r"presets\.demo\.figures\.fig26\.metrics: core_attribution .*'colored_mnist'"):
        resolve_config(config, schemas)


def test_pruned_accuracy_figures_need_the_accuracy_normalisation(config, schemas):
    from largelr.columns import DEFAULT_PRUNE_NORMALISATIONS

    presets = resolve_config(config, schemas)
    assert list(DEFAULT_PRUNE_NORMALISATIONS) == _schema_defaults(schemas, "analysis")["prune_normalisations"]
    for name in ("demo", "paper"):  # every ranking and both readings of §3.2
        analysis = presets[name]["analysis"]
        assert analysis["prune_normalisations"] == ["retention", "accuracy"]
        assert analysis["prune_rankings"] == ["weight_norm", "activation", "global_weight_norm"]
    assert "pruned_accuracy" in presets["demo"]["figures"]["fig03"]["metrics"]  # parity: the paper's reading
    config["presets"]["demo"]["analysis"]["prune_normalisations"] = ["retention"]
    with pytest.raises(ConfigError, match=r"presets\.demo\.figures\.fig03\.metrics: pruned_accuracy needs"):
        resolve_config(config, schemas)


def test_every_config_mistake_is_a_config_error(config, schemas):
    """One error type (issue 20 item 3), still a ValueError for callers that catch that."""
    assert issubclass(ConfigError, ValueError)
    with pytest.raises(ConfigError, match="unknown preset 'nope'"):
        resolve_preset(config, "nope")
    bad = deep_merge(config, {"presets": {"ci": {"analysis": {"attribution_datasets": ["nowhere"]}}}})
    with pytest.raises(ConfigError, match=r"presets\.ci\.analysis\.attribution_datasets: 'nowhere'"):
        resolve_config(bad, schemas)


# ---- presets state only their differences (issue 20 item 2) -------------------------------------

def _tiny_config(**presets):
    """A config of ``presets`` over shared defaults and a one-figure catalogue."""
    return {
        "preset": next(iter(presets)),
        "defaults": {"seeds": [0], "training": {"max_iters": 100, "eval_interval": 10},
                     "datasets": {"parity": {"params": {"n_train": 200}}},
                     "models": {"fcn": {"arch": "fcn", "width": 8, "depth": 1}},
                     "recipes": {"sgd": {"kind": "sgd"}},
                     "experiments": [{"dataset": "parity", "model": "fcn", "recipe": "sgd", "lrs": [0.1]}]},
        "figure_catalogue": {"fig03": {"metrics": ["test_acc", "csi"], "title": "Fig 3: parity"}},
        "presets": presets,
    }


def test_a_preset_is_its_delta_over_the_defaults_or_its_base():
    config = _tiny_config(small={"training": {"max_iters": 50}},
                          smaller={"base": "small", "datasets": {"parity": {"params": {"n_test": 100}}}})
    small, smaller = resolve_preset(config, "small"), resolve_preset(config, "smaller")
    assert small["training"] == {"max_iters": 50, "eval_interval": 10}  # deep_merge: one key differs
    assert smaller["training"] == small["training"] and "base" not in smaller
    assert smaller["datasets"]["parity"] == {"generator": "parity", "params": {"n_train": 200, "n_test": 100}}


def test_generator_defaults_to_the_datasets_name_and_a_stated_one_stays():
    config = _tiny_config(p={"datasets": {"colored_mnist": {}, "mnist_cifar_fcn": {"generator": "mnist_cifar"}}})
    datasets = resolve_preset(config, "p")["datasets"]
    assert datasets["colored_mnist"] == {"generator": "colored_mnist"}
    assert datasets["mnist_cifar_fcn"]["generator"] == "mnist_cifar"


def test_a_figure_is_its_catalogue_entry_with_the_presets_differences():
    config = _tiny_config(p={"figures": {
        "fig03": {"datasets": ["parity"], "title_note": "FCN 3x200"},
        "fig04": {"datasets": ["parity"], "title": "not catalogued"},
    }})
    figures = resolve_preset(config, "p")["figures"]
    assert figures["fig03"] == {"metrics": ["test_acc", "csi"], "datasets": ["parity"], "title": "Fig 3: parity (FCN 3x200)"}
    assert figures["fig04"] == {"datasets": ["parity"], "title": "not catalogued"}
    config["presets"]["p"]["figures"]["fig03"] = {"datasets": ["parity"], "metrics": ["test_acc"], "title": "own"}
    assert resolve_preset(config, "p")["figures"]["fig03"] == {"metrics": ["test_acc"], "datasets": ["parity"],
                                                               "title": "own"}


@pytest.mark.parametrize("presets, figure, message", [
    ({"p": {"base": "nowhere"}}, None, r"presets\.p\.base: unknown preset 'nowhere'"),
    ({"p": {"base": "q"}, "q": {"base": "p"}}, None, r"presets\.p\.base: a cycle of bases \(p -> q -> p\)"),
    ({"p": {}}, {"fig04": {"title_note": "x"}}, r"presets\.p\.figures\.fig04\.title_note: 'fig04' is not in"),
    ({"p": {}}, {"fig03": {"title": "a", "title_note": "b"}}, r"presets\.p\.figures\.fig03: give `title` or"),
])
def test_a_wrong_base_or_title_note_is_a_config_error(presets, figure, message):
    config = _tiny_config(**presets)
    if figure:
        config["presets"]["p"]["figures"] = figure
    with pytest.raises(ConfigError, match=message):
        resolve_preset(config, "p")


def test_shipped_presets_use_one_mechanism_and_one_figure_key(config, schemas, repo):
    """No YAML merge keys (`<<:`), figures give `datasets` only, and no line over 120 characters."""
    for path in (repo / "config.yaml", schemas / "config.schema.yaml", schemas / "preset.schema.yaml"):
        lines = path.read_text(encoding="utf-8").splitlines()
        assert max(map(len, lines)) <= 120, path
    assert "<<:" not in (repo / "config.yaml").read_text(encoding="utf-8")
    for name, preset in config["presets"].items():
        for figure, spec in preset.get("figures", {}).items():
            assert "dataset" not in spec, f"presets.{name}.figures.{figure}: use `datasets`"
        for dataset, spec in preset.get("datasets", {}).items():
            assert spec.get("generator") != dataset, f"presets.{name}.datasets.{dataset}: the default generator"
    bad = deep_merge(config, {"presets": {"ci": {"figures": {"fig03": {"dataset": "parity"}}}}})
    with pytest.raises(ConfigError, match="'dataset' was unexpected"):
        resolve_config(bad, schemas)
