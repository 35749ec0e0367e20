"""Metrics-versus-learning-rate figures: the left panels of Fig 3 (parity) and Fig 15 (moon-star).

As in the paper, every variable is min–max normalised on its own (so all curves share one
y-axis from 0 to 1), the x-axis is the LR on a log scale, lines are means over seeds and
bands ± one standard deviation. The raw minimum and maximum of each variable (the paper's
Table 1 numbers) are written to a companion CSV next to the figure. The paper trains every
run to 100 % training accuracy (§4.2): a per-LR mean whose seeds include a capped run
(iteration cap or stalled, :data:`largelr.engine_facts.CAPPED_STATUSES`) is drawn as a hollow
marker, and the footer counts the capped runs.
"""

from __future__ import annotations

import textwrap

import itertools
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from largelr.engine_facts import CAPPED_STATUSES, RunStatus
from largelr.io import atomic_path
from largelr.figures.save import save_figure
# figure labels of every drawable metric and the default ones (Table 1's, §4.2), from the registry
from largelr.metric_registry import LR_SWEEP_DEFAULTS, LR_SWEEP_METRICS


def normalised_long_table(runs: pd.DataFrame, metrics: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Long table (lr, seed, variable, value in [0, 1], capped) and the raw ranges used to normalise.

    Each variable is scaled by the min and max of its per-LR means, so the mean curve spans
    exactly [0, 1] (a constant variable is drawn at 0.5). ``capped`` flags runs stopped before
    100 % training accuracy (status in ``CAPPED_STATUSES``).
    """
    usable = runs[runs["status"] != RunStatus.DIVERGED]
    long_rows, ranges = [], []
    for column, label in metrics.items():
        values = usable[["lr", "seed", "status", column]].dropna()
        if values.empty:  # e.g. a variable undefined for this dataset
            continue
        means = values.groupby("lr")[column].mean()
        low, high = float(means.min()), float(means.max())
        span = high - low
        scaled = (values[column] - low) / span if span > 0 else values[column] * 0 + 0.5
        long_rows.append(pd.DataFrame({"lr": values["lr"], "seed": values["seed"], "variable": label, "value": scaled,
                                       "capped": values["status"].isin(CAPPED_STATUSES)}))
        ranges.append({"variable": label, "column": column, "min": low, "max": high})
    return pd.concat(long_rows, ignore_index=True), pd.DataFrame(ranges)


# Marker shape per variable (its colour comes from the seaborn palette, in the same order).
MARKERS = ("o", "X", "s", "P", "^", "D", "v", "p", "*", "h", "<", ">", "d", "8", "H")


def plot_lr_sweep(runs: pd.DataFrame, pdf_path: str | Path, png_path: str | Path, ranges_csv: str | Path,
                  title: str, note: str = "", metrics: list[str] | None = None,
                  panel_titles: dict[str, str] | None = None) -> None:
    """Metrics vs LR (Figs 3-5, 10, 15-17, 22-26, 28) as PDF and PNG, ranges as CSV; see :func:`lr_sweep_figure`."""
    fig, ranges = lr_sweep_figure(runs, title, note, metrics, panel_titles)
    save_figure(fig, pdf_path, png_path)
    with atomic_path(ranges_csv) as tmp:
        ranges.to_csv(tmp, index=False)


def lr_sweep_figure(runs: pd.DataFrame, title: str, note: str = "", metrics: list[str] | None = None,
                    panel_titles: dict[str, str] | None = None) -> tuple[Figure, pd.DataFrame]:
    """Metrics vs LR, one panel per (dataset, model) of ``runs`` (rows of ``summary/runs.csv``);
    rows of panels are datasets, columns models. Returns the figure and the raw ranges.

    ``runs`` should hold only the LRs kept by :mod:`largelr.reporting.lr_filter`; diverged runs are
    ignored in any case. Per-LR means that include a capped run (stopped before 100 % training
    accuracy, §4.2) get hollow markers, and the footer counts capped runs.
    Each panel normalises each variable on its own, as the paper's figures do.
    """
    chosen = {m: LR_SWEEP_METRICS[m] for m in (metrics or LR_SWEEP_DEFAULTS)}
    palette = sns.color_palette(n_colors=len(chosen))
    styles = {label: (palette[i], MARKERS[i % len(MARKERS)]) for i, label in enumerate(chosen.values())}
    datasets, models = sorted(runs["dataset"].unique()), sorted(runs["model"].unique())
    # rows = datasets, columns = models; a single model puts the datasets side by side instead
    positions = {(d, m): (i, j) for (i, d), (j, m) in itertools.product(enumerate(datasets), enumerate(models))}
    if len(models) == 1:
        positions = {(d, m): (0, i) for (d, m), (i, _) in positions.items()}
    n_rows, n_cols = (max(p[k] for p in positions.values()) + 1 for k in (0, 1))
    sns.set_theme(style="whitegrid", context="paper")
    handles = _legend_handles(styles, bool(len(runs[runs["status"].isin(CAPPED_STATUSES)])))
    legend_inches = 0.3 + 0.055 * max(len(h.get_label()) for h in handles)  # fontsize 7: ~0.055 in per character
    width = 3.1 * n_cols + legend_inches
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(width, 0.4 + 2.9 * n_rows), squeeze=False, sharey=True)
    all_ranges = []
    for (dataset, model), (row, col) in positions.items():
        ax = axes[row][col]
        panel_runs = runs[(runs["dataset"] == dataset) & (runs["model"] == model)]
        if panel_runs.empty:
            ax.set_visible(False)
            continue
        long_table, ranges = normalised_long_table(panel_runs, chosen)
        all_ranges.append(ranges.assign(dataset=dataset, model=model))
        _draw_panel(ax, long_table, f"{(panel_titles or {}).get(dataset, dataset)} · {model}", styles)
        ax.set_ylabel("normalised value" if col == 0 else "")
    capped = runs[runs["status"].isin(CAPPED_STATUSES)]
    fig.legend(handles=handles, fontsize=7, loc="center right", frameon=False)
    fig.suptitle(textwrap.fill(title, width=max(40, int(fig.get_figwidth() * 11))), fontsize=9)
    footer = [note] if note else []
    if len(capped):
        footer.append(f"{len(capped)}/{len(runs)} runs stopped before 100 % train acc. (cap or stall): hollow markers.")
    if footer:
        fig.text(0.01, 0.005, "\n".join(footer), fontsize=6, va="bottom", ha="left", color="0.3")
    fig.tight_layout(rect=(0, 0.1 * len(footer) / (0.4 + 2.9 * n_rows), 1 - legend_inches / width, 1))
    columns = ["dataset", "model", "variable", "column", "min", "max"]
    return fig, pd.concat(all_ranges, ignore_index=True)[columns]


def _legend_handles(styles: dict[str, tuple], any_capped: bool) -> list[Line2D]:
    handles = [Line2D([], [], color=color, marker=marker, label=label) for label, (color, marker) in styles.items()]
    if any_capped:
        handles.append(Line2D([], [], color="0.3", marker="o", markerfacecolor="none", linestyle="",
                              label="includes capped runs"))
    return handles


def _draw_panel(ax: plt.Axes, long_table: pd.DataFrame, title: str, styles: dict[str, tuple]) -> None:
    """Mean line ± sd band per variable, then its per-LR mean markers: hollow where a run was capped."""
    present = [label for label in styles if label in set(long_table["variable"])]
    sns.lineplot(data=long_table, x="lr", y="value", hue="variable", hue_order=present,
                 palette={label: styles[label][0] for label in present}, errorbar="sd", err_kws={"alpha": 0.12},
                 legend=False, ax=ax)
    points = long_table.groupby(["variable", "lr"]).agg(value=("value", "mean"), capped=("capped", "any"))
    for label in present:
        color, marker = styles[label]
        for capped, group in points.loc[label].groupby("capped"):
            ax.scatter(group.index, group["value"], marker=marker, s=30 if capped else 22, zorder=3, linewidths=1.2,
                       edgecolors=color, facecolors="none" if capped else color,
                       gid=f"{label}|{'capped' if capped else 'converged'}")
    ax.set_xscale("log")
    learning_rates = sorted(long_table["lr"].unique())
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set_xticks(learning_rates, [f"{lr:g}" for lr in learning_rates], fontsize=7)
    ax.set_xlabel("learning rate")
    ax.set_ylim(-0.1, 1.1)
    ax.set_title(title, fontsize=8)
