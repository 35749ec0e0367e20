"""Training curves of training groups (issue 28; the paper's Fig 24 bottom, suppl. D.4).

For each training group (dataset, model, recipe, intervention) two panels against iteration, from
the ``history.csv`` of its runs (one row per §4.2 log row, :mod:`largelr.training.single`): the
training loss (mean minibatch loss of each log interval, log scale) and the unbiased test accuracy
(on the fixed test subset). One line per LR: the mean over its seeds at each iteration, with the
seeds' range (min-max) as a band; a seed that stopped earlier (100 % training accuracy, or
``stop_loss`` for Fig 24's "train to CE < 1e-5") no longer contributes, and its stop is marked.
Fig 24 (bottom) reads the same drawing on the ``sgd_long`` runs: test accuracy through training
beyond convergence. The numbers drawn go to a companion CSV (:data:`POINT_COLUMNS`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from largelr.figures.names import DISPLAY_NAMES
from largelr.figures.save import save_figure
from largelr.io import atomic_path, read_json

GROUP_KEYS = ["dataset", "model", "recipe", "intervention"]
PANELS = {"train_loss": "training loss (interval mean)", "test_acc": "unbiased test accuracy"}
POINT_COLUMNS = [*GROUP_KEYS, "lr", "metric", "iteration", "mean", "low", "high", "seeds"]


def read_histories(histories: Sequence[str | Path], runs: Sequence[str | Path]) -> pd.DataFrame:
    """Every log row of the runs, one table: the grid cell (from ``run.json``), its status, and
    the ``history.csv`` columns of :data:`PANELS` with the iteration."""
    frames = []
    for history, run in zip(histories, runs, strict=True):
        record = read_json(run)
        frame = pd.read_csv(history, usecols=["iteration", *PANELS])
        cell = record["cell"]
        for key in [*GROUP_KEYS, "seed"]:
            frame[key] = cell[key]
        frame["lr"] = float(cell["lr"])
        frame["status"] = record["status"]
        frames.append(frame)
    columns = ["iteration", *PANELS, *GROUP_KEYS, "seed", "lr", "status"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def curve_points(rows: pd.DataFrame) -> pd.DataFrame:
    """Per group, LR, metric and iteration: mean, min and max over the seeds that logged it."""
    long = rows.melt(id_vars=[*GROUP_KEYS, "lr", "seed", "iteration"], value_vars=list(PANELS),
                     var_name="metric", value_name="value")
    long["value"] = pd.to_numeric(long["value"], errors="coerce")
    long = long[np.isfinite(long["value"])]
    if long.empty:
        return pd.DataFrame(columns=POINT_COLUMNS)
    grouped = long.groupby([*GROUP_KEYS, "lr", "metric", "iteration"])["value"]
    points = pd.DataFrame({"mean": grouped.mean(), "low": grouped.min(), "high": grouped.max(),
                           "seeds": grouped.size()}).reset_index()
    return points[POINT_COLUMNS]


def _draw_group(axes: Sequence[plt.Axes], rows: pd.DataFrame, points: pd.DataFrame) -> None:
    lrs = sorted(rows["lr"].unique())
    colours = dict(zip(lrs, sns.color_palette("viridis", len(lrs)), strict=True))
    for ax, metric in zip(axes, PANELS):
        for lr in lrs:
            line = points[(points["lr"] == lr) & (points["metric"] == metric)].sort_values("iteration")
            if line.empty:
                continue
            ax.plot(line["iteration"], line["mean"], color=colours[lr], linewidth=1.0, label=f"LR {lr:g}")
            ax.fill_between(line["iteration"], line["low"], line["high"], color=colours[lr], alpha=0.2, linewidth=0)
            ends = rows[rows["lr"] == lr].groupby("seed")["iteration"].max()  # where each seed stopped
            last = line.set_index("iteration")["mean"]
            ax.scatter(ends, [last.get(i, np.nan) for i in ends], s=10, color=colours[lr], zorder=3)
        if metric == "train_loss":
            ax.set_yscale("log")
        ax.set_ylabel(PANELS[metric], fontsize=7)
        ax.set_xlabel("iteration", fontsize=7)
        ax.tick_params(which="both", labelsize=6)
    axes[-1].legend(fontsize=6, frameon=False, ncol=1 + len(lrs) // 6)


def plot_training_curves(rows: pd.DataFrame, pdf_path: str | Path, png_path: str | Path, points_csv: str | Path,
                         title: str, note: str = "") -> pd.DataFrame:
    """One row of panels (:data:`PANELS`) per training group of ``rows`` (:func:`read_histories`);
    writes the figure and its points; returns the points."""
    points = curve_points(rows)
    groups = list(rows.groupby(GROUP_KEYS, sort=True)) if len(rows) else []
    sns.set_theme(style="whitegrid", context="paper")
    n = max(len(groups), 1)
    fig, axes = plt.subplots(n, len(PANELS), figsize=(7.5, 0.6 + 2.3 * n), squeeze=False)
    for ax_row, (key, group) in zip(axes, groups):
        mine = points.merge(pd.DataFrame([dict(zip(GROUP_KEYS, key))]), on=GROUP_KEYS)
        _draw_group(ax_row, group, mine)
        dataset, model, recipe, intervention = key
        label = f"{DISPLAY_NAMES.get(dataset, dataset)} · {model} · {recipe}"
        ax_row[0].set_title(label + ("" if intervention == "none" else f" · {intervention}"), fontsize=8, loc="left")
    if not groups:
        axes[0][0].text(0.5, 0.5, "no runs", ha="center", va="center")
    footer = [note] if note else []
    footer.append("lines: mean over seeds; bands: the seeds' range; dots: where a seed stopped")
    fig.suptitle(title, fontsize=9)
    fig.text(0.01, 0.003, "\n".join(footer), fontsize=6, va="bottom", ha="left", color="0.3")
    fig.tight_layout(rect=(0, 0.18 * len(footer) / (0.6 + 2.3 * n), 1, 1))
    save_figure(fig, pdf_path, png_path)
    with atomic_path(points_csv) as tmp:
        points.to_csv(tmp, index=False)
    return points


__all__ = ["POINT_COLUMNS", "curve_points", "plot_training_curves", "read_histories"]
