"""Training-dynamics figures (paper §6): Fig 3 right, Fig 13 and suppl. Fig 28 bottom.

Inputs are the ``dynamics.csv`` / ``dynamics_maps.npz`` files of :mod:`largelr.analyses.dynamics`
(one per run), gathered with :func:`dynamics_table` / :func:`map_rows`. In every figure the
**low LR** of a (dataset, model) group is the smallest LR among its runs that have snapshot
data and the **high LR** the largest (diverged runs have none, so they never count);
intermediate LRs are not drawn. Curves are means over seeds with a ± 1 s.d.
band (seaborn ``errorbar="sd"``); runs that converged earlier simply end earlier.

* :func:`plot_attribution_dynamics` — Fig 3 right: core / spurious / noise attribution %
  through training, one panel per role (low / high LR), plus the max BC loss ratio and the
  test accuracy through training (hue = LR).
* :func:`plot_dynamics_maps` — Fig 13: left, rows = low / high LR, columns = the sample's
  image and its attribution map at (up to) ``max_snapshots`` evenly spaced snapshots; right
  (when a table is given), the model statistics through training (spurious attribution % or,
  where the dataset marks no spurious pixels, attribution entropy;
  max BC loss ratio, test accuracy, logit norm).
* :func:`plot_single_neuron` — Fig 28 bottom: spurious share of one neuron's input
  attribution and its incoming-weight norm through training, high-LR runs, one line per seed.

This module runs in the plotting environment: no torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import matplotlib.patches

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from largelr.datasets.format import SPURIOUS
from largelr.figures.names import DISPLAY_NAMES
from largelr.io import read_json
from largelr.figures.save import save_figure

CELL_COLUMNS = ["dataset", "model", "recipe", "intervention", "lr", "seed", "status"]
REGION_LABELS = {"core_attribution": "core", "spurious_attribution": "spurious", "noise_attribution": "noise"}
STATISTICS = {
    "spurious_attribution": "spurious attribution %",
    "bc_loss_ratio_max": "max BC loss ratio",
    "test_acc": "test accuracy",
    "logit_norm": "logit norm",
}
# a colour bias (Colored MNIST) or a natural image (CIFAR-10) marks no spurious pixels: there the
# first statistic panel shows how focused the attribution is instead (entropy, §5)
ENTROPY = ("attribution_entropy", "attribution entropy (nats)")
ROLE_PALETTE = {"low LR": "#4477aa", "high LR": "#cc3311"}


# ---------------------------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------------------------


def dynamics_table(run_jsons: Sequence[str | Path], dynamics_csvs: Sequence[str | Path]) -> pd.DataFrame:
    """All runs' dynamics rows with the cell columns (dataset, model, recipe, intervention, lr, seed, status).

    Runs with a header-only ``dynamics.csv`` (diverged, or no snapshots) contribute no rows.
    """
    frames = []
    for run_json, csv_path in zip(run_jsons, dynamics_csvs, strict=True):
        record = read_json(run_json)
        rows = pd.read_csv(csv_path)
        if rows.empty:
            continue
        cell = record["cell"]
        values = {key: cell.get(key) for key in CELL_COLUMNS if key != "status"}
        frames.append(rows.assign(**values, status=record["status"]))
    if not frames:
        return pd.DataFrame(columns=CELL_COLUMNS + ["iteration"])
    return pd.concat(frames, ignore_index=True)


def with_lr_roles(table: pd.DataFrame) -> pd.DataFrame:
    """Rows of the smallest ("low LR") and largest ("high LR") LR of each (dataset, model) group."""
    if table.empty:
        return table.assign(role=pd.Series(dtype=str))
    bounds = table.groupby(["dataset", "model"])["lr"].agg(["min", "max"])
    low = table["lr"] == table.join(bounds, on=["dataset", "model"])["min"]
    high = table["lr"] == table.join(bounds, on=["dataset", "model"])["max"]
    # with a single LR the group's runs count as both (drawn once per role)
    parts = [table[low].assign(role="low LR"), table[high].assign(role="high LR")]
    return pd.concat(parts, ignore_index=True)


@dataclass
class MapsRow:
    """One row of Fig 13 left: a run's label and its ``dynamics_maps.npz`` arrays."""

    label: str
    role: str
    arrays: dict[str, np.ndarray]


