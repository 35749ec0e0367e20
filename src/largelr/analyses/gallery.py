"""Hard-sample attribution galleries of low- vs high-LR models (paper Figs 1, 8, 29–34; suppl. E.1).

Suppl. E.1 ("Creation of attribution maps for CIFAR datasets"): models are trained with a low
and a high LR over several seeds; the test samples shown are those **correctly predicted by
more than 75 % of the high-LR seeds and fewer than 25 % of the low-LR seeds**; each figure
shows the original images (top row) and the attributions of the low-LR (middle) and high-LR
(bottom) models.

:func:`select_gallery` works on one group of runs — one dataset × model × recipe, every
LR and seed of the plain (``intervention = "none"``) cells — from the per-run ``attribution_maps.npz``
files of the ``attribute`` rule (:mod:`largelr.analyses.attribution`; every run of a preset
attributes the same test indices):

* diverged runs are dropped; the **low LR** is the smallest and the **high LR** the largest
  LR among ``kept_lrs`` (the LRs kept by the §4.2 filter, :mod:`largelr.reporting.lr_filter`;
  ``None`` → every LR present);
* correctness of seed s on sample i is ``predictions == y`` of that seed's maps file;
  the strict criterion is :func:`largelr.analyses.attribution.hard_samples`;
* **fallback** (documented deviation): when fewer than ``n_samples`` samples meet the strict
  criterion — common at demo scale, where 2 seeds make the fractions 0, ½ or 1 — the gallery
  is filled up with the remaining samples ranked by ``frac_correct_high − frac_correct_low``
  (descending; ties by test index). Strict hard samples always come first (ranked the same
  way), and the ``is_hard`` array records which chosen samples met the strict criterion;
* the maps shown are the per-seed normalised maps averaged over the seeds of each LR
  (:func:`largelr.analyses.attribution.aggregate_over_seeds`; each sums to 1), together with their
  core / spurious / noise shares (:func:`largelr.analyses.attribution.region_shares`).

When no usable run is left (everything diverged or filtered out) the gallery is empty (zero
samples) with ``nan`` LRs; with a single usable LR the low and high LR coincide.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from largelr.analyses.attribution import aggregate_over_seeds, hard_samples, region_shares
from largelr.datasets import load_dataset
from largelr.io import atomic_path, atomic_write_npz, read_json
from largelr.training.protocol import DIVERGED

SHARE_REGIONS = ("core", "spurious", "noise")
# one value per chosen sample, in the CSV's column order after "rank"
PER_SAMPLE_COLUMNS = (
    "indices", "y", "b", "is_hard", "frac_correct_low", "frac_correct_high",
    *(f"{r}_share_{lr}" for lr in ("low", "high") for r in SHARE_REGIONS),
)
SCALAR_KEYS = ("low_lr", "high_lr", "n_seeds_low", "n_seeds_high")


def kept_learning_rates(decisions: pd.DataFrame, cell: dict[str, Any],
                        intervention: str = "none") -> list[float] | None:
    """LRs of ``cell``'s (dataset, model, recipe) kept by the §4.2 filter (``lr_filter`` CSV rows).

    ``None`` when the CSV has no row of that group (nothing to restrict); an empty list when
    every LR of the group was dropped.
    """
    rows = decisions[
        (decisions["dataset"] == cell["dataset"]) & (decisions["model"] == cell["model"])
        & (decisions["recipe"] == cell["recipe"]) & (decisions["intervention"].astype(str) == intervention)
    ]
    if rows.empty:
        return None
    kept = rows["kept"].astype(str).str.lower() == "true"
    return sorted(float(lr) for lr in rows.loc[kept, "lr"])


def _load_maps(path: str | Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in ("indices", "maps", "y", "predictions")}


def _usable_runs(run_jsons: Sequence[str | Path], maps_files: Sequence[str | Path],
                 kept_lrs: Sequence[float] | None) -> dict[float, list[dict[str, np.ndarray]]]:
    """Maps files of the non-diverged runs whose LR is kept, grouped by LR."""
    by_lr: dict[float, list[dict[str, np.ndarray]]] = {}
    for run_json, maps_file in zip(run_jsons, maps_files, strict=True):
        record = read_json(run_json)
        lr = float(record["cell"]["lr"])
        if record["status"] == DIVERGED:
            continue
        if kept_lrs is not None and not np.any(np.isclose(lr, np.asarray(kept_lrs, dtype=float), rtol=1e-9)):
            continue
        by_lr.setdefault(lr, []).append(_load_maps(maps_file))
    return by_lr


def rank_samples(frac_high: np.ndarray, frac_low: np.ndarray, strict: np.ndarray) -> np.ndarray:
    """Sample positions ordered for the gallery: strict hard samples first, then the rest;
    within each, by ``frac_high − frac_low`` descending, ties by position."""
    score = np.asarray(frac_high, float) - np.asarray(frac_low, float)
    order = np.lexsort((np.arange(len(score)), -score, ~np.asarray(strict, bool)))
    return order.astype(np.int64)


def _empty_gallery(dataset_x: np.ndarray, dataset_region: np.ndarray) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {
        "x": dataset_x[:0], "region": dataset_region[:0],
        "maps_low": np.zeros((0, *dataset_region.shape[1:])), "maps_high": np.zeros((0, *dataset_region.shape[1:])),
        "low_lr": np.array(np.nan), "high_lr": np.array(np.nan),
        "n_seeds_low": np.array(0), "n_seeds_high": np.array(0),
    }
    for key in PER_SAMPLE_COLUMNS:
        dtype = np.int64 if key in ("indices", "y", "b") else bool if key == "is_hard" else np.float64
        arrays[key] = np.zeros(0, dtype=dtype)
    return arrays


def select_gallery(run_jsons: Sequence[str | Path], maps_files: Sequence[str | Path], dataset_path: str | Path,
                   n_samples: int = 8, kept_lrs: Sequence[float] | None = None, high: float = 0.75,
                   low: float = 0.25) -> dict[str, np.ndarray]:
    """The ``n_samples`` gallery samples of one run group (module docstring) and their maps.

    Returns arrays keyed by: ``indices`` (test indices), ``x`` (original test samples, dtype of
    the dataset), ``y``, ``b``, ``region`` (region masks), ``maps_low`` / ``maps_high``
    (seed-aggregated maps, n×H×W or n×D, each summing to 1), ``frac_correct_low`` /
    ``frac_correct_high``, ``is_hard`` (bool), ``{core,spurious,noise}_share_{low,high}``, and
    the 0-d ``low_lr``, ``high_lr``, ``n_seeds_low``, ``n_seeds_high``.
    """
    dataset = load_dataset(dataset_path)
    by_lr = _usable_runs(run_jsons, maps_files, kept_lrs)
    if not by_lr:
        return _empty_gallery(dataset.test.x, dataset.test.region)
    low_lr, high_lr = min(by_lr), max(by_lr)
    indices = by_lr[low_lr][0]["indices"]
    for files in by_lr.values():
        if any(not np.array_equal(f["indices"], indices) for f in files):
            raise ValueError("attribution maps of one group must cover the same test indices")
    correct_low = np.stack([f["predictions"] == f["y"] for f in by_lr[low_lr]])
    correct_high = np.stack([f["predictions"] == f["y"] for f in by_lr[high_lr]])
    frac_low, frac_high = correct_low.mean(axis=0), correct_high.mean(axis=0)
    strict = np.zeros(len(indices), dtype=bool)
    strict[hard_samples(correct_high, correct_low, high=high, low=low)] = True
    chosen = rank_samples(frac_high, frac_low, strict)[:n_samples]

    test_index = indices[chosen].astype(np.int64)
    region = dataset.test.region[test_index]
    arrays: dict[str, np.ndarray] = {
        "indices": test_index, "x": dataset.test.x[test_index], "y": dataset.test.y[test_index].astype(np.int64),
        "b": dataset.test.b[test_index].astype(np.int64), "region": region, "is_hard": strict[chosen],
        "frac_correct_low": frac_low[chosen], "frac_correct_high": frac_high[chosen],
        "low_lr": np.array(low_lr), "high_lr": np.array(high_lr),
        "n_seeds_low": np.array(len(by_lr[low_lr])), "n_seeds_high": np.array(len(by_lr[high_lr])),
    }
    for which, lr in (("low", low_lr), ("high", high_lr)):
        maps = aggregate_over_seeds([f["maps"][chosen].astype(np.float64) for f in by_lr[lr]])
        arrays[f"maps_{which}"] = maps
        for name, share in region_shares(maps, region).items():
            arrays[f"{name}_share_{which}"] = share
    return arrays


def gallery_table(arrays: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per chosen sample: rank, the per-sample values and the group's LRs / seed counts."""
    table = pd.DataFrame({"rank": np.arange(len(arrays["indices"]))})
    for key in PER_SAMPLE_COLUMNS:
        table[key if key != "indices" else "index"] = arrays[key]
    for key in SCALAR_KEYS:
        table[key] = arrays[key].item()
    return table


def write_gallery(arrays: dict[str, np.ndarray], npz_path: str | Path, csv_path: str | Path) -> None:
    """Write the gallery arrays (compressed npz, no pickles) and the per-sample CSV atomically."""
    atomic_write_npz(npz_path, arrays)
    with atomic_path(csv_path) as tmp:
        gallery_table(arrays).to_csv(tmp, index=False)


__all__ = ["gallery_table", "kept_learning_rates", "rank_samples", "select_gallery", "write_gallery"]
