"""Which cells a figure draws beyond its plain cells: Fig 28 top right's LR-drop cells and Fig 9's
focal-loss models (issue 18 items 3, 4)."""

from __future__ import annotations

import pandas as pd
import pytest

from largelr.config import figure_datasets, resolve_preset, training_grid
from largelr.figures.cells import intervention_selections, lr_drop_selections


def _grid():
    rows = [("parity", "fcn", "sgd", lr, "none", seed) for lr in (0.01, 0.1, 0.75) for seed in (0, 1, 2)]
    rows += [("parity", "fcn", "sgd", lr, f"lr_drop_at={i}", 0) for lr in (0.1, 0.75) for i in (0, 1000)]
    rows += [("parity", "fcn", "sgd", 0.05, f"focal_gamma={g}", s) for g in (1, 4) for s in (0, 1)]
    rows += [("moon_star", "fcn", "sgd", 0.1, "lr_drop_at=0", 0), ("parity", "fcn", "adam", 0.1, "lr_drop_at=0", 0)]
    return pd.DataFrame(rows, columns=["dataset", "model", "recipe", "lr", "intervention", "seed"])


def _expand(grid, selections):
    keep = pd.Series(False, index=grid.index)
    for selection in selections:
        match = pd.Series(True, index=grid.index)
        for key, value in selection.items():
            match &= grid[key].isin(value) if isinstance(value, list) else grid[key] == value
        keep |= match
    return grid[keep]


def test_lr_drop_cells_and_the_plain_cells_at_their_lrs_and_seeds():
    grid = _grid()
    cells = _expand(grid, lr_drop_selections({"dataset": "parity", "recipe": "sgd"}, grid))
    drops = cells[cells["intervention"] != "none"]
    assert len(drops) == 4 and set(drops["lr"]) == {0.1, 0.75} and set(drops["dataset"]) == {"parity"}
    plain = cells[cells["intervention"] == "none"]
    assert sorted(zip(plain["lr"], plain["seed"])) == [(0.1, 0), (0.75, 0)]  # same LRs and seeds: no LR 0.01


def test_landscape_intervention_cells_at_their_own_lr_and_first_seed():
    grid = _grid()
    spec = {"dataset": "parity", "recipe": "sgd", "interventions": ["focal_gamma=1", "focal_gamma=4"]}
    cells = _expand(grid, intervention_selections(spec, grid, "parity", "fcn"))
    assert sorted(cells["intervention"]) == ["focal_gamma=1", "focal_gamma=4"] and set(cells["lr"]) == {0.05}
    assert set(cells["seed"]) == {0}
    assert len(_expand(grid, intervention_selections(spec, grid, "parity", "fcn", [0, 1]))) == 4
    with pytest.raises(ValueError, match="l2=0.1"):
        intervention_selections({**spec, "interventions": ["l2=0.1"]}, grid, "parity", "fcn")


@pytest.mark.parametrize("preset", ["demo", "paper"])
def test_fig09_draws_focal_loss_models_the_preset_trains(shipped_config, preset):
    """Fig 9: "landscapes for models with different LRs and FL"."""
    resolved = resolve_preset(shipped_config, preset)
    grid, spec = training_grid(resolved), resolved["figures"]["fig09"]
    spec = {"recipe": "sgd", **spec}
    (dataset,) = figure_datasets(spec)
    models = [spec["model"]] if "model" in spec else sorted(set(grid.loc[grid["dataset"] == dataset, "model"]))
    cells = pd.concat([_expand(grid, intervention_selections(spec, grid, dataset, m)) for m in models])
    assert len(cells) >= 2 and cells["intervention"].str.startswith("focal_gamma=").all()
    plain = grid[(grid["dataset"] == dataset) & (grid["intervention"] == "none") & (grid["recipe"] == spec["recipe"])]
    assert set(cells["model"]) <= set(plain["model"])  # the same models as the figure's LR rows


@pytest.mark.parametrize("preset", ["demo_full", "paper"])
def test_fig28d_has_a_low_and_a_high_lr_dropped_from_iteration_0_to_thousands(shipped_config, preset):
    resolved = resolve_preset(shipped_config, preset)
    grid, spec = training_grid(resolved), resolved["figures"]["fig28d"]
    assert spec["kind"] == "lr_drop"
    cells = _expand(grid, lr_drop_selections({"recipe": "sgd", **spec}, grid))
    drops = cells[cells["intervention"] != "none"]
    at = drops["intervention"].str.removeprefix("lr_drop_at=").astype(float)
    assert drops["lr"].nunique() == 2 and at.min() == 0 and at.max() >= 3000 and (at == 1000).any()
    assert set(cells.loc[cells["intervention"] == "none", "lr"]) == set(drops["lr"])  # the no-drop references
