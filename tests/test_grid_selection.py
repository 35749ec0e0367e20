"""largelr.grid_selection.select_cells: the one grid filter of the workflow and the figures (issue 20 item 1)."""

from __future__ import annotations

import pandas as pd

from largelr.grid_selection import select_cells


def _grid() -> pd.DataFrame:
    rows = [("parity", "fcn", "sgd", lr, intervention, seed) for lr in (0.01, 0.1) for intervention in ("none", "lr_drop_at=5")
            for seed in (0, 1)]
    rows += [("moon_star", "fcn", "adam", 0.1, "none", 0)]
    return pd.DataFrame(rows, columns=["dataset", "model", "recipe", "lr", "intervention", "seed"])


def test_no_condition_selects_every_row_in_grid_order():
    grid = _grid()
    pd.testing.assert_frame_equal(select_cells(grid), grid)


def test_a_value_a_list_and_a_test_of_the_column():
    grid = _grid()
    assert len(select_cells(grid, dataset="parity", intervention="none")) == 4
    assert len(select_cells(grid, lr=[0.1], seed=(0,))) == 3
    drops = select_cells(grid, intervention=lambda label: label.str.startswith("lr_drop_at="))
    assert set(drops["intervention"]) == {"lr_drop_at=5"} and len(drops) == 4


def test_a_selection_dict_and_keywords_merge_keywords_winning():
    grid = _grid()
    rows = select_cells(grid, {"dataset": "parity", "seed": 0}, seed=1)
    assert set(rows["seed"]) == {1} and set(rows["dataset"]) == {"parity"}
    assert select_cells(grid, {"dataset": "celeba"}).empty