def load_dynamics_maps(path: str | Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def map_rows(run_jsons: Sequence[str | Path], maps_paths: Sequence[str | Path]) -> list[MapsRow]:
    """Per (dataset, model): the low- and the high-LR run with the smallest seed that has maps."""
    cells = []
    for run_json, maps_path in zip(run_jsons, maps_paths, strict=True):
        arrays = load_dynamics_maps(maps_path)
        if len(arrays["iterations"]):
            cells.append((read_json(run_json)["cell"], arrays))
    rows = []
    for dataset, model in sorted({(c["dataset"], c["model"]) for c, _ in cells}):
        group = [(c, a) for c, a in cells if (c["dataset"], c["model"]) == (dataset, model)]
        lrs = sorted({c["lr"] for c, _ in group})
        for role, lr in (("low LR", lrs[0]), ("high LR", lrs[-1])):
            cell, arrays = min(((c, a) for c, a in group if c["lr"] == lr), key=lambda ca: ca[0]["seed"])
            label = f"{DISPLAY_NAMES.get(dataset, dataset)} · {model}\n{role}: η = {lr:g} (seed {cell['seed']})"
            rows.append(MapsRow(label, role, arrays))
    return rows


# ---------------------------------------------------------------------------------------------
# shared drawing helpers
# ---------------------------------------------------------------------------------------------


def _groups(table: pd.DataFrame) -> list[tuple[str, str]]:
    return sorted({(d, m) for d, m in zip(table["dataset"], table["model"])})


def _group_title(dataset: str, model: str) -> str:
    return f"{DISPLAY_NAMES.get(dataset, dataset)} · {model}"


def _lr_label(data: pd.DataFrame) -> str:
    return ", ".join(f"{lr:g}" for lr in sorted(data["lr"].unique()))


def _finish(fig: plt.Figure, pdf_path: str | Path, png_path: str | Path, title: str, note: str,
            tight: bool = True) -> None:
    fig.suptitle(title, fontsize=9)
    if note:
        fig.text(0.01, 0.005, note, fontsize=6, va="bottom", ha="left", color="0.3")
    if tight:
        fig.tight_layout(rect=(0, 0.04 if note else 0, 1, 1))
    save_figure(fig, pdf_path, png_path)


def _empty_figure(pdf_path: str | Path, png_path: str | Path, title: str, note: str) -> None:
    fig, ax = plt.subplots(figsize=(5, 2.5))
    ax.axis("off")
    ax.text(0.5, 0.5, "no snapshot data\n(diverged runs, or training.snapshot_interval = 0)",
            ha="center", va="center", fontsize=8)
    _finish(fig, pdf_path, png_path, title, note)


def _statistic_panel(ax: plt.Axes, data: pd.DataFrame, column: str, label: str) -> None:
    """One statistic through training, hue = low / high LR."""
    values = data[["iteration", "role", column]].dropna()
    if column.endswith("_attribution"):
        values = values.assign(**{column: 100 * values[column]})
    if values.empty:
        ax.text(0.5, 0.5, "not logged", ha="center", va="center", fontsize=7, transform=ax.transAxes)
    else:
        sns.lineplot(data=values, x="iteration", y=column, hue="role", palette=ROLE_PALETTE,
                     hue_order=[r for r in ROLE_PALETTE if r in set(values["role"])],
                     errorbar="sd", err_kws={"alpha": 0.15}, marker="o", markersize=3, ax=ax)
        ax.legend(fontsize=6, title=None)
    ax.set_ylabel(label)
    ax.set_xlabel("iteration")


# ---------------------------------------------------------------------------------------------
# Fig 3 right
# ---------------------------------------------------------------------------------------------


def _attribution_panel(ax: plt.Axes, data: pd.DataFrame, title: str) -> None:
    """Core / spurious (/ noise, when the dataset has any) attribution % of one LR role."""
    regions = [c for c in REGION_LABELS if c in data and (data[c].fillna(0) > 1e-9).any()]
    long = data.melt(id_vars=["iteration", "seed"], value_vars=regions, var_name="region", value_name="share")
    long = long.dropna().assign(region=lambda d: d["region"].map(REGION_LABELS), share=lambda d: 100 * d["share"])
    sns.lineplot(data=long, x="iteration", y="share", hue="region", errorbar="sd", err_kws={"alpha": 0.15},
                 marker="o", markersize=3, ax=ax)
    ax.set_ylim(-2, 102)
    ax.set_ylabel("attribution %")
    ax.set_title(title, fontsize=8)
    ax.legend(fontsize=6, title=None)


def plot_attribution_dynamics(table: pd.DataFrame, pdf_path: str | Path, png_path: str | Path, title: str,
                              note: str = "") -> None:
    """Fig 3 right / Fig 13 right: attribution % by LR role, max BC loss ratio and test acc through training.

    ``table``: :func:`dynamics_table`. One row of panels per (dataset, model).
    """
    sns.set_theme(style="whitegrid", context="paper")
    if table.empty:
        _empty_figure(pdf_path, png_path, title, note)
        return
    roles = with_lr_roles(table)
    groups = _groups(table)
    fig, axes = plt.subplots(len(groups), 4, figsize=(12.5, 0.5 + 2.8 * len(groups)), squeeze=False)
    for row, (dataset, model) in zip(axes, groups):
        data = roles[(roles["dataset"] == dataset) & (roles["model"] == model)]
        for ax, role in zip(row[:2], ROLE_PALETTE):
            part = data[data["role"] == role]
            _attribution_panel(ax, part, f"{_group_title(dataset, model)}\n{role} (η = {_lr_label(part)})")
        for ax, column in zip(row[2:], ("bc_loss_ratio_max", "test_acc")):
            _statistic_panel(ax, data, column, STATISTICS[column])
            ax.set_title(_group_title(dataset, model), fontsize=8)
    _finish(fig, pdf_path, png_path, title, note)


# ---------------------------------------------------------------------------------------------
# Fig 13
# ---------------------------------------------------------------------------------------------


def pick_snapshots(iterations: np.ndarray, k: int) -> np.ndarray:
    """Positions of at most ``k`` evenly spaced snapshots, always the first and the last."""
    n = len(iterations)
    if n <= k:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, k).round().astype(int))


