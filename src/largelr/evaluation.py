"""Every per-run metric of SPEC §5 for one trained run (the ``evaluate`` rule's work).

* unbiased test accuracy on the full unbiased test split, and worst-group accuracy (min over
  the (y, b) groups; the paper's metric for CelebA and Waterbirds, §4.1);
* κ-prunability (§3.2): structured L2-magnitude pruning of ⌈κ·units⌉ units in every hidden
  layer (``torch.nn.utils.prune.ln_structured``), retention(κ) = Acc(f^(κ)) / Acc(f), and its
  mean over the κ grid;
* on the penultimate post-activations of ``repr_samples`` unbiased-test samples (suppl. C):
  (2, 0.1)-compressibility and sparsity (§3.2), the PQ-index (Diao et al. 2023, Fig 25),
  class separation R² (§3.3), CSI with class labels and BSI with bias labels (§3.3).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from largelr import metrics
from largelr.columns import METRIC_NAMES
from largelr.datasets import SpuriousDataset, load_dataset
from largelr.io import atomic_write_json, read_json
from largelr.models import SpuriousModel
from largelr.pruning import pruning_curve
from largelr.runs import load_trained_model, resolve_device, to_tensor_split
from largelr.training import DIVERGED, TensorSplit, evaluate_accuracy



@torch.no_grad()
def predictions(model: SpuriousModel, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Arg-max class of every sample, on the CPU."""
    model.eval()
    return torch.cat([model(x[i:i + batch_size]).argmax(dim=1).cpu() for i in range(0, len(x), batch_size)])


@torch.no_grad()
def penultimate_representation(model: SpuriousModel, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Penultimate post-activations (the input of the final linear layer), on CPU."""
    model.eval()
    return torch.cat([model.features(x[i : i + batch_size]).cpu() for i in range(0, len(x), batch_size)])


def representation_sample_indices(n_total: int, n: int, seed: int) -> torch.Tensor:
    """Indices of the same ``n`` unbiased-test samples for every run of a preset (suppl. C: 1000)."""
    if n >= n_total:
        return torch.arange(n_total)
    return torch.randperm(n_total, generator=torch.Generator().manual_seed(seed))[:n]


def representation_sample(split: TensorSplit, n: int, seed: int) -> TensorSplit:
    """The :func:`representation_sample_indices` subset of ``split``."""
    idx = representation_sample_indices(len(split), n, seed).to(split.y.device)
    return TensorSplit(split.x[idx], split.y[idx], split.b[idx])


def evaluate_model(model: SpuriousModel, test: TensorSplit, analysis: dict[str, Any]) -> dict[str, Any]:
    """All metrics of one model on the unbiased test split; see the module docstring."""
    kappas = analysis["prune_kappas"]
    accuracies = pruning_curve(model, test, kappas, "structured")
    base_accuracy = evaluate_accuracy(model, test)
    predicted = predictions(model, test.x)
    retentions = metrics.retention_curve(accuracies, base_accuracy)
    sample = representation_sample(test, analysis["repr_samples"], analysis["repr_seed"])
    z = penultimate_representation(model, sample.x)
    y, b = sample.y.cpu(), sample.b.cpu()
    return {
        "test_acc": base_accuracy,
        "worst_group_acc": metrics.worst_group_accuracy(predicted, test.y.cpu(), test.b.cpu()),
        "prunability": metrics.prunability(retentions),
        "act_compressibility": metrics.mean_qk_compressibility(z, analysis["compress_kappa"], analysis["compress_q"]),
        "act_sparsity": metrics.sparsity(z),
        "act_pq_index": float(np.mean([metrics.pq_index(row) for row in z])),
        "class_sep": metrics.class_separation_r2(z, y),
        "csi": metrics.mean_class_selectivity(z, y),
        "bsi": metrics.mean_class_selectivity(z, b),
        "prune_kappas": list(kappas),
        "prune_retention": retentions,
    }


def evaluate_run(
    dataset_path: str | Path, run_dir: str | Path, output_path: str | Path, analysis: dict[str, Any], device: str = "auto"
) -> dict[str, Any]:
    """Write the metrics of a finished run folder to ``output_path`` (JSON).

    A diverged run gets ``null`` metrics and keeps its status, so the DAG goes on.
    """
    run_dir = Path(run_dir)
    record = read_json(run_dir / "run.json")
    result: dict[str, Any] = {"status": record["status"]}
    if record["status"] == DIVERGED:
        result.update({name: math.nan for name in METRIC_NAMES})
    else:
        torch_device = resolve_device(device)
        dataset: SpuriousDataset = load_dataset(dataset_path)
        model = load_trained_model(run_dir, dataset, torch_device)
        result.update(evaluate_model(model, to_tensor_split(dataset, "test", torch_device), analysis))
    atomic_write_json(output_path, result)
    return result
