"""Selecting cells of a training grid: the one filter behind every place that picks runs.

The grid is the table of training cells (one row per dataset x model x recipe x LR x
intervention x seed, §4.1); a figure (§4-6, Figs 3-34), a training group or a table draws some
of its rows. pandas only: the workflow imports it while building the DAG
(``workflow/rules/common.smk``) and plotting code (``envs/plot.yaml``) may too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Union

import pandas as pd

# a column's wanted value: one value, any of several, or a test of the column (Series -> bool Series)
Wanted = Union[Any, list, tuple, set, frozenset, Callable[[pd.Series], pd.Series]]
Selection = Mapping[str, Wanted]


def _matches(column: pd.Series, wanted: Wanted) -> pd.Series:
    if callable(wanted):
        return wanted(column).astype(bool)
    if isinstance(wanted, (list, tuple, set, frozenset)):
        return column.isin(list(wanted))
    return column == wanted


def select_cells(grid: pd.DataFrame, selection: Selection | None = None, /, **columns: Wanted) -> pd.DataFrame:
    """The rows of ``grid`` whose every named column has a wanted value, in grid order.

    ``selection`` (a dict, as figure specs build them) and keyword ``columns`` are merged; each
    value is one value (``==``), a list / tuple / set (any of them), or a callable mapping the
    column to a boolean mask (e.g. ``lambda label: label.str.startswith("lr_drop_at=")``). No
    condition selects every row.
    """
    wanted = {**(selection or {}), **columns}
    mask = pd.Series(True, index=grid.index)
    for name, value in wanted.items():
        mask &= _matches(grid[name], value)
    return grid[mask]


__all__ = ["Selection", "select_cells"]
