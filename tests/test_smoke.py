"""``smoke: true`` (issue 25): the dress rehearsal of a preset, resolved by :func:`largelr.config.smoke.smoke_preset`.

Each test states one property of the smoke of the shipped ``paper`` and ``gpu`` presets that would fail if
the cut were wrong; the end-to-end runs are in ``tests/test_smoke_run.py``.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from largelr.config import (
    ConfigError,
    resolve_config,
    run_preset,
    smoke_name,
    training_grid,
)
from largelr.config.smoke import TEST_SAMPLES, TRAIN_SAMPLES, _cut_experiments, _iteration_slots, rank_map

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = REPO / "workflow" / "schemas"
GROUP = ["dataset", "model", "recipe"]


@pytest.fixture(scope="module")
def shipped():
    return yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module", params=["paper", "gpu"])
def pair(request, shipped):
    """(preset name, the resolved preset, its resolved smoke)."""
    name = request.param
    resolved = resolve_config(dict(copy.deepcopy(shipped), preset=name, smoke=True), SCHEMAS)
    return name, resolved[name], resolved[smoke_name(name)]


def test_smoke_true_runs_the_chosen_presets_smoke_in_its_own_folder(shipped):
    assert run_preset(dict(shipped, preset="paper", smoke=True)) == "paper-smoke"
    assert run_preset(dict(shipped, preset="paper", smoke="true")) == "paper-smoke"  # --config smoke=true
    assert run_preset(dict(shipped, preset="paper")) == "paper"
    assert smoke_name("gpu") not in resolve_config(dict(copy.deepcopy(shipped), preset="gpu"), SCHEMAS)


def test_smoke_false_on_the_command_line_resolves_no_smoke(shipped):
    # --config smoke=false arrives as the string "false", which is truthy: no gpu-smoke preset may appear
    assert run_preset(dict(shipped, preset="gpu", smoke="false")) == "gpu"
    assert smoke_name("gpu") not in resolve_config(dict(copy.deepcopy(shipped), preset="gpu", smoke="false"), SCHEMAS)


def test_every_group_recipe_intervention_kind_and_figure_is_kept(pair):
    _, preset, smoke = pair
    full, cut = training_grid(preset), training_grid(smoke)
    assert set(map(tuple, full[GROUP].values)) == set(map(tuple, cut[GROUP].values))
    kinds = {grid_name: {(*row[:3], row[3].split("=")[0]) for row in grid[GROUP + ["intervention"]].values}
             for grid_name, grid in (("full", full), ("cut", cut))}
    assert kinds["full"] == kinds["cut"]
    assert set(preset["recipes"]) == set(smoke["recipes"]) and preset["models"] == smoke["models"]  # real widths
    assert {name: spec["kind"] for name, spec in preset["figures"].items()} == {
        name: spec["kind"] for name, spec in smoke["figures"].items()}
    assert len(cut) < len(full) and smoke["smoke"] is True and "SMOKE" in smoke["description"]


def test_each_experiment_keeps_its_lowest_and_highest_lr_and_intervention_values_and_one_seed(pair):
    _, preset, smoke = pair
    galleries = {(spec["datasets"][0], spec.get("model")) for spec in smoke["figures"].values()
                 if spec["kind"] == "attribution_gallery"}
    named = {label for spec in smoke["figures"].values() for label in spec.get("interventions", [])}
    for before, after in zip(preset["experiments"], smoke["experiments"]):
        assert after["lrs"] == sorted({min(before["lrs"]), max(before["lrs"])})
        assert set(after.get("vary", {})) == set(before.get("vary", {}))  # every intervention kept
        for kind, values in after.get("vary", {}).items():  # at its lowest and highest value (ranked if counts)
            ends = {min(before["vary"][kind]), max(before["vary"][kind])}
            if kind not in ("batch_size", "lr_drop_at"):  # and the values a figure's `interventions` names
                assert values == sorted(ends | {v for v in before["vary"][kind] if f"{kind}={v:g}" in named})
            else:
                assert len(values) == len(ends)
        seeds = before.get("seeds") or preset["seeds"]
        gallery = {(before["dataset"], before["model"]), (before["dataset"], None)} & galleries
        assert after["seeds"] == seeds[: 2 if gallery else 1]
    assert galleries, "the shipped presets draw galleries"


def test_every_intervention_a_figure_names_has_cells_in_the_smoke(pair):
    """Fig 9 names ``focal_gamma=2``, neither end of paper's focal_gamma axis: its cells stay (else the
    figure's inputs fail to plan)."""
    from largelr.figures.cells import figure_groups, intervention_selections

    _, _, smoke = pair
    grid, checked = training_grid(smoke), 0
    for spec in smoke["figures"].values():
        for dataset, model in figure_groups(spec, grid) if spec.get("interventions") else []:
            selections = intervention_selections(spec, grid, dataset, model)  # raises on a label without cells
            assert [s["intervention"] for s in selections] == list(spec["interventions"])
            checked += 1
    assert checked, "the shipped presets' Fig 9 names interventions"


