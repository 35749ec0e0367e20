"""Input attributions of one trained run (the ``attribute`` rule's work; §3.3, suppl. E).

On ``attribution_samples`` unbiased-test samples (the same ones for every run of a preset)
this computes Integrated Gradients (zero baseline, target = true class) or DeepLift, and
writes

* ``attribution.json`` — mean share of |attribution| on the core / spurious / noise regions
  of the dataset's masks (Figs 3, 26) and the mean attribution entropy (§5);
* ``attribution_maps.npz`` — the per-sample maps (|attr| summed over channels, float16) with
  the test indices, labels and predictions, for galleries and hard-sample selection.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from largelr.analyses.attribution import attribution_entropy, attribution_map, attributions, mean_region_shares
from largelr.analyses.evaluation import representation_sample_indices
from largelr.io import atomic_write_json, atomic_write_npz
from largelr.training.runs import open_trained_run


def attribute_run(dataset_path: str | Path, run_dir: str | Path, json_path: str | Path, maps_path: str | Path,
                  analysis: dict[str, Any], device: str = "auto") -> dict[str, Any]:
    """Attribution statistics of one run; a diverged run gets ``null`` statistics."""
    run = open_trained_run(dataset_path, run_dir, device)
    method = analysis["attribution_method"]
    result: dict[str, Any] = {"status": run.status, "method": method}
    indices = np.zeros(0, dtype=np.int64)
    maps = np.zeros((0,), dtype=np.float16)
    labels = predictions = np.zeros(0, dtype=np.int64)
    if not run.diverged:
        model, test, dataset, torch_device = run.model, run.test, run.dataset, run.device
        indices = representation_sample_indices(len(test), analysis["attribution_samples"],
                                                analysis["repr_seed"]).numpy()
        x, y = test.x[torch.from_numpy(indices).to(torch_device)], test.y[torch.from_numpy(indices).to(torch_device)]
        attr = attributions(model, x, y, method=method, n_steps=analysis["ig_steps"], internal_batch_size=1000)
        attr_maps = attribution_map(attr).detach().cpu()
        region = dataset.test.region[indices]
        result.update({f"{name}_attribution": share for name, share in mean_region_shares(attr_maps, region).items()})
        result["attribution_entropy"] = float(np.nanmean(attribution_entropy(attr_maps)))
        with torch.no_grad():
            predictions = model(x).argmax(dim=1).cpu().numpy()
        maps, labels = attr_maps.numpy().astype(np.float16), y.cpu().numpy()
    atomic_write_npz(maps_path, {"indices": indices, "maps": maps, "y": labels, "predictions": predictions})
    result["samples"] = int(len(indices))
    atomic_write_json(json_path, result)
    return result
