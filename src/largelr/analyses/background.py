"""Background attribution % of one trained run (the ``background_attribution`` rule; §5, Fig 10).

The test images whose attributions the ``attribute`` rule stored (``attribution_maps.npz``)
are segmented by DeepLabV3 (:mod:`largelr.analyses.segmentation`, weights from the local file named
by ``analysis.segmenter.weights_path``); the share of Σ|attribution| that falls on the
segmenter's background class is averaged over the samples (§5, "background attribution
percentage"). Without a weights file the job fails with a message saying which file to put where; it
never falls back to random weights.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from largelr.analyses.attribution import background_share
from largelr.analyses.batch import analyse_each
from largelr.datasets import SpuriousDataset, load_dataset
from largelr.io import atomic_write_json
from largelr.analyses.segmentation import background_masks, load_segmenter


def background_run(dataset_path: str | Path, maps_path: str | Path, json_path: str | Path,
                   segmenter: dict[str, Any], allow_random: bool = False, dataset: SpuriousDataset | None = None,
                   model: torch.nn.Module | None = None) -> dict[str, Any]:
    """Mean background share of the run's attribution maps; ``null`` when it has none (diverged).

    ``segmenter``: ``{"backend": "torchvision"|"smp", "weights_path": str|None, "size": int}``.
    ``allow_random`` is for plumbing tests only (random-weight masks mean nothing). ``dataset`` and
    ``model`` (the segmenter): already loaded, as by a job of several runs (:mod:`largelr.analyses.batch`).
    """
    with np.load(maps_path) as data:
        indices, maps = data["indices"], data["maps"].astype(np.float32)
    result: dict[str, Any] = {"backend": segmenter["backend"], "samples": int(len(indices)),
                              "background_attribution": None, "background_pixels": None}
    if model is None:
        model = load_segmenter(segmenter["backend"], segmenter.get("weights_path"), allow_random=allow_random)
    if len(indices):
        images = (dataset if dataset is not None else load_dataset(dataset_path)).test
        if images.x.ndim != 4:
            raise ValueError(f"{dataset_path}: background attribution needs images (N×C×H×W), "
                             f"got samples of shape {images.x.shape[1:]}")
        x = torch.from_numpy(images.as_float()[indices])
        masks = background_masks(model, x, size=int(segmenter.get("size", 224))).numpy()
        result["background_attribution"] = float(np.nanmean(background_share(maps, masks)))
        result["background_pixels"] = float(masks.mean())
    atomic_write_json(json_path, result)
    return result


def background_runs(dataset_path: str | Path, maps_paths: Sequence[str | Path], output_dirs: Sequence[str | Path],
                    segmenter: dict[str, Any], allow_random: bool = False,
                    log: logging.Logger | None = None) -> list[dict[str, str]]:
    """:func:`background_run` for the attribution maps of each run of one training job, the dataset
    read and the segmenter loaded once (rule ``background_attribution``; :mod:`largelr.analyses.batch`)."""
    dataset = load_dataset(dataset_path)
    model = load_segmenter(segmenter["backend"], segmenter.get("weights_path"), allow_random=allow_random)

    def one(maps_path: Path, folder: Path) -> str:
        result = background_run(dataset_path, maps_path, folder / "background.json", segmenter, allow_random, dataset,
                                model)
        return f"background share {result['background_attribution']}"

    return analyse_each("background attribution", maps_paths, output_dirs, one, log)
