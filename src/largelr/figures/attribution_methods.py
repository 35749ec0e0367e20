"""Integrated Gradients vs DeepLift attributions of low- and high-LR models (paper Fig 14, suppl. E.1).

The paper checks that its conclusions are not an artefact of the attribution method: the same
test samples, attributed with IG (left) and DeepLift (right) for low- and high-LR models,
"produce identical results for the purposes of this paper". Here:

* the figure shows two blocks side by side, IG left and DeepLift right, each with the rows
  original images / low-LR attributions / high-LR attributions over the first ``n_samples``
  attributed test samples (the same in every maps file of a preset); the maps of each LR are
  averaged over its seeds after per-seed normalisation
  (as :func:`largelr.analyses.attribution.aggregate_over_seeds`), each drawn scaled to its own maximum;
* ``…_agreement.csv`` quantifies the agreement per run: the Spearman rank correlation between
  the IG and the DeepLift map of each attributed sample (maps flattened; samples with a
  constant map skipped), averaged over samples, and the core / spurious share of the
  attribution (as :func:`largelr.analyses.attribution.region_shares`, mean over samples) under each
  method. Diverged runs get empty (NaN) values.

Torch-free (the figure rules' plot environment has no torch): the statistics come from
:mod:`largelr.analyses.attribution_stats`.

Low LR = the smallest, high LR = the largest LR of the non-diverged runs passed in (pass only
the runs of the LRs kept by the §4.2 filter).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.gridspec import GridSpec
from scipy.stats import rankdata

from largelr.engine_facts import RunStatus
from largelr.datasets import SpuriousDataset, load_dataset
from largelr.analyses.attribution_stats import aggregate_over_seeds, region_shares
from largelr.figures.attribution_gallery import (
    bare_axes,
    has_spurious_region,
    map_image,
    sample_image,
)
from largelr.io import atomic_path, read_json
from largelr.figures.save import save_figure

METHOD_LABELS = {"ig": "Integrated Gradients", "deeplift": "DeepLift"}
AGREEMENT_COLUMNS = [
    "dataset", "model", "recipe", "lr", "intervention", "seed", "status", "samples", "spearman",
    "core_share_ig", "spurious_share_ig", "core_share_deeplift", "spurious_share_deeplift",
]


def spearman_per_sample(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-sample Spearman rank correlation of two batches of maps (flattened; ties → mean rank).

    ``nan`` for a sample whose map is constant under either method (no ranking).
    """
    a = np.asarray(a, dtype=np.float64).reshape(len(a), -1)
    b = np.asarray(b, dtype=np.float64).reshape(len(b), -1)
    if a.shape != b.shape:
        raise ValueError(f"maps to compare have shapes {a.shape} and {b.shape}")
    ra, rb = rankdata(a, axis=1), rankdata(b, axis=1)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    denominator = np.sqrt((ra**2).sum(axis=1) * (rb**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (ra * rb).sum(axis=1) / np.where(denominator > 0, denominator, 1.0), np.nan)


def _load(path: str | Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in ("indices", "maps", "y", "predictions")}


def _nanmean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else float("nan")


def method_agreement(run_jsons: Sequence[str | Path], ig_maps: Sequence[str | Path],
                     deeplift_maps: Sequence[str | Path], dataset: SpuriousDataset) -> pd.DataFrame:
    """One row per run (columns :data:`AGREEMENT_COLUMNS`): IG–DeepLift Spearman and region shares."""
    rows = []
    for run_json, ig_path, dl_path in zip(run_jsons, ig_maps, deeplift_maps, strict=True):
        record = read_json(run_json)
        row = {**{k: record["cell"].get(k) for k in AGREEMENT_COLUMNS[:6]}, "status": record["status"]}
        ig, dl = _load(ig_path), _load(dl_path)
        if not np.array_equal(ig["indices"], dl["indices"]):
            raise ValueError(f"{ig_path} and {dl_path} attribute different test samples")
        row["samples"] = len(ig["indices"])
        if len(ig["indices"]):
            row["spearman"] = _nanmean(spearman_per_sample(ig["maps"], dl["maps"]))
            region = dataset.test.region[ig["indices"]]
            for method, maps in (("ig", ig), ("deeplift", dl)):
                shares = region_shares(maps["maps"], region)
                for name in ("core", "spurious"):
                    row[f"{name}_share_{method}"] = _nanmean(shares[name])
        rows.append(row)
    return pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)


