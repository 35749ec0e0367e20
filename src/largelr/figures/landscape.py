"""Loss / accuracy / spurious-utilisation landscapes by learning rate and focal loss (paper Fig 9).

"Training loss, unbiased test acc., and spurious feature utilization landscapes for models with
different LRs and FL": one row per run (sorted by LR, then intervention and seed; the focal-loss
models are the intervention cells a figure spec names in ``interventions``, e.g. ``focal_gamma=4``, whose
rows say ``focal_gamma=4`` beside their LR), three filled-contour
panels over the (α, β) plane of two filter-normalised random directions
(:mod:`largelr.analyses.landscape`): training loss (log colour scale), unbiased test accuracy and
spurious feature utilisation (fraction of unbiased-test predictions following the bias label),
the trained weights (α = β = 0) marked with a cross. Each column shares one colour scale over
all rows (losses: the common log range; fractions: [0, 1]) so rows are comparable. Diverged
runs keep their row with a note. No torch needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.colors import LogNorm, Normalize

from largelr.io import read_json
from largelr.figures.save import save_figure

# (npz key, column title, colour map)
PANELS = (
    ("loss", "training loss", "viridis"),
    ("spurious_split_accuracy", "unbiased test accuracy", "magma"),
    ("spurious_utilisation", "spurious feature utilisation", "magma"),
)
LOSS_FLOOR = 1e-4  # losses are clipped here before the log colour scale
LEVELS = 15


def read_landscape(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of a landscape ``.npz`` written by :func:`largelr.analyses.landscape.landscape_run`."""
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def run_label(cell: dict) -> str:
    """Row label, e.g. ``LR 0.01, seed 0`` (with the intervention when it is not ``none``)."""
    intervention = cell.get("intervention", "none")
    extra = f", {intervention}" if intervention not in (None, "none") else ""
    return f"LR {float(cell['lr']):g}{extra}, seed {cell['seed']}"


def _norms(landscapes: list[dict[str, np.ndarray]]) -> dict[str, Normalize]:
    """One colour scale per column over all rows."""
    losses = np.concatenate([d["loss"].ravel() for d in landscapes if d["loss"].size] or [np.ones(1)])
    losses = np.clip(losses[np.isfinite(losses)], LOSS_FLOOR, None)
    low, high = (float(losses.min()), float(losses.max())) if losses.size else (LOSS_FLOOR, 1.0)
    high = high if high > low else low * 10
    return {"loss": LogNorm(low, high), "spurious_split_accuracy": Normalize(0, 1),
            "spurious_utilisation": Normalize(0, 1)}


def _levels(norm: Normalize) -> np.ndarray:
    if isinstance(norm, LogNorm):
        return np.geomspace(norm.vmin, norm.vmax, LEVELS + 1)
    return np.linspace(norm.vmin, norm.vmax, LEVELS + 1)


def _draw_cell(ax: plt.Axes, landscape: dict[str, np.ndarray], key: str, norm: Normalize, cmap: str) -> None:
    ax.grid(False)
    values = landscape[key]
    if key == "loss":
        values = np.clip(np.nan_to_num(values, nan=norm.vmax, posinf=norm.vmax), norm.vmin, norm.vmax)
    contour = ax.contourf(landscape["alphas"], landscape["betas"], values.T, levels=_levels(norm), norm=norm,
                          cmap=cmap, extend="neither")
    ax.plot([0], [0], marker="x", color="white", markersize=6, markeredgewidth=1.5)
    ax.plot([0], [0], marker="x", color="black", markersize=4, markeredgewidth=0.8)
    ticks = np.geomspace(norm.vmin, norm.vmax, 5) if isinstance(norm, LogNorm) else np.linspace(0, 1, 5)
    colorbar = ax.figure.colorbar(contour, ax=ax, fraction=0.046, pad=0.03, ticks=ticks, format="%.3g")
    colorbar.ax.minorticks_off()
    colorbar.ax.tick_params(labelsize=6)
    ax.set_aspect("equal")
    ax.tick_params(labelsize=6)


def plot_landscapes(run_jsons: Sequence[str | Path], landscape_npzs: Sequence[str | Path], pdf_path: str | Path,
                    png_path: str | Path, title: str, note: str = "") -> None:
    """Draw Fig 9 from per-run landscapes (parallel to ``run_jsons``); see the module docstring."""
    rows = []
    for run_json, npz in zip(run_jsons, landscape_npzs, strict=True):
        cell = read_json(run_json)["cell"]
        rows.append((float(cell["lr"]), str(cell.get("intervention", "none")), int(cell["seed"]), run_label(cell),
                     read_landscape(npz)))
    if not rows:
        raise ValueError("no landscapes to plot")
    rows.sort(key=lambda r: r[:3])
    usable = [r[4] for r in rows if r[4]["alphas"].size]
    norms = _norms(usable)
    sns.set_theme(style="whitegrid", context="paper")
    fig, axes = plt.subplots(len(rows), len(PANELS), figsize=(9.0, 0.6 + 2.6 * len(rows)), squeeze=False)
    for r, (*_, label, landscape) in enumerate(rows):
        for c, (key, column_title, cmap) in enumerate(PANELS):
            ax = axes[r][c]
            if r == 0:
                ax.set_title(column_title, fontsize=8)
            if not landscape["alphas"].size:
                ax.axis("off")
                if c == 0:
                    ax.text(0.0, 0.5, f"{label}: {landscape['status']} (no landscape)", ha="left", va="center",
                            fontsize=7, transform=ax.transAxes)
                continue
            _draw_cell(ax, landscape, key, norms[key], cmap)
            ax.set_xlabel("α (direction 1)", fontsize=6)
            if c == 0:
                ax.set_ylabel(f"{label}\nβ (direction 2)", fontsize=7)
    fig.suptitle(title, fontsize=9)
    if note:
        fig.text(0.01, 0.005, note, fontsize=6, va="bottom", ha="left", color="0.3")
    fig.tight_layout(rect=(0, 0.03 if note else 0, 1, 1))
    save_figure(fig, pdf_path, png_path)


__all__ = ["PANELS", "plot_landscapes", "read_landscape", "run_label"]
