"""Learning rate versus other interventions (paper §4.3, Fig 6; suppl. Fig 19; Table 2).

One row of panels per (dataset, model); in a row, one panel per intervention: the plain LR
sweep first, then high LR + L2, batch size, momentum, L1, L2, focal-loss γ and ASAM ρ (those
present in ``runs``). x = the intervention's value (batch size as 1/batch size, as in the
paper, so that a larger x means more regularisation; log scale where the values are positive
and span more than a decade), y = each metric min–max normalised **across the whole row**, so
that a variable's curves can be compared between the LR panel and the other interventions
(Fig 6: "y-axes are comparable within variables across rows"). Lines are means over seeds,
bands ± one standard deviation; the raw minimum and maximum per variable and row are written
to a companion CSV (the paper's Table 2 numbers).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from largelr.engine_facts import CAPPED_STATUSES
from largelr.figures.cells import LR_DROP
from largelr.figures.names import DISPLAY_NAMES
from largelr.figures.lr_sweep import LR_SWEEP_METRICS
from largelr.io import atomic_path
from largelr.figures.save import save_figure
from largelr.reporting.tables import intervention_rank, intervention_runs

# x-axis labels of the panels, after the paper's Table 2.
INTERVENTION_LABELS = {
    "lr": "learning rate",
    "high_lr_l2": "high LR + L2 reg.",
    "batch_size": "1 / batch size",
    "momentum": "momentum",
    "l1": "L1 regularisation",
    "l2": "L2 regularisation",
    "focal_gamma": "γ (focal loss)",
    "asam_rho": "ρ (ASAM)",
    "lr_drop_at": "LR ÷10 at iteration",
}
RANGE_COLUMNS = ["dataset", "model", "recipe", "variable", "column", "min", "max"]
LONG_COLUMNS = ["intervention_kind", "x", "seed", "variable", "value"]


def select_runs(runs: pd.DataFrame, datasets: Sequence[str] | None = None, model: str | None = None,
                recipe: str | None = None) -> pd.DataFrame:
    """Rows of ``runs`` of the given datasets, model and recipe (``None`` = all)."""
    keep = pd.Series(True, index=runs.index)
    if datasets:
        keep &= runs["dataset"].isin(list(datasets))
    if model:
        keep &= runs["model"] == model
    if recipe:
        keep &= runs["recipe"] == recipe
    return runs[keep]


def normalised_row_table(row_runs: pd.DataFrame, metrics: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Long table (intervention, x, seed, variable, value in [0, 1]) of one row of panels, and
    the raw ranges used to normalise it.

    ``row_runs`` are labelled runs (:func:`largelr.reporting.tables.intervention_runs`) of one (dataset,
    model). Each variable is scaled by the min and max of its per-(intervention, value) means
    over the whole row, so the lowest mean of the row sits at 0 and the highest at 1 (a
    constant variable is drawn at 0.5).
    """
    long_rows, ranges = [], []
    for column, label in metrics.items():
        values = row_runs[["intervention_kind", "value", "seed", column]].copy()
        values[column] = pd.to_numeric(values[column], errors="coerce")  # all-None columns are object
        values = values.dropna()
        if values.empty:
            continue
        means = values.groupby(["intervention_kind", "value"])[column].mean()
        low, high = float(means.min()), float(means.max())
        span = high - low
        scaled = (values[column] - low) / span if span > 0 else values[column] * 0 + 0.5
        long_rows.append(pd.DataFrame({"intervention_kind": values["intervention_kind"], "x": values["value"],
                                       "seed": values["seed"], "variable": label, "value": scaled}))
        ranges.append({"variable": label, "column": column, "min": low, "max": high})
    long_table = pd.concat(long_rows, ignore_index=True) if long_rows else pd.DataFrame(columns=LONG_COLUMNS)
    return long_table, pd.DataFrame(ranges, columns=["variable", "column", "min", "max"])


