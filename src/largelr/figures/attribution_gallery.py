"""Attribution galleries of low- vs high-LR models (paper Figs 1 top right, 8, 29–34; suppl. E).

One panel per gallery (a dataset × model group, chosen by :func:`largelr.analyses.gallery.select_gallery`),
panels stacked vertically. As in the paper each panel has three rows over the same test
samples: the original images, the seed-aggregated attributions of the low-LR models and those
of the high-LR models (heat colour map, each map scaled to its own maximum). Column titles give
the class ``y`` and bias label ``b``; a ``*`` marks samples meeting the strict hard-sample
criterion of suppl. E.1 (the others fill the gallery up, see :mod:`largelr.analyses.gallery`). Under
each map its spurious-region share of the attribution is printed.

Vector datasets (parity, moon-star) are drawn as one-row heat strips (input values and
attributions per feature); the paper's galleries are for image datasets.

This module needs no torch (it reads the gallery ``.npz`` files only).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.gridspec import GridSpec

from largelr.datasets.format import SPURIOUS
from largelr.figures.dataset_examples import _as_image
from largelr.figures.save import save_figure

HEAT_CMAP = "hot"
CELL = 0.95  # inches per sample column
LABEL_WIDTH = 1.45  # inches for the row labels
HARD_NOTE = "* correct for > 75 % of high-LR seeds and < 25 % of low-LR seeds (suppl. E.1)"


def read_gallery(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of a gallery ``.npz`` written by :func:`largelr.analyses.gallery.write_gallery`."""
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def _is_image(gallery: dict[str, np.ndarray]) -> bool:
    return gallery["x"].ndim == 4


def sample_image(x: np.ndarray) -> tuple[np.ndarray, dict]:
    """One input sample for ``imshow``: an image (C×H×W) as is, a vector as a 1×D strip."""
    if x.ndim == 1:
        return x[None, :].astype(np.float64), {"cmap": "coolwarm", "aspect": "auto"}
    return _as_image(x)


def map_image(attr_map: np.ndarray) -> tuple[np.ndarray, dict]:
    """One attribution map for ``imshow``, scaled to its own maximum (vectors as 1×D strips)."""
    image = np.nan_to_num(np.abs(np.asarray(attr_map, dtype=np.float64)))
    peak = float(image.max()) if image.size else 0.0
    kwargs = {"cmap": HEAT_CMAP, "vmin": 0.0, "vmax": peak if peak > 0 else 1.0}
    if image.ndim == 1:
        return image[None, :], {**kwargs, "aspect": "auto"}
    return image, kwargs


def _row_height(gallery: dict[str, np.ndarray]) -> float:
    if len(gallery["indices"]) == 0:
        return 0.25
    if _is_image(gallery):
        return CELL * gallery["x"].shape[2] / gallery["x"].shape[3] + 0.22
    return 0.45 + 0.22


def has_spurious_region(gallery: dict[str, np.ndarray]) -> bool:
    """Whether the samples have pixels marked spurious (Colored MNIST's colour lies on the digit
    itself, so its masks have none and a "spurious %" caption would always read 0)."""
    return "region" in gallery and bool((np.asarray(gallery["region"]) == SPURIOUS).any())


def _lr_label(which: str, gallery: dict[str, np.ndarray]) -> str:
    lr = float(gallery[f"{which}_lr"])
    seeds = int(gallery[f"n_seeds_{which}"])
    spurious = gallery[f"spurious_share_{which}"]
    shown = has_spurious_region(gallery) and np.isfinite(spurious).any()
    mean = f"\nspurious {np.nanmean(spurious):.0%}" if shown else ""
    return f"{which} LR {lr:g}\n({seeds} seed{'s' if seeds != 1 else ''}){mean}"


def bare_axes(ax: plt.Axes) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)


def _draw_panel(fig: plt.Figure, grid: GridSpec, first_row: int, name: str, gallery: dict[str, np.ndarray],
                n_cols: int) -> None:
    title_ax = fig.add_subplot(grid[first_row, :])
    title_ax.axis("off")
    title_ax.text(0.5, 0.45, name, ha="center", va="bottom", fontsize=9, fontweight="bold")
    n = len(gallery["indices"])
    if n == 0:
        ax = fig.add_subplot(grid[first_row + 1 : first_row + 4, :])
        ax.axis("off")
        ax.text(0.5, 0.5, "no usable runs (all diverged or filtered out)", ha="center", va="center", fontsize=8)
        return
    rows = [("original", None), (_lr_label("low", gallery), "maps_low"), (_lr_label("high", gallery), "maps_high")]
    for r, (label, key) in enumerate(rows):
        for col in range(n_cols):
            ax = fig.add_subplot(grid[first_row + 1 + r, col])
            bare_axes(ax)
            if col == 0:
                ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=7, labelpad=6)
            if col >= n:
                continue
            image, kwargs = sample_image(gallery["x"][col]) if key is None else map_image(gallery[key][col])
            ax.imshow(image, interpolation="nearest", **kwargs)
            if key is None:
                hard = "*" if bool(gallery["is_hard"][col]) else ""
                ax.set_title(f"{hard}y={int(gallery['y'][col])} b={int(gallery['b'][col])}", fontsize=5.5, pad=1.5)
            else:
                share = gallery[f"spurious_share_{key[5:]}"][col]
                if has_spurious_region(gallery) and np.isfinite(share):
                    ax.set_xlabel(f"spurious {share:.0%}", fontsize=5, labelpad=1)


def plot_attribution_gallery(galleries: dict[str, dict[str, np.ndarray]], pdf_path: str | Path,
                             png_path: str | Path, title: str, note: str = "") -> None:
    """Draw the galleries (panel title → arrays of :func:`read_gallery`) stacked vertically."""
    if not galleries:
        raise ValueError("no galleries to plot")
    n_cols = max(1, max(len(g["indices"]) for g in galleries.values()))
    heights: list[float] = []
    for gallery in galleries.values():
        heights += [0.45] + [_row_height(gallery)] * 3
    sns.set_theme(style="whitegrid", context="paper")
    width = LABEL_WIDTH + CELL * n_cols
    footer = 0.35 if note else 0.2
    total = sum(heights) + 0.45 + footer
    fig = plt.figure(figsize=(width, total))
    grid = GridSpec(len(heights), n_cols, figure=fig, height_ratios=heights, left=(LABEL_WIDTH - 0.05) / width,
                    right=0.995, top=1 - 0.45 / total, bottom=footer / total, wspace=0.08, hspace=0.0)
    for p, (name, gallery) in enumerate(galleries.items()):
        _draw_panel(fig, grid, 4 * p, name, gallery, n_cols)
    fig.suptitle(title, fontsize=9, y=1 - 0.08 / total, va="top")
    footer_text = HARD_NOTE + (f"\n{note}" if note else "")
    fig.text(0.01, 0.005, footer_text, fontsize=6, va="bottom", ha="left", color="0.3")
    save_figure(fig, pdf_path, png_path)


__all__ = ["bare_axes", "map_image", "plot_attribution_gallery", "read_gallery", "sample_image"]