def test_iteration_counts_keep_their_order_stay_distinct_and_are_small(pair):
    _, preset, smoke = pair
    cut = copy.deepcopy(preset)
    _cut_experiments(cut)  # the same LRs, seeds and intervention values, iteration counts as written
    before = [holder[key] for holder, key in _iteration_slots(cut)]
    after = [holder[key] for holder, key in _iteration_slots(smoke)]
    assert len(before) == len(after) and max(after) <= len(set(before))  # a few iterations
    for (a, a_smoke) in zip(before, after):
        for (b, b_smoke) in zip(before, after):
            assert (a < b) == (a_smoke < b_smoke) and (a == b) == (a_smoke == b_smoke)
    cut = training_grid(smoke)
    assert len(cut.drop_duplicates()) == len(cut) == len(cut.drop_duplicates(subset=list(cut.columns)))
    for experiment, original in zip(smoke["experiments"], preset["experiments"]):
        # every interval that happens in the full run happens in the smoke, below its max_iters
        training = {**smoke["training"], **experiment.get("training", {})}
        before = {**preset["training"], **original.get("training", {})}
        for key in ("checkpoint_interval", "snapshot_interval", "eval_interval", "train_eval_interval"):
            if 0 < before[key] < before["max_iters"]:
                assert 0 < training[key] < training["max_iters"], (experiment, key)
        for drop in experiment.get("vary", {}).get("lr_drop_at", []):
            assert drop < training["max_iters"]


def test_rank_map_keeps_order_and_zero():
    assert rank_map([5000, 0, 100, 300, 100, 200000]) == {0: 0, 100: 1, 300: 2, 5000: 3, 200000: 4}
    assert rank_map([3, 100, 25], start=2) == {0: 0, 3: 2, 25: 3, 100: 4}


def test_datasets_and_analysis_sample_counts_are_cut(pair):
    _, preset, smoke = pair
    assert set(preset["datasets"]) == set(smoke["datasets"])
    for spec in smoke["datasets"].values():
        params = spec["params"]
        train, test = params.get("subset_train", params.get("n_train")), params.get("subset_test", params.get("n_test"))
        assert 0 < train <= TRAIN_SAMPLES and 0 < test <= TEST_SAMPLES, spec
    analysis = smoke["analysis"]
    assert analysis["attribution_samples"] < preset["analysis"]["attribution_samples"]
    assert analysis["landscape"]["points"] == 3 and len(analysis["prune_kappas"]) == 3
    assert smoke["training"]["test_eval_samples"] <= TEST_SAMPLES


def test_top_level_overrides_apply_to_and_are_validated_against_the_chosen_preset_only(shipped):
    # the example: a dataset only `gpu` has, overridden with preset=gpu
    config = dict(copy.deepcopy(shipped), preset="gpu", datasets={"mnist_cifar_fcn": {"params": {"subset_train": 200}}})
    resolved = resolve_config(config, SCHEMAS)
    assert resolved["gpu"]["datasets"]["mnist_cifar_fcn"]["params"]["subset_train"] == 200
    assert "mnist_cifar_fcn" not in resolved["ci"]["datasets"]  # ci as written
    as_written = resolve_config(dict(copy.deepcopy(shipped), preset="gpu"), SCHEMAS)
    assert resolved["demo"] == as_written["demo"]
    with pytest.raises(ConfigError, match=r"presets\.gpu \(after overrides\).*max_iters"):
        resolve_config(dict(copy.deepcopy(shipped), preset="gpu", training={"max_iters": 0}), SCHEMAS)


def test_figures_tables_and_status_say_smoke(tmp_path):
    from largelr.figures.names import scale_note
    from largelr.monitor import Survey, format_status
    from largelr.reporting.tables import write_table

    assert "SMOKE" in scale_note("paper-smoke", "full") and scale_note("paper", "full") == ""
    import pandas as pd

    write_table(pd.DataFrame({"a": [1.0]}), tmp_path / "paper-smoke" / "tables" / "t", "Table 1")
    write_table(pd.DataFrame({"a": [1.0]}), tmp_path / "paper" / "tables" / "t", "Table 1")
    assert (tmp_path / "paper-smoke" / "tables" / "t.md").read_text().startswith("SMOKE run")
    assert not (tmp_path / "paper" / "tables" / "t.md").read_text().startswith("SMOKE")
    assert "SMOKE" in format_status(Survey("paper-smoke", tmp_path, []))
    assert "SMOKE" not in format_status(Survey("paper", tmp_path, []))


def test_the_inventory_says_smoke(shipped):
    from largelr.reporting.inventory import figure_inventory

    resolved = resolve_config(dict(copy.deepcopy(shipped), preset="gpu", smoke=True), SCHEMAS)
    table = figure_inventory("gpu-smoke", resolved)
    assert set(table.loc[table["panels_built"].str[0] != "0", "scale"]) == {"smoke"}
    assert "smoke" not in set(figure_inventory("gpu", resolved)["scale"])


def test_local_rules_are_derived_from_the_workflow():
    """tests/test_cluster.py counts sbatch submissions with these (issue 25 item 6a: link_metrics was missing)."""
    from helpers import local_rules

    links = {"link_run", "link_metrics", "link_attribution", "link_attribution_with_method", "link_pruning",
             "link_background", "link_landscape", "link_dynamics"}  # the batched analyses' links (issue 25 item 3)
    assert local_rules() == {"all", "download_source"} | links


def test_largelr_status_reads_a_smoke_by_its_name():
    from largelr.monitor import load_preset

    name, preset = load_preset(REPO / "config.yaml", "gpu-smoke")
    assert name == "gpu-smoke" and preset["smoke"] is True and preset["training"]["max_iters"] < 20
    assert load_preset(REPO / "config.yaml", "gpu")[1].get("smoke") is None
