"""Unbiased test accuracy versus the maximum bias-conflicting loss ratio (paper §6, Figs 12, 27).

The BC loss ratio is Σ BC-sample loss / Σ minibatch loss, logged during training; its maximum
over training is ``max_bc_loss_ratio`` in ``summary/runs.csv``. Fig 12: one panel per
(dataset, model), one point per run (plain cells, intervention == "none"), x = max BC loss ratio,
y = unbiased test accuracy, colour = LR on a log scale; the panel title gives Pearson's r and
Spearman's ρ over the runs. Fig 27 (optional second row): mean ± s.d. over seeds of test
accuracy (left axis) and of the max BC loss ratio (right axis) against the LR on a log axis.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.colors
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from scipy.stats import pearsonr, spearmanr

from largelr.engine_facts import CAPPED_STATUSES, RunStatus
from largelr.figures.names import DISPLAY_NAMES
from largelr.io import atomic_path
from largelr.figures.save import save_figure
from largelr.intervention_labels import NO_INTERVENTION

STATS_COLUMNS = ["dataset", "model", "n", "learning_rates", "pearson_r", "spearman_rho"]
# Fewer runs than this give no correlation (with two points r is ±1 whatever the data).
MIN_RUNS = 3


def bc_ratio_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Plain (intervention == "none"), non-diverged runs with a finite max BC loss ratio and test accuracy."""
    plain = runs[(runs["intervention"] == NO_INTERVENTION) & (runs["status"] != RunStatus.DIVERGED)]
    finite = np.isfinite(plain[["max_bc_loss_ratio", "test_acc"]].astype(float)).all(axis=1)
    return plain[finite]


def correlation(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Pearson r and Spearman ρ of ``x`` and ``y``; NaN with < MIN_RUNS points or a constant input."""
    if len(x) < MIN_RUNS or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan"), float("nan")
    return float(pearsonr(x, y).statistic), float(spearmanr(x, y).statistic)


def bc_ratio_stats(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, model): number of runs and of LRs, Pearson r, Spearman ρ."""
    rows = []
    for (dataset, model), group in bc_ratio_runs(runs).groupby(["dataset", "model"], sort=True):
        r, rho = correlation(group["max_bc_loss_ratio"].to_numpy(float), group["test_acc"].to_numpy(float))
        rows.append({"dataset": dataset, "model": model, "n": len(group), "learning_rates": group["lr"].nunique(),
                     "pearson_r": r, "spearman_rho": rho})
    return pd.DataFrame(rows, columns=STATS_COLUMNS)


def plot_bc_ratio(runs: pd.DataFrame, pdf_path: str | Path, png_path: str | Path, stats_csv: str | Path,
                  title: str, note: str = "", by_lr: bool = True) -> None:
    """Fig 12 (scatter per (dataset, model)) and, with ``by_lr``, Fig 27 (means vs LR) below it."""
    data, stats = bc_ratio_runs(runs), bc_ratio_stats(runs)
    panels = list(stats.itertuples(index=False))
    n_cols, n_rows = max(len(panels), 1), 2 if by_lr else 1
    sns.set_theme(style="whitegrid", context="paper")
    width, height = 0.6 + 3.4 * n_cols, 0.5 + 3.0 * n_rows
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(width, height), squeeze=False)
    for j, panel in enumerate(panels):
        group = data[(data["dataset"] == panel.dataset) & (data["model"] == panel.model)]
        name = f"{DISPLAY_NAMES.get(panel.dataset, panel.dataset)} · {panel.model}"
        _draw_scatter(fig, axes[0][j], group, f"{name}\nr = {_fmt(panel.pearson_r)}, ρ = {_fmt(panel.spearman_rho)}"
                                                   f" (n = {panel.n})")
        if by_lr:
            _draw_by_lr(axes[1][j], group, name)
    if not panels:
        for ax in axes.flat:
            ax.set_axis_off()
        axes[0][0].text(0.5, 0.5, "no runs with a BC loss ratio", ha="center", va="center")
    fig.suptitle(title, fontsize=9)
    footer = [note] if note else []
    capped = int(data["status"].isin(CAPPED_STATUSES).sum())
    if capped:
        footer.append(f"{capped}/{len(data)} runs stopped before 100 % train acc. (iteration cap or stalled).")
    if footer:
        fig.text(0.01, 0.005, "\n".join(footer), fontsize=6, va="bottom", ha="left", color="0.3")
    fig.tight_layout(rect=(0, 0.1 * len(footer) / height, 1, 1))
    save_figure(fig, pdf_path, png_path)
    with atomic_path(stats_csv) as tmp:
        stats.to_csv(tmp, index=False)


def _fmt(value: float) -> str:
    return "n/a" if np.isnan(value) else f"{value:.2f}"


def _lr_norm(lrs: np.ndarray) -> matplotlib.colors.LogNorm:
    low, high = float(lrs.min()), float(lrs.max())
    return matplotlib.colors.LogNorm(low / 2, high * 2) if low == high else matplotlib.colors.LogNorm(low, high)


def _draw_scatter(fig: plt.Figure, ax: plt.Axes, group: pd.DataFrame, title: str) -> None:
    lrs = group["lr"].to_numpy(float)
    points = ax.scatter(group["max_bc_loss_ratio"], 100 * group["test_acc"], c=lrs, cmap="viridis",
                        norm=_lr_norm(lrs), s=22, edgecolors="0.2", linewidths=0.3)
    fig.colorbar(points, ax=ax, label="learning rate")
    ax.set_xlabel("max. BC loss ratio during training")
    ax.set_ylabel("unbiased test acc. (%)")
    ax.set_title(title, fontsize=8)


def _draw_by_lr(ax: plt.Axes, group: pd.DataFrame, name: str) -> None:
    means = group.groupby("lr")[["test_acc", "max_bc_loss_ratio"]].agg(["mean", "std"])
    lrs = means.index.to_numpy(float)
    accuracy_colour, ratio_colour = sns.color_palette()[0], sns.color_palette()[1]
    ax.errorbar(lrs, 100 * means[("test_acc", "mean")], yerr=100 * means[("test_acc", "std")].fillna(0),
                color=accuracy_colour, marker="o", capsize=2, label="test acc.")
    ax.set_ylabel("unbiased test acc. (%)", color=accuracy_colour)
    twin = ax.twinx()
    twin.errorbar(lrs, means[("max_bc_loss_ratio", "mean")], yerr=means[("max_bc_loss_ratio", "std")].fillna(0),
                  color=ratio_colour, marker="s", capsize=2, label="max. BC loss ratio")
    twin.set_ylabel("max. BC loss ratio", color=ratio_colour)
    twin.grid(False)
    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set_xticks(lrs, [f"{lr:g}" for lr in lrs], fontsize=7)
    ax.set_xlabel("learning rate")
    ax.set_title(name, fontsize=8)