def plot_interventions(runs: pd.DataFrame, pdf_path: str | Path, png_path: str | Path, ranges_csv: str | Path,
                       title: str, note: str = "",
                       metrics: Sequence[str] = ("test_acc", "prunability", "csi")) -> None:
    """Fig 6 / Fig 19 from rows of ``summary/runs.csv`` (plain LR cells and intervention cells).

    Diverged runs are left out (metrics absent from ``runs`` too); runs stopped at the iteration cap are
    counted in the footer.
    Only (dataset, model, recipe) groups with intervention cells get a row.
    """
    chosen = {m: LR_SWEEP_METRICS.get(m, m) for m in metrics if m in runs.columns}
    # the LR-drop cells (lr_drop_at) are Fig 28 top right's (largelr.figures.lr_drop), not an intervention of Fig 6
    labelled = intervention_runs(runs[~runs["intervention"].astype(str).str.startswith(f"{LR_DROP}=")])
    groups = dict(list(labelled.groupby(["dataset", "model", "recipe"], sort=True)))
    rows = list(groups)
    panels = {key: sorted(group["intervention_kind"].unique(), key=intervention_rank) for key, group in groups.items()}
    n_rows, n_cols = max(len(rows), 1), max([len(p) for p in panels.values()] + [1])
    sns.set_theme(style="whitegrid", context="paper")
    width, height = 1.4 + 2.6 * n_cols, 0.5 + 2.5 * n_rows  # 1.3 in. on the right for the legend
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(width, height), squeeze=False, sharey=True)
    all_ranges, handles, labels = [], [], []
    for i, key in enumerate(rows):
        long_table, ranges = normalised_row_table(groups[key], chosen)
        all_ranges.append(ranges.assign(dataset=key[0], model=key[1], recipe=key[2]))
        for j, intervention in enumerate(panels[key]):
            ax = axes[i][j]
            _draw_panel(ax, long_table[long_table["intervention_kind"] == intervention], intervention, chosen)
            row_label = f"{DISPLAY_NAMES.get(key[0], key[0])} · {key[1]}"
            ax.set_ylabel(f"{row_label}\nnormalised value" if j == 0 else "", fontsize=8)
            if ax.get_legend() is not None:
                handles, labels = ax.get_legend_handles_labels()
                ax.get_legend().remove()
        for j in range(len(panels[key]), n_cols):
            axes[i][j].set_visible(False)
    if not rows:
        axes[0][0].text(0.5, 0.5, "no runs with interventions", ha="center", va="center")
        axes[0][0].set_axis_off()
    if handles:
        fig.legend(handles, labels, fontsize=7, loc="center right", frameon=False)
    fig.suptitle(title, fontsize=9)
    footer = _footer(labelled, note)
    if footer:
        fig.text(0.01, 0.005, "\n".join(footer), fontsize=6, va="bottom", ha="left", color="0.3")
    fig.tight_layout(rect=(0, 0.1 * len(footer) / height, 1 - 1.3 / width, 1))
    save_figure(fig, pdf_path, png_path)
    ranges = pd.concat(all_ranges, ignore_index=True) if all_ranges else pd.DataFrame(columns=RANGE_COLUMNS)
    with atomic_path(ranges_csv) as tmp:
        ranges[RANGE_COLUMNS].to_csv(tmp, index=False)


def _footer(labelled: pd.DataFrame, note: str) -> list[str]:
    footer = [note] if note else []
    capped = int(labelled["status"].isin(CAPPED_STATUSES).sum())
    if capped:
        footer.append(f"{capped}/{len(labelled)} runs stopped before 100 % train acc. (iteration cap or stalled).")
    return footer


def _draw_panel(ax: plt.Axes, long_table: pd.DataFrame, intervention: str, metrics: dict[str, str]) -> None:
    if not long_table.empty:
        sns.lineplot(data=long_table, x="x", y="value", hue="variable", style="variable", markers=True,
                     dashes=False, errorbar="sd", err_kws={"alpha": 0.12}, hue_order=list(metrics.values()),
                     style_order=list(metrics.values()), ax=ax)
    xs = sorted(long_table["x"].unique())
    if is_log_scale(xs):
        ax.set_xscale("log")
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set_xticks(xs, [f"{x:.3g}" for x in xs], fontsize=6, rotation=45 if len(xs) > 4 else 0)
    ax.set_xlabel(INTERVENTION_LABELS.get(intervention, intervention), fontsize=8)
    ax.set_ylim(-0.1, 1.1)


def is_log_scale(values: Sequence[float]) -> bool:
    """Log x-axis where every value is positive and they span more than one decade."""
    values = np.asarray(values, dtype=float)
    return bool(values.size and values.min() > 0 and values.max() / values.min() > 10)
