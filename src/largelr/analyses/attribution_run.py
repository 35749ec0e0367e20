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
from largelr.datasets import load_dataset
from largelr.analyses.evaluation import representation_sample_indices
from largelr.io import atomic_write_json, atomic_write_npz, read_json
from largelr.training.runs import load_trained_model, resolve_device, to_tensor_split
from largelr.training.loop import DIVERGED


def attribute_run(dataset_path: str | Path, run_dir: str | Path, json_path: str | Path, maps_path: str | Path,
                  analysis: dict[str, Any], device: str = "auto") -> dict[str, Any]:
    """Attribution statistics of one run; a diverged run gets ``null`` statistics."""
    record = read_json(Path(run_dir) / "run.json")
    method = analysis["attribution_method"]
    result: dict[str, Any] = {"status": record["status"], "method": method}
    indices = np.zeros(0, dtype=np.int64)
    maps = np.zeros((0,), dtype=np.float16)
    labels = predictions = np.zeros(0, dtype=np.int64)
    if record["status"] != DIVERGED:
        torch_device = resolve_device(device)
        dataset = load_dataset(dataset_path)
        model = load_trained_model(run_dir, dataset, torch_device)
        test = to_tensor_split(dataset, "test", torch_device)
        indices = representation_sample_indices(len(test), analysis["attribution_samples"], analysis["repr_seed"]).numpy()
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