def _as_picture(a: np.ndarray) -> np.ndarray:
    """An image sample (C×H×W) as H×W(×3) in [0, 1]; a vector (D) or map (H×W / D) as a 2-D array."""
    if a.ndim == 1:
        return a[None, :].astype(np.float64)
    if a.ndim == 3:
        image = a.astype(np.float64) / (255.0 if a.dtype == np.uint8 else 1.0)
        return image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)
    return a.astype(np.float64)


def _outline_spurious(ax: plt.Axes, region: np.ndarray) -> None:
    """Cyan outline of the spurious region (image contour, or boxes around spurious features)."""
    spurious = region == SPURIOUS
    if not 0 < spurious.mean() < 1:
        return
    if region.ndim == 2:
        ax.contour(spurious, levels=[0.5], colors="cyan", linewidths=0.4)
        return
    for feature in np.flatnonzero(spurious):
        ax.add_patch(matplotlib.patches.Rectangle((feature - 0.5, -0.5), 1, 1, fill=False, edgecolor="cyan",
                                                  linewidth=0.8))


def _draw_maps(fig: plt.Figure, rows: list[MapsRow], sample: int, max_snapshots: int) -> None:
    columns = max(len(pick_snapshots(r.arrays["iterations"], max_snapshots)) for r in rows) + 1
    axes = fig.subplots(len(rows), columns, squeeze=False)
    for ax_row, maps_row in zip(axes, rows):
        arrays = maps_row.arrays
        position = min(sample, len(arrays["indices"]) - 1)
        picture = _as_picture(arrays["x"][position])
        ax_row[0].imshow(picture, cmap="gray" if picture.ndim == 2 else None, aspect="auto" if arrays["x"].ndim == 2
                         else "equal", interpolation="nearest")
        ax_row[0].set_ylabel(maps_row.label, fontsize=6, rotation=0, ha="right", va="center")
        ax_row[0].set_title(f"test #{arrays['indices'][position]} (y={arrays['y'][position]}, "
                            f"b={arrays['b'][position]})", fontsize=6)
        region = arrays["region"][position]
        for ax, snap in zip(ax_row[1:], pick_snapshots(arrays["iterations"], max_snapshots)):
            attr = _as_picture(np.abs(arrays["maps"][snap, position].astype(np.float64)))
            ax.imshow(attr, cmap="inferno", vmin=0, vmax=max(float(attr.max()), 1e-12),
                      aspect="auto" if attr.shape[0] == 1 else "equal", interpolation="nearest")
            _outline_spurious(ax, region)
            ax.set_title(f"iter {arrays['iterations'][snap]}", fontsize=6)
        for ax in ax_row:
            ax.set_xticks([])
            ax.set_yticks([])
        for ax in ax_row[1 + len(pick_snapshots(arrays["iterations"], max_snapshots)):]:
            ax.set_visible(False)


