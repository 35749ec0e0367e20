"""Every metrics.json metric for one trained run (the ``evaluate`` rule's work, for every run of
a training job in one process: :func:`evaluate_runs`; §3.2, §3.3, §4.1).

Each metric's formula and inputs are declared in :mod:`largelr.metric_registry`; this module
computes the inputs once per run (:func:`metric_inputs`) and applies every formula:

* unbiased test accuracy on the full unbiased test split, and worst-group accuracy (min over
  the (y, b) groups; the paper's metric for CelebA and Waterbirds, §4.1);
* κ-prunability (§3.2): retention(κ) = Acc(f^(κ)) / Acc(f) and its mean over the κ grid, the
  removed units chosen by each ranking of ``analysis.prune_rankings``
  (:data:`largelr.analyses.pruning.PRUNE_RANKINGS`; default ``weight_norm`` = structured L2-magnitude
  pruning of ⌈κ·units⌉ units in every hidden layer): ``prunability`` / ``prune_retention`` are
  the first ranking's, ``prunability_<name>`` / ``prune_retention_<name>`` every listed one's;
  ``activation`` scores units on ``repr_samples`` training samples (``repr_seed``);
  ``analysis.prune_normalisations`` picks the readings of the same curve: ``retention`` (the
  mean ratio above, columns ``prunability*``) and ``accuracy`` (the mean of Acc(f^(κ)) itself,
  columns ``pruned_accuracy`` / ``pruned_accuracy_<name>``; parity's Table 1 row fits only it);
* on the penultimate post-activations of ``repr_samples`` unbiased-test samples (suppl. C):
  (2, 0.1)-compressibility and sparsity (§3.2), the PQ-index (Diao et al. 2023, Fig 25),
  class separation R² (§3.3), CSI with class labels and BSI with bias labels (§3.3), each
  averaged over all neurons (``csi`` / ``bsi``: a dead neuron counts as 0) and over the live
  neurons only (``csi_live`` / ``bsi_live``: active on at least one sample), the two readings of
  "we average over neurons' class sensitivities".
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from largelr.analyses import metrics
from largelr.columns import (
    DEFAULT_PRUNE_NORMALISATIONS, DEFAULT_PRUNE_RANKINGS, prunability_column, pruned_accuracy_column,
)
from largelr.metric_registry import BY_NAME, METRIC_NAMES, Metric
from largelr.datasets import SpuriousDataset, load_dataset
from largelr.io import atomic_write_json
from largelr.training.models import SpuriousModel
from largelr.analyses.pruning import ranked_pruning_curve
from largelr.training.runs import open_trained_run
from largelr.training.protocol import TensorSplit
from largelr.training.single import evaluate_accuracy



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


def prune_rankings(analysis: dict[str, Any]) -> list[str]:
    """``analysis.prune_rankings`` (§3.2 readings of "prune κ of the nodes"), default ``[weight_norm]``."""
    return list(analysis.get("prune_rankings", DEFAULT_PRUNE_RANKINGS))


def prune_normalisations(analysis: dict[str, Any]) -> list[str]:
    """``analysis.prune_normalisations`` (§3.2 readings of the curve), default ``[retention, accuracy]``."""
    return list(analysis.get("prune_normalisations", DEFAULT_PRUNE_NORMALISATIONS))


def curve_summaries(accuracies: list[float], base_accuracy: float, name: str, normalisations: list[str]
                    ) -> dict[str, Any]:
    """The §3.2 summaries of one ranking's pruning curve, one per listed normalisation (no new pass)."""
    retentions = metrics.retention_curve(accuracies, base_accuracy)
    result: dict[str, Any] = {f"prune_retention_{name}": retentions}
    if "retention" in normalisations:
        result[prunability_column(name)] = metrics.prunability(retentions)
    if "accuracy" in normalisations:
        result[pruned_accuracy_column(name)] = metrics.pruned_accuracy(accuracies)
    return result


def prunability_metrics(model: SpuriousModel, test: TensorSplit, analysis: dict[str, Any], base_accuracy: float,
                        train_x: torch.Tensor | None = None) -> dict[str, Any]:
    """§3.2 prunability and retention curve per ranking; the unsuffixed keys are the first ranking's."""
    result: dict[str, Any] = {}
    normalisations = prune_normalisations(analysis)
    for i, name in enumerate(prune_rankings(analysis)):
        accuracies = ranked_pruning_curve(model, test, analysis["prune_kappas"], name, train_x)
        summaries = curve_summaries(accuracies, base_accuracy, name, normalisations)
        result.update(summaries)
        if i == 0:
            result["prune_retention"] = summaries[f"prune_retention_{name}"]
            for plain, column in (("prunability", prunability_column(name)),
                                  ("pruned_accuracy", pruned_accuracy_column(name))):
                if column in summaries:
                    result[plain] = summaries[column]
    return result