def method_gallery(run_jsons: Sequence[str | Path], ig_maps: Sequence[str | Path],
                   deeplift_maps: Sequence[str | Path], dataset: SpuriousDataset,
                   n_samples: int = 6) -> dict[str, np.ndarray] | None:
    """Arrays for the figure: ``x``, ``y``, ``region``, ``indices`` of the first ``n_samples`` attributed
    samples, ``{ig,deeplift}_{low,high}`` seed-aggregated maps and their per-sample
    ``spurious_share_{ig,deeplift}_{low,high}``, ``low_lr``, ``high_lr``; ``None`` when every run
    diverged."""
    by_lr: dict[float, list[tuple[np.ndarray, np.ndarray]]] = {}
    indices = None
    for run_json, ig_path, dl_path in zip(run_jsons, ig_maps, deeplift_maps, strict=True):
        record = read_json(run_json)
        if record["status"] == RunStatus.DIVERGED:
            continue
        ig, dl = _load(ig_path), _load(dl_path)
        indices = ig["indices"][:n_samples] if indices is None else indices
        if not all(np.array_equal(f["indices"][:n_samples], indices) for f in (ig, dl)):
            raise ValueError("IG and DeepLift maps of all runs must attribute the same test samples")
        by_lr.setdefault(float(record["cell"]["lr"]), []).append((ig["maps"][:n_samples], dl["maps"][:n_samples]))
    if not by_lr or indices is None or len(indices) == 0:
        return None
    low_lr, high_lr = min(by_lr), max(by_lr)
    arrays = {"indices": indices, "x": dataset.test.x[indices], "y": dataset.test.y[indices],
              "region": dataset.test.region[indices], "low_lr": np.array(low_lr), "high_lr": np.array(high_lr)}
    for which, lr in (("low", low_lr), ("high", high_lr)):
        for m, method in enumerate(("ig", "deeplift")):
            maps = aggregate_over_seeds([pair[m] for pair in by_lr[lr]])
            arrays[f"{method}_{which}"] = maps
            arrays[f"spurious_share_{method}_{which}"] = region_shares(maps, arrays["region"])["spurious"]
    return arrays


def _agreement_summary(agreement: pd.DataFrame) -> str:
    rho = agreement["spearman"].dropna()
    if rho.empty:
        return ""
    return (f"IG vs DeepLift: Spearman rank correlation of the maps {rho.mean():.2f} on average "
            f"(min {rho.min():.2f}) over {len(rho)} run(s)")


def _draw(gallery: dict[str, np.ndarray] | None, title: str, note: str, summary: str = "") -> plt.Figure:
    n = 1 if gallery is None else len(gallery["indices"])
    cell, label_width, gap = 0.9, 1.0, 0.3
    is_image = gallery is not None and gallery["x"].ndim == 4
    row = (cell * gallery["x"].shape[2] / gallery["x"].shape[3] if is_image else 0.45) + 0.22
    width = label_width + 2 * n * cell + gap
    footer = 0.1 + 0.12 * sum(bool(t) for t in (note, summary))
    height = 0.55 + 0.3 + 3 * row + footer
    fig = plt.figure(figsize=(width, height))
    if gallery is None:
        fig.text(0.5, 0.5, "no usable runs (all diverged)", ha="center", va="center", fontsize=8)
    else:
        columns = [cell] * n + [gap] + [cell] * n
        grid = GridSpec(4, 2 * n + 1, figure=fig, width_ratios=columns, height_ratios=[0.3] + [row] * 3,
                        left=label_width / width, right=0.995, top=1 - 0.5 / height,
                        bottom=footer / height, wspace=0.08, hspace=0.0)
        for block, method in enumerate(("ig", "deeplift")):
            offset = block * (n + 1)
            head = fig.add_subplot(grid[0, offset : offset + n])
            head.axis("off")
            head.text(0.5, 0.0, METHOD_LABELS[method], ha="center", va="bottom", fontsize=8, fontweight="bold")
            keys = [("original", None), (f"low LR {float(gallery['low_lr']):g}", f"{method}_low"),
                    (f"high LR {float(gallery['high_lr']):g}", f"{method}_high")]
            for r, (label, key) in enumerate(keys):
                for col in range(n):
                    ax = fig.add_subplot(grid[1 + r, offset + col])
                    bare_axes(ax)
                    if col == 0 and block == 0:
                        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=7, labelpad=6)
                    image, kwargs = sample_image(gallery["x"][col]) if key is None else map_image(gallery[key][col])
                    ax.imshow(image, interpolation="nearest", **kwargs)
                    if key is None:
                        ax.set_title(f"y={int(gallery['y'][col])}", fontsize=5.5, pad=1.5)
                    elif has_spurious_region(gallery) and np.isfinite(share := gallery[f"spurious_share_{key}"][col]):
                        ax.set_xlabel(f"spurious {share:.0%}", fontsize=5, labelpad=1)
    fig.suptitle(title, fontsize=9, y=1 - 0.08 / height, va="top")
    if note or summary:
        fig.text(0.01, 0.005, "\n".join(t for t in (summary, note) if t), fontsize=6, va="bottom", ha="left",
                 color="0.3")
    return fig


def plot_attribution_methods(run_jsons: Sequence[str | Path], ig_maps: Sequence[str | Path],
                             deeplift_maps: Sequence[str | Path], dataset_path: str | Path, pdf_path: str | Path,
                             png_path: str | Path, csv_path: str | Path, title: str, note: str = "",
                             n_samples: int = 6) -> pd.DataFrame:
    """Draw Fig 14 (IG block left, DeepLift block right) and write the per-run agreement CSV.

    ``ig_maps`` / ``deeplift_maps``: ``attribution_maps.npz`` of the same runs (parallel to
    ``run_jsons``) computed with each method. Returns the agreement table.
    """
    dataset = load_dataset(dataset_path)
    agreement = method_agreement(run_jsons, ig_maps, deeplift_maps, dataset)
    with atomic_path(csv_path) as tmp:
        agreement.to_csv(tmp, index=False)
    sns.set_theme(style="whitegrid", context="paper")
    fig = _draw(method_gallery(run_jsons, ig_maps, deeplift_maps, dataset, n_samples), title, note,
                _agreement_summary(agreement))
    save_figure(fig, pdf_path, png_path)
    return agreement


__all__ = ["AGREEMENT_COLUMNS", "method_agreement", "method_gallery", "plot_attribution_methods",
           "spearman_per_sample"]