def _draw_statistics(fig: plt.Figure, table: pd.DataFrame) -> None:
    roles = with_lr_roles(table)
    groups = _groups(table)
    axes = fig.subplots(len(groups), len(STATISTICS), squeeze=False)
    for ax_row, (dataset, model) in zip(axes, groups):
        data = roles[(roles["dataset"] == dataset) & (roles["model"] == model)]
        statistics = list(STATISTICS.items())
        if not data["spurious_attribution"].fillna(0).gt(0).any():
            statistics[0] = ENTROPY
        for ax, (column, label) in zip(ax_row, statistics):
            _statistic_panel(ax, data, column, label)
            ax.set_title(_group_title(dataset, model), fontsize=7)


def plot_dynamics_maps(rows: list[MapsRow], pdf_path: str | Path, png_path: str | Path, title: str,
                       note: str = "", table: pd.DataFrame | None = None, sample: int = 0,
                       max_snapshots: int = 6) -> None:
    """Fig 13: one sample's attribution map through training per low / high LR run (left).

    ``rows``: :func:`map_rows`. ``sample``: position among the stored samples (0 = the first
    bias-conflicting one). With ``table`` (:func:`dynamics_table`) the model statistics through
    training are drawn on the right (Fig 13 right).
    """
    sns.set_theme(style="whitegrid", context="paper")
    if not rows:
        _empty_figure(pdf_path, png_path, title, note)
        return
    with_stats = table is not None and not table.empty
    n_groups = len(_groups(table)) if with_stats else 0
    height = max(0.9 + 1.25 * len(rows), 0.9 + 2.3 * n_groups)
    fig = plt.figure(figsize=(8.5 + (11 if with_stats else 0), height), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[8.5, 11]) if with_stats else (fig, None)
    _draw_maps(left, rows, sample, max_snapshots)
    if right is not None:
        _draw_statistics(right, table)
    _finish(fig, pdf_path, png_path, title, note, tight=False)


# ---------------------------------------------------------------------------------------------
# Fig 28 bottom
# ---------------------------------------------------------------------------------------------


def plot_single_neuron(table: pd.DataFrame, pdf_path: str | Path, png_path: str | Path, title: str,
                       note: str = "") -> None:
    """Fig 28 bottom: one neuron's spurious attribution % (solid, left axis) and incoming-weight
    norm (dashed, right axis) through training; high-LR runs, one colour per seed, one panel per
    (dataset, model). The neuron is chosen per run (see :mod:`largelr.analyses.dynamics`).
    """
    sns.set_theme(style="whitegrid", context="paper")
    high = with_lr_roles(table)
    high = high[high["role"] == "high LR"] if not high.empty else high
    if high.empty:
        _empty_figure(pdf_path, png_path, title, note)
        return
    groups = _groups(high)
    fig, axes = plt.subplots(1, len(groups), figsize=(0.8 + 4.2 * len(groups), 3.2), squeeze=False)
    palette = sns.color_palette("tab10")
    for ax, (dataset, model) in zip(axes[0], groups):
        data = high[(high["dataset"] == dataset) & (high["model"] == model)]
        norm_ax = ax.twinx()
        for k, (seed, run) in enumerate(data.groupby("seed")):
            run = run.sort_values("iteration")
            colour = palette[k % len(palette)]
            unit = int(run["neuron"].iloc[0]) if run["neuron"].notna().any() else -1
            ax.plot(run["iteration"], 100 * run["neuron_spurious_attribution"], "-o", markersize=3, color=colour,
                    label=f"seed {seed}, unit {unit}")
            norm_ax.plot(run["iteration"], run["neuron_weight_norm"], "--", color=colour, alpha=0.7)
        ax.set_ylim(-2, 102)
        ax.set_xlabel("iteration")
        ax.set_ylabel("neuron spurious attribution % (—)")
        norm_ax.set_ylabel("incoming weight norm (- -)")
        norm_ax.grid(False)
        ax.set_title(f"{_group_title(dataset, model)}, high LR η = {_lr_label(data)}", fontsize=8)
        ax.legend(fontsize=6)
    _finish(fig, pdf_path, png_path, title, note)
