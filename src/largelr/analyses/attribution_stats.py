"""Statistics on attribution maps, torch-free so plotting jobs can use them (§3.3, §5, suppl. E).

* :func:`region_shares` / :func:`mean_region_shares` — share of Σ|attr| inside the core /
  spurious / noise region masks of the datasets (Figs 3, 26; suppl. E.1 "what percentage of
  models' attribution is on the spurious vs. core feature"); :func:`regions_separate_core_and_spurious`
  says whether the masks make that share meaningful, :func:`region_attribution_record` is a run's record.
* :func:`attribution_entropy` — Shannon entropy of the normalised map (§5, Fig 10).
* :func:`background_share` — Σ|attr| on segmenter background pixels / Σ|attr| (§5, Fig 10;
  masks from :func:`largelr.analyses.segmentation.background_masks`).
* :func:`hard_samples` — the test samples shown in Figs 8, 33, 34 (suppl. E.1).
* :func:`aggregate_over_seeds` — per-seed normalised maps averaged over seeds (§3.3: IG "over
  10 random seeds").

Per-sample float64 numpy results; inputs may be numpy arrays or torch tensors (converted
through ``.detach().cpu().numpy()`` without importing torch). See :mod:`largelr.analyses.attribution`
for the attributions themselves and the conventions (|map| everywhere, zero maps → ``nan``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from largelr.datasets.format import CORE, REGION_NAMES, SPURIOUS

# Why a run gets no core / spurious share (attribution.json and runs.csv ``notes``).
NO_SEPARATE_REGIONS_NOTE = ("core/spurious attribution %: undefined, the region masks do not separate core from "
                            "spurious pixels (the spurious feature lies on the core pixels or covers the image)")


def regions_separate_core_and_spurious(region: Any) -> bool:
    """Whether region masks mark some pixels CORE and others SPURIOUS (suppl. E.1's core vs. spurious
    attribution % means something only then).

    False for Colored MNIST (the colour lies on the digit's own pixels: no SPURIOUS pixel),
    Corrupted CIFAR-10, CIFAR, CelebA, Waterbirds, ImageNet (every pixel CORE); true for parity,
    moon-star, Double MNIST and MNIST-CIFAR.
    """
    codes = np.unique(np.asarray(region.detach().cpu().numpy() if hasattr(region, "detach") else region))
    return bool(CORE in codes and SPURIOUS in codes)


def _np64(a: Any) -> np.ndarray:
    if hasattr(a, "detach"):  # a torch tensor
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=np.float64)


def _per_sample(attr_map: Any) -> np.ndarray:
    """|map| as an N×P float64 matrix."""
    m = np.abs(_np64(attr_map))
    if m.ndim < 2:
        raise ValueError(f"attribution map must be batched (N×...), got shape {m.shape}")
    return m.reshape(len(m), -1)


def _same_shape(attr_map: Any, mask: Any, what: str) -> np.ndarray:
    mask = mask.detach().cpu().numpy() if hasattr(mask, "detach") else np.asarray(mask)
    if tuple(mask.shape) != tuple(attr_map.shape):
        raise ValueError(
            f"{what} shape {tuple(mask.shape)} differs from the attribution map's {tuple(attr_map.shape)} "
            "(pass attribution_map(attr) for images: N×H×W)"
        )
    return mask.reshape(len(mask), -1)


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def region_shares(attr_map: Any, region: Any) -> dict[str, np.ndarray]:
    """Per-sample share of Σ|attr| inside each region (suppl. E.1, Figs 3 and 26).

    ``region`` is the dataset's region mask (codes CORE=0, SPURIOUS=1, NOISE=2; same shape as
    ``attr_map``: N×H×W or N×D). Returns ``{"core": …, "spurious": …, "noise": …}``, each of
    length N; the three shares of a sample sum to 1 (pixels with another code count towards the
    total only). Samples with zero total attribution → ``nan``.
    """
    m = _per_sample(attr_map)
    r = _same_shape(attr_map, region, "region mask")
    total = m.sum(axis=1)
    return {name: _safe_ratio((m * (r == code)).sum(axis=1), total) for code, name in REGION_NAMES.items()}


def mean_region_shares(attr_map: Any, region: Any) -> dict[str, float]:
    """:func:`region_shares` averaged over samples (``nanmean``: zero-attribution samples skipped)."""
    out = {}
    for name, shares in region_shares(attr_map, region).items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-nan → nan
            out[name] = float(np.nanmean(shares)) if len(shares) else float("nan")
    return out


def region_attribution_record(attr_map: Any, region: Any, separates: bool) -> dict[str, Any]:
    """attribution.json's region shares (``core_attribution`` …, :func:`mean_region_shares`).

    ``separates``: :func:`regions_separate_core_and_spurious` of the dataset's masks. Where they
    do not, the core and spurious shares are NaN (a share of the digit's pixels on Colored MNIST
    is not a share of the shape "vs." the colour) and ``notes`` says why; the noise share stays.
    """
    shares = {f"{name}_attribution": share for name, share in mean_region_shares(attr_map, region).items()}
    if separates:
        return shares
    return {**shares, "core_attribution": float("nan"), "spurious_attribution": float("nan"),
            "notes": NO_SEPARATE_REGIONS_NOTE}


def attribution_entropy(attr_map: Any) -> np.ndarray:
    """Per-sample Shannon entropy (natural log) of the normalised |attr| map (§5, Fig 10).

    p = |a| / Σ|a| over all pixels (features) of the sample, H = −Σ p log p with 0 log 0 = 0:
    0 for a map concentrated on one pixel, log(#pixels) for a uniform map; ``nan`` for an
    all-zero map.
    """
    m = _per_sample(attr_map)
    total = m.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = m / np.where(total > 0, total, 1.0)
        plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    h = -plogp.sum(axis=1)
    return np.where(total[:, 0] > 0, np.maximum(h, 0.0), np.nan)


def background_share(attr_map: Any, background_mask: Any) -> np.ndarray:
    """Per-sample Σ|attr| on background pixels / Σ|attr| (§5, Fig 10 "background attribution %").

    ``background_mask`` (bool, N×H×W like the map) comes from
    :func:`largelr.analyses.segmentation.background_masks`. A mask covering every pixel gives 1.0 (100 %),
    an empty one 0; samples with zero total attribution → ``nan``.
    """
    m = _per_sample(attr_map)
    bg = _same_shape(attr_map, background_mask, "background mask").astype(bool)
    return _safe_ratio((m * bg).sum(axis=1), m.sum(axis=1))


def hard_samples(
    correct_high: np.ndarray, correct_low: np.ndarray, high: float = 0.75, low: float = 0.25
) -> np.ndarray:
    """Indices of the test samples shown in the attribution figures (suppl. E.1; Figs 8, 33, 34).

    ``correct_high`` / ``correct_low``: seeds×N boolean matrices (sample i predicted correctly by
    seed s of the high- / low-LR model; a 1-D array is one seed). A sample is selected when it is
    correct for **more than** ``high`` of the high-LR seeds and **fewer than** ``low`` of the
    low-LR seeds (strict inequalities, as the paper's "> .75" and "< .25"). Returns sorted int64
    indices.
    """
    ch = np.atleast_2d(np.asarray(correct_high, dtype=bool))
    cl = np.atleast_2d(np.asarray(correct_low, dtype=bool))
    if ch.ndim != 2 or cl.ndim != 2 or ch.shape[1] != cl.shape[1]:
        raise ValueError(
            f"correctness matrices must be seeds×N with the same N, got {ch.shape} and {cl.shape}"
        )
    if ch.shape[0] == 0 or cl.shape[0] == 0:
        raise ValueError("correctness matrices need at least one seed")
    selected = (ch.mean(axis=0) > high) & (cl.mean(axis=0) < low)
    return np.flatnonzero(selected).astype(np.int64)


def aggregate_over_seeds(maps: Sequence[Any]) -> np.ndarray:
    """Mean over seeds of per-seed normalised attribution maps (§3.3: IG over 10 seeds).

    Each element of ``maps`` is one seed's N×… map of the same samples; each sample's |map| is
    normalised to sum 1 before averaging, so every seed weighs equally regardless of its logit
    scale (high-LR models have much larger logits, §6). A sample whose map is all zero for one
    seed is left out of that sample's average (``nanmean``); all-zero for every seed → ``nan``.
    The result (float64, shape of one map) sums to 1 per sample.
    """
    if len(maps) == 0:
        raise ValueError("aggregate_over_seeds needs at least one map")
    arrays = [np.abs(_np64(m)) for m in maps]
    shape = arrays[0].shape
    if any(a.shape != shape for a in arrays):
        raise ValueError(f"all seeds' maps must have the same shape, got {[a.shape for a in arrays]}")
    if len(shape) < 2:
        raise ValueError(f"maps must be batched (N×...), got shape {shape}")
    stacked = np.stack([a.reshape(shape[0], -1) for a in arrays])  # seeds × N × P
    total = stacked.sum(axis=2, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        normalised = np.where(total > 0, stacked / np.where(total > 0, total, 1.0), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-nan slices → nan
        mean = np.nanmean(normalised, axis=0)
    return mean.reshape(shape)