def metric_inputs(model: SpuriousModel, test: TensorSplit, analysis: dict[str, Any],
                  train_x: torch.Tensor | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The :data:`largelr.metric_registry.EVALUATION_INPUTS` of one model on the unbiased test split,
    and the pruning curves' other summaries (retention curves, per-ranking columns; §3.2)."""
    base_accuracy = evaluate_accuracy(model, test)
    predicted = predictions(model, test.x)
    pruning = prunability_metrics(model, test, analysis, base_accuracy, train_x)
    sample = representation_sample(test, analysis["repr_samples"], analysis["repr_seed"])
    inputs = {
        "base_accuracy": base_accuracy, "predicted": predicted, "test_y": test.y.cpu(), "test_b": test.b.cpu(),
        "prunability": pruning.pop("prunability", math.nan),
        "pruned_accuracy": pruning.pop("pruned_accuracy", math.nan),
        "z": penultimate_representation(model, sample.x), "y": sample.y.cpu(), "b": sample.b.cpu(),
        "compress_kappa": analysis["compress_kappa"], "compress_q": analysis["compress_q"],
    }
    return inputs, pruning


def metric_value(metric: Metric, inputs: dict[str, Any]) -> Any:
    """``metric``'s formula of :mod:`largelr.analyses.metrics` on the inputs it names (the input itself
    when it has no formula)."""
    arguments = [inputs[name] for name in metric.on]
    return getattr(metrics, metric.formula)(*arguments) if metric.formula else arguments[0]


def evaluate_model(model: SpuriousModel, test: TensorSplit, analysis: dict[str, Any],
                   train_x: torch.Tensor | None = None) -> dict[str, Any]:
    """All metrics of one model on the unbiased test split; see the module docstring.

    One value per metrics.json metric of :mod:`largelr.metric_registry` (in :data:`METRIC_NAMES`
    order), then the κ grid, retention curves and per-ranking columns of the pruning pass.
    ``train_x``: training inputs the ``activation`` ranking scores units on (§3.2 reading).
    """
    inputs, pruning = metric_inputs(model, test, analysis, train_x)
    return {
        **{name: metric_value(BY_NAME[name], inputs) for name in METRIC_NAMES},
        "prune_kappas": list(analysis["prune_kappas"]),
        "prune_retention": pruning.pop("prune_retention"),
        **pruning,
    }


def training_inputs(dataset: SpuriousDataset, n: int, seed: int, device: torch.device) -> torch.Tensor:
    """``n`` training inputs (the :func:`representation_sample_indices` draw) for the ``activation`` ranking."""
    train = dataset.split("train")
    idx = representation_sample_indices(len(train), n, seed).numpy()
    x = train.x[np.sort(idx)]
    return torch.from_numpy(x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)).to(device)


def evaluate_run(
    dataset_path: str | Path, run_dir: str | Path, output_path: str | Path, analysis: dict[str, Any],
    device: str = "auto", dataset: SpuriousDataset | None = None,
) -> dict[str, Any]:
    """Write the metrics of a finished run folder to ``output_path`` (JSON); ``dataset``: the file
    at ``dataset_path``, if already loaded.

    A diverged run gets ``null`` metrics and keeps its status, so the DAG goes on.
    """
    run = open_trained_run(dataset_path, run_dir, device, dataset)
    result: dict[str, Any] = {"status": run.status}
    if run.diverged:
        result.update({name: math.nan for name in METRIC_NAMES})
        for name in prune_rankings(analysis):  # the same columns as a finished run, empty
            columns = curve_summaries([0.0], 1.0, name, prune_normalisations(analysis))
            result.update({column: math.nan for column in columns if not column.startswith("prune_retention")})
    else:
        model = run.model
        train_x = training_inputs(run.dataset, analysis["repr_samples"], analysis["repr_seed"], run.device)
        result.update(evaluate_model(model, run.test, analysis, train_x))
    atomic_write_json(output_path, result)
    return result


def evaluate_runs(
    dataset_path: str | Path, run_dirs: list[Path], output_paths: list[Path], analysis: dict[str, Any],
    device: str = "auto", log: logging.Logger | None = None,
) -> list[dict[str, Any]]:
    """:func:`evaluate_run` for each run folder of one training job (one output per folder), in
    order, with a progress line per run; the dataset file is read once. Returns {cell folder,
    status} per run."""
    log = log or logging.getLogger(__name__)
    start, records, dataset = time.monotonic(), [], load_dataset(dataset_path)
    for k, (run_dir, output_path) in enumerate(zip(run_dirs, output_paths, strict=True), start=1):
        status = evaluate_run(dataset_path, run_dir, output_path, analysis, device, dataset)["status"]
        records.append({"run": str(run_dir), "status": status})
        elapsed = time.monotonic() - start
        log.info("evaluated %d of %d runs (%s: %s), %.1f s per run", k, len(run_dirs), run_dir, status,
                 elapsed / k)
    return records
