"""Background attribution % of one trained run (the ``background_attribution`` rule; §5, Fig 10).

The test images whose attributions the ``attribute`` rule stored (``attribution_maps.npz``)
are segmented by DeepLabV3 (:mod:`largelr.analyses.segmentation`, weights from the local file named
by ``analysis.segmenter.weights_path``); the share of Σ|attribution| that falls on the
segmenter's background class is averaged over the samples (§5, "background attribution
percentage"). Without a weights file the job fails with a message saying which file to put where; it
never falls back to random weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from largelr.analyses.attribution import background_share
from largelr.datasets import load_dataset
from largelr.io import atomic_write_json
from largelr.analyses.segmentation import background_masks, load_segmenter


def background_run(dataset_path: str | Path, maps_path: str | Path, json_path: str | Path,
                   segmenter: dict[str, Any], allow_random: bool = False) -> dict[str, Any]:
    """Mean background share of the run's attribution maps; ``null`` when it has none (diverged).

    ``segmenter``: ``{"backend": "torchvision"|"smp", "weights_path": str|None, "size": int}``.
    ``allow_random`` is for plumbing tests only (random-weight masks mean nothing).
    """
    with np.load(maps_path) as data:
        indices, maps = data["indices"], data["maps"].astype(np.float32)
    result: dict[str, Any] = {"backend": segmenter["backend"], "samples": int(len(indices)),
                              "background_attribution": None, "background_pixels": None}
    model = load_segmenter(segmenter["backend"], segmenter.get("weights_path"), allow_random=allow_random)
    if len(indices):
        images = load_dataset(dataset_path).test
        if images.x.ndim != 4:
            raise ValueError(f"{dataset_path}: background attribution needs images (N×C×H×W), "
                             f"got samples of shape {images.x.shape[1:]}")
        x = torch.from_numpy(images.as_float()[indices])
        masks = background_masks(model, x, size=int(segmenter.get("size", 224))).numpy()
        result["background_attribution"] = float(np.nanmean(background_share(maps, masks)))
        result["background_pixels"] = float(masks.mean())
    atomic_write_json(json_path, result)
    return result
