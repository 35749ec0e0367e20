"""Pruning curves and parameter compressibility of one trained run (the ``prune`` rule's work).

For every κ of ``analysis.prune_kappas`` the unbiased test accuracy after structured
node/kernel pruning (§3.2), column pruning (Fig 20) and unstructured global magnitude
pruning (Fig 21), with retention = Acc(f^(κ)) / Acc(f); plus (q, κ)-compressibility and the
PQ-index of the parameters (Fig 25). Written as one JSON file per run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from largelr.io import atomic_write_json
from largelr.analyses.metrics import retention_curve
from largelr.analyses.pruning import parameter_compressibility, pruning_curve
from largelr.training.runs import open_trained_run
from largelr.training.loop import evaluate_accuracy

PRUNING_METHODS = ("structured", "column", "global")


def prune_run(dataset_path: str | Path, run_dir: str | Path, output_path: str | Path, analysis: dict[str, Any],
              device: str = "auto") -> dict[str, Any]:
    """Write the pruning curves of a finished run; a diverged run gets only its status."""
    run = open_trained_run(dataset_path, run_dir, device)
    result: dict[str, Any] = {"status": run.status, "kappas": list(analysis["prune_kappas"])}
    if not run.diverged:
        model, test = run.model, run.test
        base = evaluate_accuracy(model, test)
        result["base_accuracy"] = base
        for method in PRUNING_METHODS:
            accuracies = pruning_curve(model, test, analysis["prune_kappas"], method)
            result[method] = {"accuracy": accuracies, "retention": retention_curve(accuracies, base)}
        compressibility = parameter_compressibility(model, analysis["compress_kappa"], analysis["compress_q"])
        result["parameters"] = {k: v for k, v in compressibility.items() if k != "layers"}
        result["parameter_layers"] = compressibility["layers"]
    atomic_write_json(output_path, result)
    return result
